/**
 * A gate verdict as `GET /runs/:id` shows it (`gates`), read from the run's `checkpoint.*` and
 * `contract.*` events: which task and attempt it judged, whether it passed, the suites or the
 * contract, and the tasks its failures were attributed to.
 *
 * @example
 * ```ts
 * const record = gateRecordOf({ seq: 12, type: "checkpoint.failed", payload });
 * ```
 */
import { z } from "zod";

/** The event types of gate verdicts. */
export const GATE_EVENTS = [
  "checkpoint.passed",
  "checkpoint.failed",
  "contract.passed",
  "contract.failed",
] as const;

/** One verdict of a checkpoint or a contract. */
export const GateRecord = z.object({
  seq: z.number().int().nonnegative().meta({
    description: "The event's position in the run's log.",
  }),
  type: z.enum(GATE_EVENTS),
  task: z.string().meta({ description: "Key of the task whose attempt was judged, e.g. 'T1'." }),
  attempt: z.number().int().nonnegative(),
  ok: z.boolean(),
  name: z.string().meta({
    description: "The checkpoint (`after T1: indexes, rls`) or the contract's name.",
  }),
  suites: z.array(z.string()).nullable().meta({ description: "A checkpoint's suites." }),
  producer: z.string().nullable().meta({ description: "A contract's producing task." }),
  responsible: z.array(z.string()).meta({
    description: "Tasks a failure was attributed to (empty when it passed).",
  }),
  failures: z.number().int().nonnegative().meta({ description: "How many findings failed it." }),
}).meta({ id: "GateVerdict" });
/** A gate verdict as shown. */
export type GateRecord = z.infer<typeof GateRecord>;

/** The record of a `checkpoint.*` / `contract.*` event row. */
export function gateRecordOf(
  row: { seq: number | string | bigint; type: string; payload: Record<string, unknown> },
): GateRecord {
  const p = row.payload;
  const list = (v: unknown) => Array.isArray(v) ? v.map(String) : [];
  const checkpoint = row.type.startsWith("checkpoint.");
  const failures = (Array.isArray(p.failures) ? p.failures.length : 0) +
    (Array.isArray(p.violations) ? p.violations.length : 0) + Number(p.more ?? 0);
  const suites = list(p.suites);
  return GateRecord.parse({
    seq: Number(row.seq),
    type: row.type,
    task: String(p.task ?? ""),
    attempt: Number(p.attempt ?? 0),
    ok: row.type.endsWith(".passed"),
    name: checkpoint
      ? `after ${String(p.after ?? "?")}: ${suites.join(", ")}`
      : String(p.contract ?? ""),
    suites: checkpoint ? suites : null,
    producer: checkpoint ? null : String(p.producer ?? ""),
    responsible: checkpoint
      ? list(p.responsible)
      : (row.type.endsWith(".failed") ? [String(p.consumer ?? "")] : []),
    failures,
  });
}
