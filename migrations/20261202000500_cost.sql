-- Cost in money: every LLM answer's cost (US dollars, from the price table in force when the call
-- was made; see shared/llm/prices.ts) is added to its run by `record_usage` and stored on the
-- attempt it belonged to by `record_attempt`. A cost is null when a model has no price: it is
-- unknown, never guessed, and a run with one unknown answer has an unknown total. A run may be
-- given a budget in money (`options.cost_budget_usd`) beside its token budget; like the token
-- budget, the answer that takes the run over it fails the run with `budget_exceeded`, so no
-- further call is made. A run with a money budget whose cost becomes unknown fails the same way:
-- a budget that cannot be checked is not kept silently.

-- Columns ---------------------------------------------------------------------------------------
alter table backend_team.runs
  add column cost_usd numeric(14, 6) default 0 check (cost_usd >= 0),
  add column cost_budget_usd numeric(14, 6)
    generated always as ((options ->> 'cost_budget_usd')::numeric(14, 6)) stored;
comment on column backend_team.runs.cost_usd is
  'US dollars the run''s LLM answers cost so far (price table at the time of each call); null when an answer came from a model without a price.';
comment on column backend_team.runs.cost_budget_usd is
  'Most US dollars the run may spend on LLM answers (options.cost_budget_usd); null for no money budget.';
comment on column backend_team.runs.options is 'Limits the user set: token_budget, cost_budget_usd, max_parallel.';
-- Runs from before this migration spent tokens at prices nobody recorded.
update backend_team.runs set cost_usd = null where prompt_tokens + completion_tokens > 0;

alter table backend_team.task_attempts
  add column cost_usd numeric(14, 6) check (cost_usd >= 0);
comment on column backend_team.task_attempts.cost_usd is
  'US dollars the attempt''s LLM answers cost (price table at the time of the call); null when the model had no price.';

-- Usage with cost -------------------------------------------------------------------------------
create function backend_team.record_usage(p_run_id uuid, p_prompt_tokens bigint,
  p_completion_tokens bigint, p_cost_usd numeric)
returns table (over_budget boolean, used bigint, token_budget bigint, spent_usd numeric,
  budget_usd numeric)
language plpgsql
set search_path = ''
as $$
declare
  v_tokens record;
  v_run backend_team.runs;
begin
  if p_cost_usd < 0 then
    raise exception 'a cost must not be negative' using errcode = 'BT400';
  end if;
  -- Tokens and the token budget first (that function may already fail the run).
  select * into v_tokens
    from backend_team.record_usage(p_run_id, p_prompt_tokens, p_completion_tokens) u;
  -- null + x is null: once one answer's cost is unknown, so is the run's.
  update backend_team.runs r set cost_usd = r.cost_usd + p_cost_usd
   where r.id = p_run_id
  returning * into v_run;
  over_budget := v_tokens.over_budget or (v_run.cost_budget_usd is not null
    and (v_run.cost_usd is null or v_run.cost_usd > v_run.cost_budget_usd));
  used := v_tokens.used;
  token_budget := v_tokens.token_budget;
  spent_usd := v_run.cost_usd;
  budget_usd := v_run.cost_budget_usd;
  if over_budget and not backend_team.is_terminal_run_status(v_run.status) then
    perform backend_team.fail_run(p_run_id, 'budget_exceeded', case
      when v_run.cost_usd is null then format(
        'the run''s cost is unknown (a model without a price answered), so its budget of $%s '
        'cannot be kept; price the model in BT_LLM_PRICES', v_run.cost_budget_usd)
      else format('the run cost $%s, over its budget of $%s', v_run.cost_usd, v_run.cost_budget_usd)
    end);
  end if;
  return next;
end;
$$;
comment on function backend_team.record_usage(uuid, bigint, bigint, numeric) is
  'Adds an LLM answer''s tokens and cost (null: the model has no price) to a run; a run over its token or money budget is failed with code budget_exceeded.';

-- Attempts with cost ----------------------------------------------------------------------------
-- As in 20261125000400_execution.sql, plus the attempt's cost on its row and in task.attempt. An
-- attempt that made no call cost nothing; one whose result names no cost has an unknown cost.
create or replace function backend_team.record_attempt(p_task backend_team.tasks, p_status text,
  p_result jsonb)
returns void
language plpgsql
set search_path = ''
as $$
declare
  v_prompt bigint := coalesce((p_result ->> 'prompt_tokens')::bigint, 0);
  v_completion bigint := coalesce((p_result ->> 'completion_tokens')::bigint, 0);
  v_cost numeric := case
    when p_result ? 'cost_usd' then (p_result ->> 'cost_usd')::numeric(14, 6)
    when coalesce((p_result ->> 'prompt_tokens')::bigint, 0)
       + coalesce((p_result ->> 'completion_tokens')::bigint, 0) = 0 then 0
  end;
begin
  update backend_team.task_attempts set
    status = p_status,
    prompt_tokens = v_prompt,
    completion_tokens = v_completion,
    cost_usd = v_cost,
    context_tokens = (p_result ->> 'context_tokens')::bigint,
    context_tokens_uncompressed = (p_result ->> 'context_tokens_uncompressed')::bigint,
    duration_ms = (p_result ->> 'duration_ms')::bigint,
    llm_ms = (p_result ->> 'llm_ms')::bigint,
    output = p_result -> 'output',
    validation = p_result -> 'validation',
    error = p_result -> 'error',
    finished_at = now()
  where task_id = p_task.id and attempt = p_task.attempt;
  perform backend_team.append_event(p_task.run_id, 'task.attempt', jsonb_build_object(
    'task_id', p_task.id, 'key', p_task.key, 'attempt', p_task.attempt, 'status', p_status,
    'prompt_tokens', v_prompt,
    'completion_tokens', v_completion,
    'cost_usd', v_cost,
    'duration_ms', (p_result ->> 'duration_ms')::bigint));
  if p_result ? 'validation' and jsonb_typeof(p_result -> 'validation') = 'object' then
    perform backend_team.append_event(p_task.run_id, 'validation.report', jsonb_build_object(
      'task_id', p_task.id,
      'ok', coalesce((p_result -> 'validation' ->> 'ok')::boolean, true),
      'errors', coalesce((p_result -> 'validation' ->> 'errors')::integer, 0),
      'warnings', coalesce((p_result -> 'validation' ->> 'warnings')::integer, 0)));
  end if;
end;
$$;
comment on function backend_team.record_attempt(backend_team.tasks, text, jsonb) is
  'Stores a finished attempt''s tokens, cost, duration, output and validation, and logs task.attempt (and validation.report).';

-- Workers only: users never charge usage to a run.
revoke execute on function backend_team.record_usage(uuid, bigint, bigint, numeric)
  from public, anon, authenticated;
