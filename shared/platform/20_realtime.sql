-- The part of Supabase Realtime's schema that Broadcast from Database uses: `realtime.messages`,
-- `realtime.send(...)` and `realtime.topic()`, with Realtime's grants. Policies on
-- `realtime.messages` decide who may join a private channel (SELECT) and who may write to a topic
-- (INSERT), as on Supabase; a role that is not an API role reaches none of it.
create schema if not exists realtime;
revoke all on schema realtime from public;
grant usage on schema realtime to anon, authenticated, service_role;

create table if not exists realtime.messages (
  topic text not null,
  extension text not null,
  payload jsonb,
  event text,
  private boolean default false,
  updated_at timestamp not null default now(),
  inserted_at timestamp not null default now(),
  id uuid not null default gen_random_uuid(),
  primary key (id, inserted_at)
);
create index if not exists messages_inserted_at_topic_index
  on realtime.messages (inserted_at desc, topic)
  where extension = 'broadcast' and private is true;
alter table realtime.messages enable row level security;
revoke all on realtime.messages from public;
grant insert, select, update on realtime.messages to anon, authenticated, service_role;

do $$
begin
  if to_regprocedure('realtime.topic()') is null then
    create function realtime.topic() returns text
    language sql stable
    as $f$
      select nullif(current_setting('realtime.topic', true), '')::text
    $f$;
  end if;
  if to_regprocedure('realtime.send(jsonb, text, text, boolean)') is null then
    -- Like Supabase's: never fails the caller's transaction; a failed send is a warning.
    create function realtime.send(payload jsonb, event text, topic text, private boolean default true)
    returns void
    language plpgsql
    as $f$
    declare
      generated_id uuid;
      final_payload jsonb;
    begin
      begin
        generated_id := gen_random_uuid();
        final_payload := case
          when payload ? 'id' then payload
          else jsonb_set(payload, '{id}', to_jsonb(generated_id))
        end;
        perform set_config('realtime.topic', topic, true);
        insert into realtime.messages (id, payload, event, topic, private, extension)
        values (generated_id, final_payload, event, topic, private, 'broadcast');
      exception when others then
        raise warning 'ErrorSendingBroadcastMessage: %', sqlerrm;
      end;
    end;
    $f$;
  end if;
end
$$;
-- Not SECURITY DEFINER, as on Supabase: a caller's send is an INSERT its RLS policies must allow.
revoke execute on function realtime.send(jsonb, text, text, boolean) from public;
grant execute on function realtime.topic() to anon, authenticated, service_role;
grant execute on function realtime.send(jsonb, text, text, boolean)
  to anon, authenticated, service_role;

-- Local stack only: Supabase Realtime reads new rows from the WAL; our stand-in server is woken
-- by NOTIFY, which Postgres delivers after commit and in commit order, never for a rolled-back
-- row. The notification names the row's id and nothing else: NOTIFY needs no privilege, so the
-- server trusts no notification and reads the row back itself (see realtime/database_messages.ts).
create or replace function realtime.notify_local_server() returns trigger
language plpgsql
set search_path = ''
as $f$
begin
  perform pg_notify('realtime_messages', new.id::text);
  return null;
end;
$f$;
revoke execute on function realtime.notify_local_server() from public;
drop trigger if exists notify_local_server on realtime.messages;
create trigger notify_local_server after insert on realtime.messages
  for each row execute function realtime.notify_local_server();
