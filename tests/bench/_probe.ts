/**
 * The commit clock: how the benchmark knows when a transaction committed. `now()` and the
 * `created_at` defaults are the transaction's *start*, so the `queued` event's `created_at` is
 * earlier than the commit that made the task visible by the whole enqueueing transaction (the
 * previous task's completion, artifacts and all). A deferred constraint trigger runs during
 * COMMIT, after every statement of the transaction, so the `clock_timestamp()` it records is the
 * commit moment to within microseconds (the cluster runs with `synchronous_commit = off`, so no
 * WAL flush follows). Installed by the benchmark into its own database only; the product's SQL is
 * untouched. The other end, the agent's first line of work, is `task_attempts.started_at`:
 * `now()` of `start_attempt`, i.e. the moment the worker's first statement for the task reached
 * the server. The lease a read takes (`vt = clock_timestamp() + lease`) splits the interval into
 * commit → read (the wake-up path) and read → first statement (the worker's own handling).
 *
 * @example
 * ```ts
 * await installCommitClock(db.sql, db.name);
 * const samples = await dispatchSamples(db.sql, runIds, 30);
 * ```
 */
import type { Sql } from "../../shared/db/mod.ts";
import { queueOf, WORKERS } from "../../shared/dispatch/mod.ts";

/**
 * Creates schema `bench`: the commit clock and the bare round trip's tables; and turns on
 * PostgreSQL's per-function timing (`track_functions`) for the database's new sessions, so the
 * profile can say which SQL functions the product's database time goes to.
 */
export async function installCommitClock(sql: Sql, dbName: string): Promise<void> {
  await sql.unsafe(`alter database ${dbName} set track_functions = 'all'`);
  await sql.unsafe(`
    create schema if not exists bench;
    create table bench.commit_clock (
      kind text not null,
      key text not null,
      run_id uuid,
      committed_at timestamptz not null
    );
    create index on bench.commit_clock (kind, key);
    create table bench.bare_sent (kind text not null default 'bare', msg_id bigint not null,
                                  primary key (kind, msg_id));
    create table bench.bare_started (
      msg_id bigint primary key,
      started_at timestamptz not null default now()
    );

    -- Fires after the product's finish_event_row (same event, triggers in name order), so the
    -- row already holds every change of its transaction (payload.then).
    create function bench.stamp_queued_commit() returns trigger
    language plpgsql security definer set search_path = '' as $$
    begin
      insert into bench.commit_clock (kind, key, run_id, committed_at)
      select 'queued', c ->> 'task_id', new.run_id, clock_timestamp()
        from backend_team.run_events e,
             jsonb_array_elements(jsonb_build_array(e.payload - 'then')
                                  || coalesce(e.payload -> 'then', '[]'::jsonb)) as c
       where e.run_id = new.run_id and e.seq = new.seq
         and c ->> 'type' = 'task.status' and c ->> 'status' = 'queued';
      return null;
    end $$;
    create constraint trigger stamp_queued_commit after insert on backend_team.run_events
      deferrable initially deferred for each row
      execute function bench.stamp_queued_commit();

    create function bench.stamp_bare_commit() returns trigger
    language plpgsql security definer set search_path = '' as $$
    begin
      insert into bench.commit_clock (kind, key, committed_at)
      values (new.kind, new.msg_id::text, clock_timestamp());
      return null;
    end $$;
    create constraint trigger stamp_bare_commit after insert on bench.bare_sent
      deferrable initially deferred for each row
      execute function bench.stamp_bare_commit();

    select pgmq.create('bench_bare');
  `);
}

/** One task's dispatch, in ms. */
export interface DispatchSample {
  taskId: string;
  /** Commit of the enqueueing transaction → `start_attempt` reached the server. */
  ms: number;
  /** The naive figure: the `queued` event's `created_at` (transaction start) → `start_attempt`. */
  fromEventMs: number;
  /** Commit → the worker's read took the message (null when the lease was renewed). */
  toReadMs: number | null;
}

// Every agent queue's archive, with the read moment recovered from the lease it took.
function archivedReads(leaseSeconds: number): string {
  return WORKERS.filter((w) => w !== "orchestrator").map((w) =>
    `select (message ->> 'task_id')::uuid as task_id, read_ct,
            vt - make_interval(secs => ${leaseSeconds}) as read_at
       from pgmq.a_${queueOf(w)}`
  ).join(" union all ");
}

/**
 * Dispatch samples of the given runs' tasks that were queued once and started once (no retry,
 * no redelivery), so each sample is one clean hand-over.
 */
export async function dispatchSamples(
  sql: Sql,
  runIds: readonly string[],
  leaseSeconds: number,
): Promise<DispatchSample[]> {
  const rows = await sql.unsafe<
    { task_id: string; ms: number; from_event_ms: number; to_read_ms: number | null }[]
  >(
    `with queued as (
       select key::uuid as task_id, min(committed_at) as committed_at, count(*) as n
         from bench.commit_clock
        where kind = 'queued' and run_id = any($1::uuid[])
        group by key
     ), events as (
       select (c ->> 'task_id')::uuid as task_id, min(e.created_at) as created_at
         from backend_team.run_events e,
              jsonb_array_elements(jsonb_build_array(e.payload - 'then')
                                   || coalesce(e.payload -> 'then', '[]'::jsonb)) as c
        where e.run_id = any($1::uuid[])
          and c ->> 'type' = 'task.status' and c ->> 'status' = 'queued'
        group by 1
     ), reads as (${archivedReads(leaseSeconds)})
     select q.task_id::text,
            extract(epoch from a.started_at - q.committed_at) * 1000 as ms,
            extract(epoch from a.started_at - e.created_at) * 1000 as from_event_ms,
            case when r.read_at between q.committed_at and a.started_at
                 then extract(epoch from r.read_at - q.committed_at) * 1000 end as to_read_ms
       from queued q
       join events e using (task_id)
       join backend_team.task_attempts a on a.task_id = q.task_id and a.attempt = 1
       join backend_team.tasks t on t.id = q.task_id and t.attempt = 1
       left join reads r on r.task_id = q.task_id and r.read_ct = 1
      where q.n = 1`,
    [runIds as string[]],
  );
  return rows.map((r) => ({
    taskId: r.task_id,
    ms: Number(r.ms),
    fromEventMs: Number(r.from_event_ms),
    toReadMs: r.to_read_ms === null ? null : Number(r.to_read_ms),
  }));
}

/** Bare round trips: commit of `pgmq.send` → the woken reader's first statement, in ms. */
export async function bareSamples(sql: Sql): Promise<{ ms: number; toReadMs: number | null }[]> {
  const rows = await sql<{ ms: number; to_read_ms: number | null }[]>`
    select extract(epoch from s.started_at - c.committed_at) * 1000 as ms,
           extract(epoch from (a.vt - interval '30 seconds') - c.committed_at) * 1000 as to_read_ms
      from bench.commit_clock c
      join bench.bare_started s on s.msg_id = c.key::bigint
      left join pgmq.a_bench_bare a on a.msg_id = s.msg_id and a.read_ct = 1
     where c.kind = 'bare'
     order by s.msg_id`;
  return rows.map((r) => ({
    ms: Number(r.ms),
    toReadMs: r.to_read_ms === null ? null : Number(r.to_read_ms),
  }));
}

/** SQL functions of the product's database by own time (`pg_stat_user_functions`). */
export async function functionTimes(
  sql: Sql,
): Promise<{ name: string; calls: number; selfMs: number; totalMs: number }[]> {
  const rows = await sql<{ name: string; calls: string; self_ms: number; total_ms: number }[]>`
    select schemaname || '.' || funcname as name, calls, self_time as self_ms,
           total_time as total_ms
      from pg_stat_user_functions
     order by self_time desc
     limit 12`;
  return rows.map((r) => ({
    name: r.name,
    calls: Number(r.calls),
    selfMs: Math.round(Number(r.self_ms)),
    totalMs: Math.round(Number(r.total_ms)),
  }));
}

/** Resets the database's statistics (function timings included). */
export async function resetFunctionTimes(sql: Sql): Promise<void> {
  await sql`select pg_stat_reset()`;
}
