/**
 * A recovery decision as stored (`backend_team.recovery_decisions`) and shown: in `GET /runs/:id`
 * and as the payload of the `recovery.decision` event on the run's channel.
 *
 * @example
 * ```ts
 * RecoveryDecisionRecord.parse(row);
 * ```
 */
import { z } from "zod";
import { FAILURE_CLASSES } from "./classify.ts";
import { STRATEGIES } from "./strategy.ts";

/** One decision: what failed, what was done about it, and why. */
export const RecoveryDecisionRecord = z.object({
  id: z.string(),
  class: z.enum(FAILURE_CLASSES),
  strategy: z.enum(STRATEGIES),
  from_task: z.string().nullable().meta({ description: "Key of the failing task, e.g. 'T1'." }),
  to_task: z.string().nullable().meta({
    description: "Key of the task that carries the recovery (the new task of a reroute, the " +
      "same task of a retry); null for an escalation.",
  }),
  to_agent: z.string().nullable(),
  reason: z.string(),
  created_at: z.string(),
}).meta({ id: "RecoveryDecision" });
/** A stored recovery decision. */
export type RecoveryDecisionRecord = z.infer<typeof RecoveryDecisionRecord>;
