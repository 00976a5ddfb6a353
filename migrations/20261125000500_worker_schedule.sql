-- The safety net behind wake-ups (Supabase only): every 5 seconds pg_cron calls
-- backend_team.wake_workers(), which POSTs to the worker function of every queue holding visible
-- messages (work whose wake-up was lost, or whose lease ran out after a worker died). The URL and
-- the worker secret come from Vault:
--   select vault.create_secret('https://<ref>.supabase.co', 'bt_project_url');
--   select vault.create_secret('<BT_WORKER_SECRET>', 'bt_worker_secret');
-- Where pg_cron, pg_net or Vault are missing (the local stack, which runs its own loop) this
-- migration only creates the function and schedules nothing.

create function backend_team.wake_workers()
returns integer
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_url text;
  v_secret text;
  v_queue text;
  v_count integer := 0;
begin
  if to_regclass('vault.decrypted_secrets') is null or to_regnamespace('net') is null then
    return 0;
  end if;
  execute $q$ select decrypted_secret from vault.decrypted_secrets where name = 'bt_project_url' $q$
    into v_url;
  execute $q$ select decrypted_secret from vault.decrypted_secrets where name = 'bt_worker_secret' $q$
    into v_secret;
  if v_url is null or v_secret is null then
    raise warning 'backend_team.wake_workers: Vault secrets bt_project_url / bt_worker_secret are not set';
    return 0;
  end if;
  for v_queue in select * from backend_team.queues_with_visible_messages() loop
    execute 'select net.http_post(url := $1, headers := $2, body := ''{}''::jsonb)'
      using rtrim(v_url, '/') || '/functions/v1/'
              || case when v_queue = 'bt_orchestrator' then 'orchestrator-worker'
                      else 'agent-' || replace(substr(v_queue, 4), '_', '-') end
              || '/wake',
            jsonb_build_object('Content-Type', 'application/json', 'apikey', v_secret);
    v_count := v_count + 1;
  end loop;
  return v_count;
end;
$$;
comment on function backend_team.wake_workers() is
  'Safety net: wakes the worker function of every queue with visible messages (pg_net, secrets from Vault).';
revoke execute on function backend_team.wake_workers() from public, anon, authenticated;
grant execute on function backend_team.wake_workers() to service_role;

do $$
begin
  if exists (select 1 from pg_extension where extname = 'pg_cron')
     and exists (select 1 from pg_extension where extname = 'pg_net') then
    perform cron.schedule('backend-team-wake-workers', '5 seconds',
      'select backend_team.wake_workers()');
  else
    raise notice 'pg_cron or pg_net is not installed: no wake-up schedule (the local stack runs its own loop)';
  end if;
end
$$;
