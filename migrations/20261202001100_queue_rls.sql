-- Row level security on the product's own queue tables. pgmq's `create` (the extension on
-- Supabase, and now the local stand-in too) leaves a queue's tables without it; the product's
-- queues are used by service_role only (which bypasses RLS), so RLS with no policy means a grant
-- made by mistake to anon or authenticated still exposes no message. Idempotent: enabling RLS
-- twice changes nothing, and a queue that does not exist is skipped.
do $$
declare
  q text;
begin
  foreach q in array array[
    'bt_orchestrator', 'bt_db_architect', 'bt_query_optimizer', 'bt_edge_functions',
    'bt_websocket', 'bt_api_data', 'bt_deployment', 'bt_debugger', 'bt_monitor', 'bt_security'
  ] loop
    if to_regclass(format('pgmq.%I', 'q_' || q)) is not null then
      execute format('alter table pgmq.%I enable row level security', 'q_' || q);
    end if;
    if to_regclass(format('pgmq.%I', 'a_' || q)) is not null then
      execute format('alter table pgmq.%I enable row level security', 'a_' || q);
    end if;
  end loop;
end
$$;
