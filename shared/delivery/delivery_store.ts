/**
 * The delivery phase's SQL, as the service side: read a run with its tasks, their artifacts and
 * the run's recovery decisions,
 * and store an assembled deliverable — its files as artifact rows without a task under
 * `deliverable/` (replacing any from an earlier, interrupted try), each announced as an
 * `artifact.created` event — in the caller's transaction. Status changes stay with the state
 * machine's functions.
 *
 * @example
 * ```ts
 * const input = await loadDelivery(sql, runId);
 * await sql.begin((tx) => storeDeliverableFiles(tx, runId, ownerId, files));
 * ```
 */
import type { TransactionSql } from "../db/mod.ts";
import type { SqlLike } from "../orchestration/mod.ts";
import {
  DELIVERABLE_FOLDER,
  type DeliverableFile,
  loadRunRecord,
  type RunRecord,
  type RunStatus,
} from "../runs/mod.ts";
import type {
  AssemblyInput,
  DeliveryArtifact,
  DeliveryDecision,
  DeliveryTask,
} from "./assembly_input.ts";

/** The run, its tasks, their artifacts and its recovery decisions; undefined if no such run. */
export async function loadDelivery(
  sql: SqlLike,
  runId: string,
): Promise<(AssemblyInput & { run: RunRecord }) | undefined> {
  const run = await loadRunRecord(sql, runId);
  if (!run) return undefined;
  // Tasks skipped at the user's word or superseded by a split deliver nothing (recovery).
  const tasks = await sql<DeliveryTask[]>`
    select id, key, agent, title, depends_on, status, output, validation
      from backend_team.tasks
     where run_id = ${runId}
       and not (status = 'cancelled' and error ->> 'code' in ('skipped', 'superseded'))
     order by length(key), key`;
  const artifacts = await sql<DeliveryArtifact[]>`
    select a.task_id, a.kind, a.path, a.content, a.meta, a.ordinal
      from backend_team.artifacts a join backend_team.tasks t on t.id = a.task_id
     where a.run_id = ${runId}
       and not (t.status = 'cancelled' and t.error ->> 'code' in ('skipped', 'superseded'))
     order by a.ordinal, a.path`;
  // Decisions of one transaction (several tasks sent back at once) share created_at: plan order.
  const recovery = await sql<DeliveryDecision[]>`
    select class, strategy, from_task, to_task, to_agent, reason
      from backend_team.recovery_decisions
     where run_id = ${runId}
     order by created_at, length(from_task), from_task, id`;
  return { run, tasks: [...tasks], artifacts: [...artifacts], recovery: [...recovery] };
}

/** The run's status, locked until the transaction ends (so one deliverer finishes it). */
export async function lockRunStatus(
  tx: TransactionSql,
  runId: string,
): Promise<RunStatus | undefined> {
  const [row] = await tx<{ status: RunStatus }[]>`
    select status from backend_team.runs where id = ${runId} for update`;
  return row?.status;
}

/** Stores the deliverable's files as the run's `deliverable/…` artifact rows; returns how many. */
export async function storeDeliverableFiles(
  tx: TransactionSql,
  runId: string,
  ownerId: string,
  files: DeliverableFile[],
): Promise<number> {
  await tx`
    delete from backend_team.artifacts
     where run_id = ${runId} and task_id is null and path like ${`${DELIVERABLE_FOLDER}%`}`;
  const rows = files.map((f, ordinal) => ({
    kind: f.kind,
    path: `${DELIVERABLE_FOLDER}${f.path}`,
    content: f.content,
    meta: f.meta,
    ordinal,
  }));
  const stored = await tx<{ seq: number }[]>`
    with stored as (
      insert into backend_team.artifacts (run_id, task_id, owner_id, kind, path, content, meta, ordinal)
      select ${runId}::uuid, null, ${ownerId}::uuid, x.kind, x.path, x.content, x.meta, x.ordinal
        from jsonb_to_recordset(${tx.json(rows as never)}::jsonb)
             as x(kind text, path text, content text, meta jsonb, ordinal integer)
      returning id, kind, path, ordinal
    )
    select backend_team.append_event(${runId}::uuid, 'artifact.created', jsonb_build_object(
             'artifact_id', id, 'task_id', null, 'kind', kind, 'path', path)) as seq
      from stored
     order by ordinal`;
  return stored.length;
}
