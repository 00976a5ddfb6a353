/**
 * The per-task event and lock path alone (issue 17), old and new definitions side by side on one
 * database in the same conditions: `runs` runs of `tasks` tasks each, every task walked through
 * queued → running → validating → succeeded with `transition_task` (the old path also logs the
 * three events a task logged besides its status: task.attempt, validation.report,
 * artifact.created; the new one carries them on the succeeded event), from 4 connections. Prints wall time per task, WAL bytes per task, run-row updates per task and the
 * self time of append_event / lock_task / realtime.send / record_usage per task
 * (pg_stat_user_functions). Each task's attempt also charges {@link ANSWERS_PER_TASK} LLM answers
 * to its run with `record_usage`, as the usage recorder does.
 *
 * Run: `deno run -A tests/bench/event_path_bench.ts [runs] [tasks]`
 */
import { connect, type Sql } from "../../shared/db/mod.ts";
import { freshDatabase } from "../_support/db.ts";

const RUNS = Number(Deno.args[0] ?? 8);
const TASKS = Number(Deno.args[1] ?? 12);
/** LLM answers charged to the run per task (an agent's answer and one re-ask). */
const ANSWERS_PER_TASK = 2;
/** Events a task logged besides its status before 20261202001850 (task.attempt, validation.report, artifact.created). */
const OLD_EXTRA_EVENTS = 3;

/** The definitions before 20261202001800_event_seq.sql, for the side-by-side figure. */
const OLD = `
drop trigger if exists sync_run_last_seq on backend_team.run_events;
create or replace function backend_team.append_event(p_run_id uuid, p_type text, p_body jsonb)
returns bigint language plpgsql set search_path = '' as $$
declare v_seq bigint; v_owner uuid; v_payload jsonb;
begin
  update backend_team.runs set last_seq = last_seq + 1, updated_at = now()
   where id = p_run_id returning last_seq, owner_id into v_seq, v_owner;
  if v_seq is null then raise exception 'run % not found', p_run_id using errcode = 'BT404'; end if;
  v_payload := coalesce(p_body, '{}'::jsonb) || jsonb_build_object('type', p_type, 'run_id', p_run_id,
    'seq', v_seq, 'at', to_char(now() at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'));
  insert into backend_team.run_events (run_id, seq, owner_id, type, payload)
  values (p_run_id, v_seq, v_owner, p_type, v_payload);
  perform realtime.send(v_payload, p_type, 'run:' || p_run_id::text, true);
  return v_seq;
end $$;
create or replace function backend_team.lock_task(p_task_id uuid)
returns backend_team.tasks language plpgsql set search_path = '' as $$
declare v_task backend_team.tasks;
begin
  perform 1 from backend_team.runs r
   where r.id = (select t.run_id from backend_team.tasks t where t.id = p_task_id) for update;
  select * into v_task from backend_team.tasks where id = p_task_id for update;
  return v_task;
end $$;`;

interface Figures {
  msPerTask: number;
  walBytesPerTask: number;
  runUpdatesPerTask: number;
  /** Updates of `runs` rows per event appended (no run status changes in this load). */
  runUpdatesPerEvent: number;
  selfMsPerTask: Record<string, number>;
}

async function seed(sql: Sql, owner: string): Promise<{ run: string; tasks: string[] }[]> {
  const runs: { run: string; tasks: string[] }[] = [];
  for (let r = 0; r < RUNS; r++) {
    const [run] = await sql`
      insert into backend_team.runs (owner_id, request, status, plan)
      values (${owner}, 'bench', 'executing', ${sql.json({ tasks: [], pad: "x".repeat(2000) })})
      returning id`;
    const ids: string[] = [];
    for (let t = 0; t < TASKS; t++) {
      const [task] = await sql`
        insert into backend_team.tasks (run_id, owner_id, key, agent, title)
        values (${run.id}, ${owner}, ${`T${t}`}, 'monitor', 'bench') returning id`;
      ids.push(task.id);
    }
    runs.push({ run: run.id, tasks: ids });
  }
  return runs;
}

async function measure(
  url: string,
  sql: Sql,
  owner: string,
  extraEvents: number,
): Promise<Figures> {
  const runs = await seed(sql, owner);
  const before = await snapshot(sql);
  const workers = Array.from({ length: 4 }, () => connect(url, { max: 1 }));
  const started = performance.now();
  try {
    await Promise.all(workers.map(async (w, i) => {
      await w`set track_functions = 'all'`;
      for (const [r, { run, tasks }] of runs.entries()) {
        for (const [n, task] of tasks.entries()) {
          if ((r * TASKS + n) % workers.length !== i) continue;
          for (const to of ["queued", "running", "validating"]) {
            await w`select backend_team.transition_task(${task}::uuid, ${to}, '{}'::jsonb)`;
            // The running attempt's LLM answers, each charged to the run as the recorder does.
            if (to === "running") {
              for (let a = 0; a < ANSWERS_PER_TASK; a++) {
                await w`select over_budget from backend_team.record_usage(
                  ${run}::uuid, 1200::bigint, 300::bigint, 0.00072::numeric)`;
              }
            }
          }
          // The attempt's finish: its extra events and the status, in one transaction.
          await w.begin(async (tx) => {
            const [row] = await tx`select run_id from backend_team.lock_task(${task}::uuid)`;
            for (let e = 0; e < extraEvents; e++) {
              await tx`select backend_team.append_event(${row.run_id}::uuid, 'task.attempt',
                jsonb_build_object('task_id', ${task}::uuid))`;
            }
            await tx`select backend_team.transition_task(${task}::uuid, 'succeeded', '{}'::jsonb)`;
          });
        }
      }
      await w`select pg_stat_force_next_flush()`;
    }));
  } finally {
    await Promise.all(workers.map((w) => w.end()));
  }
  const ms = performance.now() - started;
  await new Promise((r) => setTimeout(r, 200));
  const after = await snapshot(sql);
  const n = RUNS * TASKS;
  const self: Record<string, number> = {};
  for (const [name, t] of Object.entries(after.self)) {
    self[name] = round((t - (before.self[name] ?? 0)) / n);
  }
  return {
    msPerTask: round(ms / n),
    walBytesPerTask: Math.round((after.wal - before.wal) / n),
    runUpdatesPerTask: round((after.runUpdates - before.runUpdates) / n),
    runUpdatesPerEvent: round(
      (after.runUpdates - before.runUpdates) / Math.max(1, after.events - before.events),
    ),
    selfMsPerTask: self,
  };
}

async function snapshot(sql: Sql) {
  await sql`select pg_stat_force_next_flush()`;
  await sql`select pg_stat_clear_snapshot()`;
  const [w] = await sql`select pg_current_wal_lsn() - '0/0'::pg_lsn as wal`;
  const [u] = await sql`
    select n_tup_upd::float8 as upd from pg_stat_user_tables
     where schemaname = 'backend_team' and relname = 'runs'`;
  const [e] = await sql`select count(*)::float8 as n from backend_team.run_events`;
  const fns = await sql`
    select schemaname || '.' || funcname as name, sum(self_time)::float8 as self
      from pg_stat_user_functions
     where funcname in ('append_event', 'lock_task', 'send', 'transition_task', 'sync_run_last_seq',
                        'record_usage')
     group by 1`;
  return {
    wal: Number(w.wal),
    runUpdates: Number(u?.upd ?? 0),
    events: Number(e.n),
    self: Object.fromEntries(fns.map((f) => [String(f.name), Number(f.self)])) as Record<
      string,
      number
    >,
  };
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}

await using db = await freshDatabase();
const owner = crypto.randomUUID();
await db.sql`insert into auth.users (id, email) values (${owner}, ${`${owner}@example.test`})`;
// Warm-up on the new definitions, then new, then old.
await measure(db.url, db.sql, owner, 0);
const fresh = await measure(db.url, db.sql, owner, 0);
await db.sql.unsafe(OLD);
const old = await measure(db.url, db.sql, owner, OLD_EXTRA_EVENTS);
console.log(
  JSON.stringify(
    {
      runs: RUNS,
      tasksPerRun: TASKS,
      eventsPerTask: { old: 4 + OLD_EXTRA_EVENTS, new: 4 },
      old,
      new: fresh,
    },
    null,
    2,
  ),
);
