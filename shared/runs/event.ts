/**
 * A run event: one entry of a run's ordered, gapless progress log (`run_events`), the same payload
 * Realtime broadcasts on `run:<id>`. Clients that cannot hold a socket poll these by `seq`.
 *
 * @example
 * ```ts
 * const event = RunEvent.parse(rowToJson(row));
 * ```
 */
import { z } from "zod";
import { Count, Id, JsonObject, Timestamp } from "./scalars.ts";

/** A run event as the API shows it. */
export const RunEvent = z.object({
  run_id: Id,
  seq: Count.meta({ description: "Position in the run's log, from 1, without gaps." }),
  type: z.string().meta({ description: "e.g. 'run.status', 'task.status', 'run.completed'." }),
  payload: JsonObject,
  created_at: Timestamp,
}).meta({ id: "RunEvent" });
export type RunEvent = z.infer<typeof RunEvent>;
