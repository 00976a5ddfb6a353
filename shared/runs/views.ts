/**
 * What the API returns when it combines concepts: a run on its own, a run with its tasks, a page
 * of runs and a page of events. Defined as schemas so the responses are documented (OpenAPI) from
 * the same source as their types.
 *
 * @example
 * ```ts
 * const page: RunPage = { runs: [], next_cursor: null };
 * ```
 */
import { z } from "zod";
import { Run, RunSummary } from "./run.ts";
import { TaskWithAttempts } from "./task.ts";
import { RunEvent } from "./event.ts";
import { Count } from "./scalars.ts";
import { RecoveryDecisionRecord } from "../recovery/mod.ts";
import { GateRecord } from "../checkpoints/record.ts";

/** A single run (answer to create, cancel and answer). */
export const RunEnvelope = z.object({ run: Run }).meta({ id: "RunEnvelope" });
export type RunEnvelope = z.infer<typeof RunEnvelope>;

/** A run with its tasks in plan order and what recovery decided along the way. */
export const RunDetail = z.object({
  run: Run,
  tasks: z.array(TaskWithAttempts),
  recovery: z.array(RecoveryDecisionRecord).meta({
    description: "Each recovery decision in order: failure class, strategy, from and to task, why.",
  }),
  gates: z.array(GateRecord).meta({
    description: "Each checkpoint and contract verdict in order: the task and attempt judged, " +
      "passed or failed, and the tasks a failure was attributed to.",
  }),
}).meta({ id: "RunDetail" });
export type RunDetail = z.infer<typeof RunDetail>;

/** A page of runs, newest first. */
export const RunPage = z.object({
  runs: z.array(RunSummary),
  next_cursor: z.string().nullable().meta({
    description: "Pass as `cursor` for the next page; null on the last page.",
  }),
}).meta({ id: "RunPage" });
export type RunPage = z.infer<typeof RunPage>;

/** A page of a run's events, in `seq` order. */
export const EventPage = z.object({
  events: z.array(RunEvent),
  next_after: Count.meta({
    description: "Pass as `after` to continue: the last event's seq, or the `after` given.",
  }),
  has_more: z.boolean().meta({ description: "Whether events after `next_after` exist now." }),
}).meta({ id: "EventPage" });
export type EventPage = z.infer<typeof EventPage>;
