-- Per-user request limits, kept in the database so they hold across every process that serves a
-- function: a token bucket for the rate of a user's requests, leases for the validations they
-- have in flight (each lease expires, so a process that dies mid-request frees its slot by
-- itself), and the cap on runs in flight, which submit_run checks under the same per-user row
-- lock before it creates a run. The API calls admit_request once per limited request (one round
-- trip) and release_request_lease when a validation ends; only the service side may call them.
-- The caps come from the API's configuration (BT_* variables): admit_request is given them each
-- time, and records the runs cap in the user's row for submit_run.
-- Custom SQLSTATE: BTR29 too many runs in flight (detail {"limit","in_flight"}).

create table backend_team.request_limits (
  -- No foreign key to auth.users: a verified token is enough to be limited (validate never
  -- otherwise touches the product database), and the row is kept small and harmless.
  owner_id uuid primary key,
  tokens double precision check (tokens >= 0),
  refilled_at timestamptz not null default now(),
  max_runs_in_flight integer not null default 5 check (max_runs_in_flight > 0),
  validation_leases jsonb not null default '{}'::jsonb
    check (jsonb_typeof(validation_leases) = 'object'),
  updated_at timestamptz not null default now()
);
comment on table backend_team.request_limits is
  'Per-user request limits: the request-rate bucket, validation leases and the runs-in-flight cap.';
comment on column backend_team.request_limits.owner_id is 'The limited user (the token''s sub).';
comment on column backend_team.request_limits.tokens is
  'Requests left in the rate bucket at refilled_at (null: a full bucket).';
comment on column backend_team.request_limits.refilled_at is 'When tokens was last brought up to date.';
comment on column backend_team.request_limits.max_runs_in_flight is
  'Most runs the user may have not yet completed, failed or cancelled (from BT_MAX_RUNS_IN_FLIGHT).';
comment on column backend_team.request_limits.validation_leases is
  'Validations in flight: lease id → expiry (Unix seconds); expired leases no longer count.';

alter table backend_team.request_limits enable row level security;
create policy "owners read their request limits" on backend_team.request_limits
  for select to authenticated using (owner_id = (select auth.uid()));
revoke all on backend_team.request_limits from public, anon, authenticated;
grant select on backend_team.request_limits to authenticated;
grant all on backend_team.request_limits to service_role;

-- Counting a user's runs in flight reads only those.
create index runs_owner_in_flight_idx on backend_team.runs (owner_id)
  where status not in ('completed', 'failed', 'cancelled');

-- Admission ---------------------------------------------------------------------------------------
create function backend_team.admit_request(
  p_owner uuid,
  p_per_minute integer,
  p_burst integer,
  p_max_runs_in_flight integer default null,
  p_max_validations integer default null,
  p_lease_seconds integer default null
)
returns table (refused text, retry_after integer, cap integer, lease uuid)
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_row backend_team.request_limits;
  v_now timestamptz;
  v_rate double precision;
  v_tokens double precision;
  v_leases jsonb;
  v_soonest double precision;
begin
  if p_owner is null or coalesce(p_per_minute, 0) <= 0 or coalesce(p_burst, 0) <= 0
     or p_max_runs_in_flight <= 0 or p_max_validations <= 0
     or (p_max_validations is not null and coalesce(p_lease_seconds, 0) <= 0) then
    raise exception 'invalid limits' using errcode = 'BT400';
  end if;
  insert into backend_team.request_limits (owner_id) values (p_owner)
  on conflict (owner_id) do nothing;
  -- The row lock is the user's lock: every admission and submit_run of one user take turns.
  select * into v_row from backend_team.request_limits where owner_id = p_owner for update;
  v_now := clock_timestamp();
  v_rate := p_per_minute / 60.0;
  v_tokens := least(p_burst::double precision, coalesce(
    v_row.tokens + greatest(0, extract(epoch from v_now - v_row.refilled_at)) * v_rate,
    p_burst));
  select coalesce(jsonb_object_agg(l.key, l.value), '{}'::jsonb), min(l.value::double precision)
    into v_leases, v_soonest
    from jsonb_each(v_row.validation_leases) l
   where l.value::double precision > extract(epoch from v_now);
  if v_tokens < 1 then
    -- Refused requests take no token: waiting retry_after seconds is enough.
    refused := 'rate_limited';
    retry_after := ceil((1 - v_tokens) / v_rate)::integer;
    cap := p_burst;
  else
    v_tokens := v_tokens - 1;
    if p_max_validations is not null then
      if (select count(*) from jsonb_object_keys(v_leases)) >= p_max_validations then
        refused := 'too_many_validations_in_flight';
        -- Validations usually end within seconds; the soonest lease's expiry bounds the wait.
        retry_after := greatest(1, least(5, ceil(v_soonest - extract(epoch from v_now))))::integer;
        cap := p_max_validations;
      else
        lease := gen_random_uuid();
        v_leases := v_leases || jsonb_build_object(lease::text,
          extract(epoch from v_now) + p_lease_seconds);
      end if;
    end if;
  end if;
  update backend_team.request_limits set
    tokens = v_tokens,
    refilled_at = v_now,
    validation_leases = v_leases,
    max_runs_in_flight = coalesce(p_max_runs_in_flight, max_runs_in_flight),
    updated_at = v_now
  where owner_id = p_owner;
  return next;
end;
$$;
comment on function backend_team.admit_request(uuid, integer, integer, integer, integer, integer) is
  'Admits one request of a user: takes a token from their rate bucket (p_per_minute, p_burst) and, with p_max_validations, a validation lease of p_lease_seconds; records p_max_runs_in_flight. Returns why it refused (rate_limited, too_many_validations_in_flight) with retry_after seconds, or the lease.';

create function backend_team.release_request_lease(p_owner uuid, p_lease uuid)
returns void
language sql
security definer
set search_path = ''
as $$
  update backend_team.request_limits
     set validation_leases = validation_leases - p_lease::text, updated_at = clock_timestamp()
   where owner_id = p_owner and validation_leases ? p_lease::text
$$;
comment on function backend_team.release_request_lease(uuid, uuid) is
  'Gives back a validation lease taken by admit_request (an expired one is gone already).';

-- Runs in flight ----------------------------------------------------------------------------------
create or replace function backend_team.submit_run(p_request text, p_context jsonb default '{}'::jsonb,
  p_options jsonb default '{}'::jsonb)
returns backend_team.runs
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_owner uuid := auth.uid();
  v_run backend_team.runs;
  v_cap integer;
  v_in_flight integer;
begin
  if v_owner is null then
    raise exception 'a signed-in user is required' using errcode = 'BT401';
  end if;
  -- Under the user's row lock, so runs submitted at once (from any process) are counted in turn.
  insert into backend_team.request_limits (owner_id) values (v_owner)
  on conflict (owner_id) do nothing;
  select max_runs_in_flight into v_cap
    from backend_team.request_limits where owner_id = v_owner for update;
  select count(*) into v_in_flight from backend_team.runs
   where owner_id = v_owner and status not in ('completed', 'failed', 'cancelled');
  if v_in_flight >= v_cap then
    raise exception 'too many runs in flight: % of %', v_in_flight, v_cap
      using errcode = 'BTR29',
            detail = jsonb_build_object('limit', v_cap, 'in_flight', v_in_flight)::text;
  end if;
  insert into backend_team.runs (owner_id, request, context, options, token_budget)
  values (v_owner, p_request, coalesce(p_context, '{}'::jsonb), coalesce(p_options, '{}'::jsonb),
          coalesce((p_options ->> 'token_budget')::bigint, 200000))
  returning * into v_run;
  perform backend_team.append_event(v_run.id, 'run.status',
    jsonb_build_object('status', 'received', 'from', null, 'error', null));
  select * into v_run from backend_team.runs where id = v_run.id;
  return v_run;
end;
$$;
comment on function backend_team.submit_run(text, jsonb, jsonb) is
  'Creates a run for the calling user in status received, unless they already have max_runs_in_flight runs in flight (BTR29).';

-- Only the service side admits requests; users keep submit_run alone.
revoke execute on function backend_team.admit_request(uuid, integer, integer, integer, integer, integer)
  from public, anon, authenticated;
revoke execute on function backend_team.release_request_lease(uuid, uuid)
  from public, anon, authenticated;
grant execute on function backend_team.admit_request(uuid, integer, integer, integer, integer, integer)
  to service_role;
grant execute on function backend_team.release_request_lease(uuid, uuid) to service_role;
