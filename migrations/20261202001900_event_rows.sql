-- One event row per transaction and run (issue 17). A transaction that changes several things
-- of a run at once — a plan accepted (every task created, the run executing, the first tasks
-- queued), a task accepted (its checkpoint's verdict, the task succeeded, its dependents queued),
-- a run delivered (its files, completed) — used to log one row, one seq and one broadcast per
-- change. Now the first change of a transaction takes the run's next seq and row as before, and
-- every later change of the same run in that transaction rides on it, in order, in the row's
-- payload under `then` (each a whole event: type, run_id, the row's seq, at, its fields). Nothing
-- is dropped: a client reads a row as its own event followed by `then` (shared/events
-- `expandEvent`). Seqs stay gapless and in commit order (one row per commit and run); a row is
-- broadcast once, at commit, whole, by a deferred trigger, so a subscriber never sees a half-built
-- batch. Rows logged before keep their shape (a row without `then` is one event).
--
-- The transaction's open row per run waits in a transaction-local setting
-- (`backend_team.event_rows`: {run_id: {"seq": n, "then": [...]}}); a savepoint rolled back takes
-- its part of the setting back with the rows it inserted.

create or replace function backend_team.append_event(p_run_id uuid, p_type text, p_body jsonb)
returns bigint
language plpgsql
set search_path = ''
as $$
declare
  v_rows jsonb := coalesce(nullif(current_setting('backend_team.event_rows', true), '')::jsonb,
                           '{}'::jsonb);
  v_open jsonb := v_rows -> p_run_id::text;
  v_seq bigint;
  v_owner uuid;
  v_payload jsonb;
begin
  if v_open is not null then
    -- The run already has this transaction's row (its lock is held since): ride on it.
    v_seq := (v_open ->> 'seq')::bigint;
    v_payload := coalesce(p_body, '{}'::jsonb) || jsonb_build_object(
      'type', p_type, 'run_id', p_run_id, 'seq', v_seq,
      'at', to_char(now() at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'));
    v_rows := jsonb_set(v_rows, array[p_run_id::text, 'then'],
      (v_open -> 'then') || jsonb_build_array(v_payload));
    perform set_config('backend_team.event_rows', v_rows::text, true);
    return v_seq;
  end if;
  -- The row lock serialises writers of one run, so seq is gapless and in commit order.
  select r.owner_id into v_owner from backend_team.runs r where r.id = p_run_id for no key update;
  if v_owner is null then
    raise exception 'run % not found', p_run_id using errcode = 'BT404';
  end if;
  -- A new statement: in read committed it sees every event committed before the lock was granted.
  select coalesce(max(e.seq), 0) + 1 into v_seq from backend_team.run_events e where e.run_id = p_run_id;
  v_payload := coalesce(p_body, '{}'::jsonb) || jsonb_build_object(
    'type', p_type, 'run_id', p_run_id, 'seq', v_seq,
    'at', to_char(now() at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'));
  insert into backend_team.run_events (run_id, seq, owner_id, type, payload)
  values (p_run_id, v_seq, v_owner, p_type, v_payload);
  perform set_config('backend_team.event_rows', jsonb_set(v_rows, array[p_run_id::text],
    jsonb_build_object('seq', v_seq, 'then', '[]'::jsonb))::text, true);
  return v_seq;
end;
$$;
comment on function backend_team.append_event(uuid, text, jsonb) is
  'Logs a change of the run: the transaction''s first change of the run takes the next seq (gapless, under the run''s row lock, no run-row update); later ones ride on that row under payload.then. The row is broadcast on run:<id> at commit.';

-- At commit, once per row: the changes that rode on it are written into it, and it is broadcast.
create or replace function backend_team.finish_event_row()
returns trigger
language plpgsql
-- Deferred, it fires at commit as whoever is the session's role then (an API user after
-- submit_run or cancel_run): it completes and broadcasts the product's own row.
security definer
set search_path = ''
as $$
declare
  v_open jsonb := nullif(current_setting('backend_team.event_rows', true), '')::jsonb
                  -> new.run_id::text;
  v_then jsonb := case when (v_open ->> 'seq')::bigint = new.seq then v_open -> 'then' end;
  v_payload jsonb := new.payload;
begin
  if v_then is not null and jsonb_array_length(v_then) > 0 then
    v_payload := v_payload || jsonb_build_object('then', v_then);
    update backend_team.run_events set payload = v_payload
     where run_id = new.run_id and seq = new.seq;
  end if;
  perform realtime.send(v_payload, new.type, 'run:' || new.run_id::text, true);
  return null;
end;
$$;
comment on function backend_team.finish_event_row() is
  'Deferred trigger of run_events: at commit, writes the changes that rode on the row (payload.then) and broadcasts the whole row on run:<id>.';

revoke execute on function backend_team.finish_event_row() from public, anon, authenticated;

drop trigger if exists finish_event_row on backend_team.run_events;
create constraint trigger finish_event_row
  after insert on backend_team.run_events
  deferrable initially deferred
  for each row execute function backend_team.finish_event_row();
comment on trigger finish_event_row on backend_team.run_events is
  'One row per transaction and run: its batched changes are written and the row broadcast at commit.';

comment on column backend_team.run_events.payload is
  'The row''s first change as broadcast on the run''s Realtime channel (type, run_id, seq, at, fields); the transaction''s later changes of the run follow in order under "then", each a whole event with the same seq.';
comment on column backend_team.run_events.type is
  'Type of the row''s first change: run.status, task.status, checkpoint.passed, …; the changes under payload.then have types of their own.';
