/**
 * The delivery phase's SQL, as the service side: read a run with its tasks and their artifacts,
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
import { DELIVERABLE_FOLDER, type DeliverableFile, type RunStatus } from "../runs/mod.ts";
import type {
  AssemblyInput,
  DeliveryArtifact,
  DeliveryRun,
  DeliveryTask,
} from "./assembly_input.ts";

/** A run as delivery reads it. */
export interface DeliveryRunRecord extends DeliveryRun {
  owner_id: string;
  status: RunStatus;
  context: { schema_sql?: string };
}

/** The run, its tasks and their artifacts; undefined when the run does not exist. */
export async function loadDelivery(
  sql: SqlLike,
  runId: string,
): Promise<(AssemblyInput & { run: DeliveryRunRecord }) | undefined> {
  const [run] = await sql<DeliveryRunRecord[]>`
    select id, owner_id, status, request, context, understanding, created_at,
           jsonb_build_object('prompt_tokens', prompt_tokens, 'completion_tokens', completion_tokens,
             'cost_usd', cost_usd) as usage
      from backend_team.runs where id = ${runId}`;
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
  return { run, tasks: [...tasks], artifacts: [...artifacts] };
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
