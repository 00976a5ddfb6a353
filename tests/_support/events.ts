/**
 * A run's log as a client reads it: every change, in order, each row expanded (a row holds the
 * changes of one transaction: its first, the later ones under `payload.then`; see
 * shared/events `expandEvent`). Checks on the way that the rows' seqs are 1, 2, 3… without gaps.
 *
 * @example
 * ```ts
 * const changes = await runChanges(db.sql, runId);
 * assert.ok(changes.some((e) => e.type === "run.completed"));
 * ```
 */
import assert from "node:assert/strict";
import type { Sql } from "../../shared/db/mod.ts";
import { expandEvent } from "../../shared/events/mod.ts";

/** One change of a run's log: the row's seq, its type and its whole payload. */
export interface RunChange {
  seq: number;
  type: string;
  payload: Record<string, unknown>;
}

/** Every change of run `runId` in order (rows expanded), checking the rows are gapless. */
export async function runChanges(sql: Sql, runId: string): Promise<RunChange[]> {
  const rows = await sql<{ seq: number; type: string; payload: Record<string, unknown> }[]>`
    select seq::int as seq, type, payload from backend_team.run_events
     where run_id = ${runId} order by seq`;
  assert.deepEqual(rows.map((r) => r.seq), rows.map((_, i) => i + 1), "seq has no gaps");
  return rows.flatMap((row) =>
    expandEvent({ ...row.payload, type: row.payload.type ?? row.type }).map((payload) => ({
      seq: row.seq,
      type: String(payload.type),
      payload,
    }))
  );
}
