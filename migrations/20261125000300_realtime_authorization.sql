-- Realtime authorization for run channels: a signed-in user may join (receive on) the private
-- topic `run:<id>` only for runs they own. Supabase Realtime evaluates this policy with the
-- joining user's claims and `realtime.topic()`; the local Realtime server does the same. Nobody
-- but the database itself writes to run topics, so there is no insert policy.

create function backend_team.run_id_of_topic(p_topic text)
returns uuid
language sql immutable
set search_path = ''
as $$
  select case
    when p_topic ~ '^run:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$'
    then substr(p_topic, 5)::uuid
  end
$$;
comment on function backend_team.run_id_of_topic(text) is
  'The run id of a topic named run:<uuid>, or null for any other topic.';

create function backend_team.owns_run_topic(p_topic text)
returns boolean
language sql stable
security definer
set search_path = ''
as $$
  select exists (
    select 1 from backend_team.runs r
     where r.id = backend_team.run_id_of_topic(p_topic)
       and r.owner_id = auth.uid())
$$;
comment on function backend_team.owns_run_topic(text) is
  'Whether the calling user owns the run a run:<id> topic belongs to.';

revoke execute on function backend_team.run_id_of_topic(text) from public, anon;
revoke execute on function backend_team.owns_run_topic(text) from public, anon;
grant execute on function backend_team.run_id_of_topic(text) to authenticated, service_role;
grant execute on function backend_team.owns_run_topic(text) to authenticated, service_role;

create policy "run owners receive their run's broadcasts" on realtime.messages
  for select to authenticated
  using (
    realtime.messages.extension = 'broadcast'
    and (select backend_team.owns_run_topic((select realtime.topic())))
  );
