-- A pgmq-compatible `pgmq` schema for a PostgreSQL without the pgmq extension (the local stack, the
-- PostgreSQL shadow database). Supabase ships pgmq 1.5.1; what is here has the same names,
-- signatures, return types and behaviour for the part the product uses: queues with an archive,
-- send / send_batch (with headers, integer or timestamptz delay), read / read_with_poll (visibility
-- timeout, FOR UPDATE SKIP LOCKED), pop, archive, delete, set_vt, metrics, list / purge / drop.
-- Not here: partitioned queues (pg_partman) and the deprecated drop_queue(text, boolean).
--
-- When it applies: only where the `pgmq` extension is not installed and the `pgmq` schema is absent
-- or is this file's own (its comment says so). A real pgmq, as an extension or installed from its
-- plain SQL, is never touched. On its own schema the file is re-applied on every stack start:
-- tables and types are created when absent, functions are replaced by the same text (so a fix here
-- reaches an existing local database), and queues and messages are left as they are.
--
-- Privileges, as on Supabase: only `service_role` (and `postgres`) use queues. `anon` and
-- `authenticated` get no usage on the schema and no execute on the functions. As pgmq's own
-- `create` does, a queue's tables are created with row level security off: a migration that
-- creates a queue and grants it to the API roles is then judged as on Supabase (the validator's
-- `insecure_queue_exposed_in_api`); enabling RLS is the migration's job (the Dashboard's "Enable
-- RLS" option does the same). Queues are created by the migration role, as on Supabase:
-- `service_role` has no CREATE on the schema.

-- Decides once per application whether this file may act; every block below obeys it.
do $$
begin
  perform set_config(
    'backend_team.pgmq_local',
    case
      when exists (select from pg_catalog.pg_extension where extname = 'pgmq') then 'skip'
      when to_regnamespace('pgmq') is null then 'install'
      when coalesce(obj_description(to_regnamespace('pgmq')::oid, 'pg_namespace'), '')
        like 'pgmq-compatible queues for the local stack%' then 'install'
      else 'skip'
    end,
    false
  );
end
$$;

-- Schema, types and the queue registry.
do $$
begin
  if current_setting('backend_team.pgmq_local', true) is distinct from 'install' then
    return;
  end if;

  if to_regnamespace('pgmq') is null then
    create schema pgmq;
    comment on schema pgmq is
      'pgmq-compatible queues for the local stack (supabase/local/platform/30_pgmq.sql). '
      'On Supabase the pgmq extension provides this schema.';
  end if;

  if to_regtype('pgmq.message_record') is null then
    create type pgmq.message_record as (
      msg_id bigint,
      read_ct integer,
      enqueued_at timestamptz,
      vt timestamptz,
      message jsonb,
      headers jsonb
    );
    comment on type pgmq.message_record is
      'A message as read, popped or re-leased: id, deliveries so far, enqueue time, visibility time, '
      'body and headers.';
  end if;

  if to_regtype('pgmq.queue_record') is null then
    create type pgmq.queue_record as (
      queue_name varchar,
      is_partitioned boolean,
      is_unlogged boolean,
      created_at timestamptz
    );
    comment on type pgmq.queue_record is 'A queue as listed by pgmq.list_queues().';
  end if;

  if to_regtype('pgmq.metrics_result') is null then
    create type pgmq.metrics_result as (
      queue_name text,
      queue_length bigint,
      newest_msg_age_sec integer,
      oldest_msg_age_sec integer,
      total_messages bigint,
      scrape_time timestamptz,
      queue_visible_length bigint
    );
    comment on type pgmq.metrics_result is
      'Queue metrics: messages waiting (all / visible now), ages of the newest and oldest in '
      'seconds, messages ever sent, and when this was measured.';
  end if;

  if to_regclass('pgmq.meta') is null then
    create table pgmq.meta (
      queue_name varchar unique not null,
      is_partitioned boolean not null,
      is_unlogged boolean not null,
      created_at timestamptz not null default now()
    );
    comment on table pgmq.meta is 'One row per queue; its tables are pgmq.q_<name> and pgmq.a_<name>.';
  end if;
end
$$;

-- Queue names and the queue lifecycle: create, list, purge, drop.
do $$
begin
  if current_setting('backend_team.pgmq_local', true) is distinct from 'install' then
    return;
  end if;

  -- pgmq's rule: the name may not carry `$`, `;`, `--` or a quote; tables are named in lower case.
  create or replace function pgmq.format_table_name(queue_name text, prefix text)
  returns text
  language plpgsql
  immutable
  set search_path = ''
  as $fn$
  begin
    if queue_name is null or queue_name = '' then
      raise exception 'queue name must not be empty';
    end if;
    if queue_name ~ '\$|;|--|''' then
      raise exception 'queue name contains invalid characters: $, ;, --, or ''';
    end if;
    return lower(prefix || '_' || queue_name);
  end;
  $fn$;
  comment on function pgmq.format_table_name(text, text) is
    'Table name of a queue (q_<name>) or its archive (a_<name>); rejects unsafe names.';

  -- 47 keeps every derived identifier (archived_at_idx_<name>) within PostgreSQL's 63 bytes.
  create or replace function pgmq.validate_queue_name(queue_name text)
  returns void
  language plpgsql
  immutable
  set search_path = ''
  as $fn$
  begin
    if length(queue_name) > 47 then
      raise exception 'queue name is too long, maximum length is 47 characters';
    end if;
  end;
  $fn$;
  comment on function pgmq.validate_queue_name(text) is
    'Raises when a queue name is longer than 47 characters.';

  create or replace function pgmq._create_queue(queue_name text, unlogged boolean)
  returns void
  language plpgsql
  set search_path = ''
  as $fn$
  declare
    qtable text := pgmq.format_table_name(queue_name, 'q');
    atable text := pgmq.format_table_name(queue_name, 'a');
    api_role text;
  begin
    perform pgmq.validate_queue_name(queue_name);
    -- Two sessions creating the same queue would otherwise race on the catalog.
    perform pg_advisory_xact_lock(hashtext('pgmq.queue_' || queue_name));
    execute format(
      $q$
      create %s table if not exists pgmq.%I (
        msg_id bigint primary key generated always as identity,
        read_ct integer not null default 0,
        enqueued_at timestamptz not null default now(),
        vt timestamptz not null,
        message jsonb,
        headers jsonb
      )
      $q$,
      case when unlogged then 'unlogged' else '' end, qtable
    );
    execute format(
      $q$
      create table if not exists pgmq.%I (
        msg_id bigint primary key,
        read_ct integer not null default 0,
        enqueued_at timestamptz not null default now(),
        archived_at timestamptz not null default now(),
        vt timestamptz not null,
        message jsonb,
        headers jsonb
      )
      $q$,
      atable
    );
    execute format('create index if not exists %I on pgmq.%I (vt)', qtable || '_vt_idx', qtable);
    execute format(
      'create index if not exists %I on pgmq.%I (archived_at)',
      'archived_at_idx_' || lower(queue_name), atable
    );
    execute format(
      'comment on table pgmq.%I is %L', qtable,
      'Queue ' || queue_name || ': messages waiting or leased (pgmq).'
    );
    execute format(
      'comment on table pgmq.%I is %L', atable,
      'Archive of queue ' || queue_name || ': messages archived after processing (pgmq).'
    );
    foreach api_role in array array['service_role', 'postgres'] loop
      if exists (select from pg_catalog.pg_roles where rolname = api_role) then
        execute format(
          'grant select, insert, update, delete on pgmq.%I, pgmq.%I to %I', qtable, atable, api_role
        );
        execute format(
          'grant usage, select on sequence %s to %I',
          pg_get_serial_sequence(format('pgmq.%I', qtable), 'msg_id'), api_role
        );
      end if;
    end loop;
    insert into pgmq.meta (queue_name, is_partitioned, is_unlogged)
    values (_create_queue.queue_name, false, unlogged)
    on conflict do nothing;
  end;
  $fn$;
  comment on function pgmq._create_queue(text, boolean) is
    'Creates a queue''s tables, indexes, grants and registry row unless they exist (local stack).';

  create or replace function pgmq.create_non_partitioned(queue_name text)
  returns void
  language sql
  set search_path = ''
  as $fn$
    select pgmq._create_queue(queue_name, false)
  $fn$;
  comment on function pgmq.create_non_partitioned(text) is
    'Creates a queue and its archive; does nothing when the queue exists.';

  create or replace function pgmq.create_unlogged(queue_name text)
  returns void
  language sql
  set search_path = ''
  as $fn$
    select pgmq._create_queue(queue_name, true)
  $fn$;
  comment on function pgmq.create_unlogged(text) is
    'Creates a queue whose messages are not WAL-logged (lost on a crash), with a logged archive.';

  create or replace function pgmq.create(queue_name text)
  returns void
  language sql
  set search_path = ''
  as $fn$
    select pgmq._create_queue(queue_name, false)
  $fn$;
  comment on function pgmq.create(text) is
    'Creates a queue and its archive; does nothing when the queue exists.';

  create or replace function pgmq.list_queues()
  returns setof pgmq.queue_record
  language sql
  stable
  set search_path = ''
  as $fn$
    select queue_name, is_partitioned, is_unlogged, created_at
    from pgmq.meta
    order by created_at, queue_name
  $fn$;
  comment on function pgmq.list_queues() is 'Every queue with its options and creation time.';

  create or replace function pgmq.purge_queue(queue_name text)
  returns bigint
  language plpgsql
  set search_path = ''
  as $fn$
  declare
    deleted bigint;
  begin
    execute format('delete from pgmq.%I', pgmq.format_table_name(queue_name, 'q'));
    get diagnostics deleted = row_count;
    return deleted;
  end;
  $fn$;
  comment on function pgmq.purge_queue(text) is
    'Deletes every message of a queue (not its archive); returns how many.';

  -- Like pgmq 1.5.2+: false, with a notice, for a queue that does not exist.
  create or replace function pgmq.drop_queue(queue_name text)
  returns boolean
  language plpgsql
  set search_path = ''
  as $fn$
  declare
    qtable text := pgmq.format_table_name(queue_name, 'q');
  begin
    perform pg_advisory_xact_lock(hashtext('pgmq.queue_' || queue_name));
    if to_regclass(format('pgmq.%I', qtable)) is null then
      raise notice 'pgmq queue `%` does not exist', queue_name;
      return false;
    end if;
    execute format('drop table if exists pgmq.%I', qtable);
    execute format('drop table if exists pgmq.%I', pgmq.format_table_name(queue_name, 'a'));
    delete from pgmq.meta m where m.queue_name = drop_queue.queue_name;
    return true;
  end;
  $fn$;
  comment on function pgmq.drop_queue(text) is
    'Drops a queue, its archive and its registry row; false when it does not exist.';
end
$$;

-- Sending. The (headers, timestamptz) forms do the work; the others fill in pgmq's defaults.
do $$
begin
  if current_setting('backend_team.pgmq_local', true) is distinct from 'install' then
    return;
  end if;

  create or replace function pgmq.send(
    queue_name text, msg jsonb, headers jsonb, delay timestamptz
  )
  returns setof bigint
  language plpgsql
  set search_path = ''
  as $fn$
  begin
    return query execute format(
      'insert into pgmq.%I (vt, message, headers) values ($1, $2, $3) returning msg_id',
      pgmq.format_table_name(queue_name, 'q')
    ) using delay, msg, headers;
  end;
  $fn$;
  comment on function pgmq.send(text, jsonb, jsonb, timestamptz) is
    'Enqueues a message with headers, invisible until the given time; returns its id.';

  create or replace function pgmq.send(queue_name text, msg jsonb, headers jsonb, delay integer)
  returns setof bigint
  language sql
  set search_path = ''
  as $fn$
    select * from pgmq.send(queue_name, msg, headers, clock_timestamp() + make_interval(secs => delay))
  $fn$;
  comment on function pgmq.send(text, jsonb, jsonb, integer) is
    'Enqueues a message with headers, invisible for delay seconds; returns its id.';

  create or replace function pgmq.send(queue_name text, msg jsonb, delay timestamptz)
  returns setof bigint
  language sql
  set search_path = ''
  as $fn$
    select * from pgmq.send(queue_name, msg, null::jsonb, delay)
  $fn$;
  comment on function pgmq.send(text, jsonb, timestamptz) is
    'Enqueues a message invisible until the given time; returns its id.';

  create or replace function pgmq.send(queue_name text, msg jsonb, delay integer)
  returns setof bigint
  language sql
  set search_path = ''
  as $fn$
    select * from pgmq.send(queue_name, msg, null::jsonb, clock_timestamp() + make_interval(secs => delay))
  $fn$;
  comment on function pgmq.send(text, jsonb, integer) is
    'Enqueues a message invisible for delay seconds; returns its id.';

  create or replace function pgmq.send(queue_name text, msg jsonb, headers jsonb)
  returns setof bigint
  language sql
  set search_path = ''
  as $fn$
    select * from pgmq.send(queue_name, msg, headers, clock_timestamp())
  $fn$;
  comment on function pgmq.send(text, jsonb, jsonb) is
    'Enqueues a message with headers, visible at once; returns its id.';

  create or replace function pgmq.send(queue_name text, msg jsonb)
  returns setof bigint
  language sql
  set search_path = ''
  as $fn$
    select * from pgmq.send(queue_name, msg, null::jsonb, clock_timestamp())
  $fn$;
  comment on function pgmq.send(text, jsonb) is 'Enqueues a message, visible at once; returns its id.';

  -- Ids come back in the order of `msgs` (callers such as pgflow pair them up by position).
  create or replace function pgmq.send_batch(
    queue_name text, msgs jsonb[], headers jsonb[], delay timestamptz
  )
  returns setof bigint
  language plpgsql
  set search_path = ''
  as $fn$
  begin
    if headers is not null and cardinality(headers) <> cardinality(msgs) then
      raise exception 'send_batch got % headers for % messages', cardinality(headers), cardinality(msgs);
    end if;
    return query execute format(
      $q$
      insert into pgmq.%I (vt, message, headers)
      select $1, m.body, $3[m.position::integer]
      from unnest($2) with ordinality as m(body, position)
      order by m.position
      returning msg_id
      $q$,
      pgmq.format_table_name(queue_name, 'q')
    ) using delay, msgs, headers;
  end;
  $fn$;
  comment on function pgmq.send_batch(text, jsonb[], jsonb[], timestamptz) is
    'Enqueues messages with headers, invisible until the given time; returns their ids in order.';

  create or replace function pgmq.send_batch(
    queue_name text, msgs jsonb[], headers jsonb[], delay integer
  )
  returns setof bigint
  language sql
  set search_path = ''
  as $fn$
    select * from pgmq.send_batch(
      queue_name, msgs, headers, clock_timestamp() + make_interval(secs => delay)
    )
  $fn$;
  comment on function pgmq.send_batch(text, jsonb[], jsonb[], integer) is
    'Enqueues messages with headers, invisible for delay seconds; returns their ids in order.';

  create or replace function pgmq.send_batch(queue_name text, msgs jsonb[], delay timestamptz)
  returns setof bigint
  language sql
  set search_path = ''
  as $fn$
    select * from pgmq.send_batch(queue_name, msgs, null::jsonb[], delay)
  $fn$;
  comment on function pgmq.send_batch(text, jsonb[], timestamptz) is
    'Enqueues messages invisible until the given time; returns their ids in order.';

  create or replace function pgmq.send_batch(queue_name text, msgs jsonb[], delay integer)
  returns setof bigint
  language sql
  set search_path = ''
  as $fn$
    select * from pgmq.send_batch(
      queue_name, msgs, null::jsonb[], clock_timestamp() + make_interval(secs => delay)
    )
  $fn$;
  comment on function pgmq.send_batch(text, jsonb[], integer) is
    'Enqueues messages invisible for delay seconds; returns their ids in order.';

  create or replace function pgmq.send_batch(queue_name text, msgs jsonb[], headers jsonb[])
  returns setof bigint
  language sql
  set search_path = ''
  as $fn$
    select * from pgmq.send_batch(queue_name, msgs, headers, clock_timestamp())
  $fn$;
  comment on function pgmq.send_batch(text, jsonb[], jsonb[]) is
    'Enqueues messages with headers, visible at once; returns their ids in order.';

  create or replace function pgmq.send_batch(queue_name text, msgs jsonb[])
  returns setof bigint
  language sql
  set search_path = ''
  as $fn$
    select * from pgmq.send_batch(queue_name, msgs, null::jsonb[], clock_timestamp())
  $fn$;
  comment on function pgmq.send_batch(text, jsonb[]) is
    'Enqueues messages, visible at once; returns their ids in order.';
end
$$;

-- Receiving: leases (read, read_with_poll, set_vt) and removal (pop, archive, delete).
do $$
begin
  if current_setting('backend_team.pgmq_local', true) is distinct from 'install' then
    return;
  end if;

  -- SKIP LOCKED: concurrent readers never block on, or receive, a message another reader is
  -- leasing; a row leased and committed meanwhile fails the vt re-check and is skipped too.
  create or replace function pgmq.read(
    queue_name text, vt integer, qty integer, conditional jsonb default '{}'
  )
  returns setof pgmq.message_record
  language plpgsql
  set search_path = ''
  as $fn$
  begin
    return query execute format(
      $q$
      with picked as (
        select msg_id
        from pgmq.%1$I
        where vt <= clock_timestamp()
          and (coalesce($3, '{}'::jsonb) = '{}'::jsonb or message @> $3)
        order by msg_id
        limit $1
        for update skip locked
      ), leased as (
        update pgmq.%1$I q
        set vt = clock_timestamp() + $2, read_ct = q.read_ct + 1
        from picked
        where q.msg_id = picked.msg_id
        returning q.msg_id, q.read_ct, q.enqueued_at, q.vt, q.message, q.headers
      )
      select * from leased order by msg_id
      $q$,
      pgmq.format_table_name(queue_name, 'q')
    ) using qty, make_interval(secs => vt), conditional;
  end;
  $fn$;
  comment on function pgmq.read(text, integer, integer, jsonb) is
    'Leases up to qty visible messages (oldest first, optionally only those containing '
    'conditional) for vt seconds, counting a delivery on each.';

  create or replace function pgmq.read_with_poll(
    queue_name text,
    vt integer,
    qty integer,
    max_poll_seconds integer default 5,
    poll_interval_ms integer default 100,
    conditional jsonb default '{}'
  )
  returns setof pgmq.message_record
  language plpgsql
  set search_path = ''
  as $fn$
  declare
    stop_at timestamptz := clock_timestamp() + make_interval(secs => max_poll_seconds);
  begin
    loop
      return query select * from pgmq.read(queue_name, vt, qty, conditional);
      if found or clock_timestamp() >= stop_at then
        return;
      end if;
      perform pg_sleep(poll_interval_ms / 1000.0);
    end loop;
  end;
  $fn$;
  comment on function pgmq.read_with_poll(text, integer, integer, integer, integer, jsonb) is
    'pgmq.read, retried every poll_interval_ms for up to max_poll_seconds until a message is there.';

  create or replace function pgmq.set_vt(queue_name text, msg_id bigint, vt integer)
  returns setof pgmq.message_record
  language plpgsql
  set search_path = ''
  as $fn$
  begin
    return query execute format(
      $q$
      update pgmq.%I
      set vt = clock_timestamp() + $2
      where msg_id = $1
      returning msg_id, read_ct, enqueued_at, vt, message, headers
      $q$,
      pgmq.format_table_name(queue_name, 'q')
    ) using msg_id, make_interval(secs => vt);
  end;
  $fn$;
  comment on function pgmq.set_vt(text, bigint, integer) is
    'Makes a message invisible until vt seconds from now (extends or ends a lease); returns it, '
    'or nothing when it is gone.';

  create or replace function pgmq.pop(queue_name text)
  returns setof pgmq.message_record
  language plpgsql
  set search_path = ''
  as $fn$
  begin
    return query execute format(
      $q$
      with picked as (
        select msg_id
        from pgmq.%1$I
        where vt <= clock_timestamp()
        order by msg_id
        limit 1
        for update skip locked
      )
      delete from pgmq.%1$I q
      using picked
      where q.msg_id = picked.msg_id
      returning q.msg_id, q.read_ct, q.enqueued_at, q.vt, q.message, q.headers
      $q$,
      pgmq.format_table_name(queue_name, 'q')
    );
  end;
  $fn$;
  comment on function pgmq.pop(text) is
    'Removes and returns the oldest visible message in one step (no lease, no redelivery).';

  -- A message leaves the queue in the same statement that writes it to the archive; a second
  -- archive of the same id finds nothing to delete, so nothing is archived twice.
  create or replace function pgmq.archive(queue_name text, msg_ids bigint[])
  returns setof bigint
  language plpgsql
  set search_path = ''
  as $fn$
  begin
    return query execute format(
      $q$
      with moved as (
        delete from pgmq.%I
        where msg_id = any($1)
        returning msg_id, read_ct, enqueued_at, vt, message, headers
      )
      insert into pgmq.%I (msg_id, read_ct, enqueued_at, vt, message, headers)
      select msg_id, read_ct, enqueued_at, vt, message, headers from moved
      returning msg_id
      $q$,
      pgmq.format_table_name(queue_name, 'q'), pgmq.format_table_name(queue_name, 'a')
    ) using msg_ids;
  end;
  $fn$;
  comment on function pgmq.archive(text, bigint[]) is
    'Moves messages to the archive; returns the ids that were moved.';

  create or replace function pgmq.archive(queue_name text, msg_id bigint)
  returns boolean
  language sql
  set search_path = ''
  as $fn$
    select exists (select from pgmq.archive(queue_name, array[msg_id]))
  $fn$;
  comment on function pgmq.archive(text, bigint) is
    'Moves a message to the archive; false when it is not in the queue.';

  create or replace function pgmq.delete(queue_name text, msg_ids bigint[])
  returns setof bigint
  language plpgsql
  set search_path = ''
  as $fn$
  begin
    return query execute format(
      'delete from pgmq.%I where msg_id = any($1) returning msg_id',
      pgmq.format_table_name(queue_name, 'q')
    ) using msg_ids;
  end;
  $fn$;
  comment on function pgmq.delete(text, bigint[]) is
    'Deletes messages for good; returns the ids that were deleted.';

  create or replace function pgmq.delete(queue_name text, msg_id bigint)
  returns boolean
  language sql
  set search_path = ''
  as $fn$
    select exists (select from pgmq.delete(queue_name, array[msg_id]))
  $fn$;
  comment on function pgmq.delete(text, bigint) is
    'Deletes a message for good; false when it is not in the queue.';
end
$$;

-- Metrics and privileges.
do $$
begin
  if current_setting('backend_team.pgmq_local', true) is distinct from 'install' then
    return;
  end if;

  create or replace function pgmq.metrics(queue_name text)
  returns pgmq.metrics_result
  language plpgsql
  set search_path = ''
  as $fn$
  declare
    qtable text := pgmq.format_table_name(queue_name, 'q');
    result pgmq.metrics_result;
  begin
    execute format(
      $q$
      select
        %L::text,
        count(*),
        extract(epoch from now() - max(enqueued_at))::integer,
        extract(epoch from now() - min(enqueued_at))::integer,
        coalesce(pg_sequence_last_value(pg_get_serial_sequence(%L, 'msg_id')::regclass), 0),
        now(),
        count(*) filter (where vt <= now())
      from pgmq.%I
      $q$,
      queue_name, format('pgmq.%I', qtable), qtable
    ) into result;
    return result;
  end;
  $fn$;
  comment on function pgmq.metrics(text) is
    'Metrics of one queue: queue_length, queue_visible_length, message ages, total_messages.';

  create or replace function pgmq.metrics_all()
  returns setof pgmq.metrics_result
  language sql
  set search_path = ''
  as $fn$
    select m.* from pgmq.meta, lateral pgmq.metrics(meta.queue_name) m order by m.queue_name
  $fn$;
  comment on function pgmq.metrics_all() is 'pgmq.metrics for every queue.';

  revoke all on schema pgmq from public;
  revoke execute on all functions in schema pgmq from public;
  grant usage on schema pgmq to service_role;
  grant select, insert, update, delete on pgmq.meta to service_role;
  grant execute on all functions in schema pgmq to service_role;
  if exists (select from pg_catalog.pg_roles where rolname = 'postgres') then
    grant usage on schema pgmq to postgres;
    grant select, insert, update, delete on pgmq.meta to postgres;
    grant execute on all functions in schema pgmq to postgres;
  end if;
end
$$;
