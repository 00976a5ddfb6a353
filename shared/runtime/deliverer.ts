/**
 * Phase 7 as the orchestrator worker runs it: `deliverRun` from shared/delivery, with the project's
 * schema and the merged migrations validated on the same proving ground as the agents' validator —
 * the process-wide shadow of shared/shadow: PostgreSQL when `SHADOW_DATABASE_URL` names a shadow
 * server (each delivery its own database and login role there, as an unprivileged role; the admin
 * connection only creates and drops them), else PGlite. The shadow starts at the first delivery
 * that has SQL to validate; one that cannot start fails that delivery, not the process.
 *
 * A delivery is the worker's heaviest step (the run's artifacts, every migration's parse tree, a
 * shadow session, two catalog reads, the generated tests and the assembled files, all live at
 * once), so one process runs at most `BT_DELIVERIES_PER_WORKER` (default 1) at a time; its other
 * messages (understanding, planning, resuming) do not wait for a slot, and a delivery waiting for
 * one keeps its message's lease, which the queue worker renews.
 *
 * @example
 * ```ts
 * const deliver = createDeliverer(sql);
 * await deliver(run, msgId);
 * ```
 */
import type { Sql } from "../db/mod.ts";
import type { RunRecord } from "../runs/mod.ts";
import { sharedShadow } from "../shadow/mod.ts";
import { createSlots } from "./slots.ts";

/** What {@link createDeliverer} may be told besides the environment (tests). */
export interface DelivererOptions {
  /** Deliveries at once in this process (default 1; the worker passes `BT_DELIVERIES_PER_WORKER`). */
  deliveriesAtOnce?: number;
}

/** The `deliver` step of the orchestrator worker. */
export function createDeliverer(
  sql: Sql,
  env: Record<string, string | undefined> = Deno.env.toObject(),
  options: DelivererOptions = {},
): (run: RunRecord, msgId: number) => Promise<string[]> {
  const postgresUrl = env.SHADOW_DATABASE_URL;
  // The same choice as the agents' validator: the shadow server named, else PGlite.
  const shadow = () =>
    postgresUrl ? sharedShadow("postgres", { postgresUrl }) : sharedShadow("pglite");
  const slots = createSlots(options.deliveriesAtOnce ?? 1);
  return (run, msgId) =>
    slots.run(async () => {
      // Delivery's code (integration proof, pgTAP, archives) loads with the first run to deliver,
      // not when the worker boots to understand and plan.
      const { deliverRun } = await import("../delivery/mod.ts");
      return (await deliverRun({ sql, shadow }, run, msgId)).wake ?? [];
    });
}
