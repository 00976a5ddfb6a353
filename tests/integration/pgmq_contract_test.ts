/**
 * The contract of the local stack's pgmq stand-in (`supabase/local/platform/30_pgmq.sql`): the
 * signatures, return values and delivery guarantees that Supabase's pgmq 1.5 gives and that the
 * agent workers rely on (leases by visibility timeout, exactly-once removal, concurrent readers
 * never sharing a message), proven on a real PostgreSQL with separate connections per worker.
 */
import assert from "node:assert/strict";
import { asCaller, connect, type Sql, type TransactionSql } from "../../shared/db/mod.ts";
import { freshDatabase } from "../_support/db.ts";
import { applyPlatformSql } from "../../shared/platform/mod.ts";

/** A message as pgmq returns it; postgres.js reads `bigint` as a string. */
interface MessageRow {
  msg_id: string;
  read_ct: number;
  enqueued_at: Date;
  vt: Date;
  message: Record<string, unknown> | null;
  headers: Record<string, unknown> | null;
}

/** Runs `fn` in a transaction as `service_role`, the role the agent workers use. */
async function asServiceRole<T>(sql: Sql, fn: (tx: TransactionSql) => Promise<T>): Promise<T> {
  const result = await sql.begin(async (tx) => {
    await tx`set local role service_role`;
    return await fn(tx);
  });
  return result as T;
}

/** One connection of its own acting as `service_role`, like one worker. */
async function workerConnection(url: string): Promise<Sql> {
  const worker = connect(url, { max: 1 });
  await worker`set role service_role`;
  return worker;
}

/** `count` worker connections, closed by the returned disposer. */
async function workers(url: string, count: number): Promise<Sql[] & AsyncDisposable> {
  const list = await Promise.all(Array.from({ length: count }, () => workerConnection(url)));
  return Object.assign(list, {
    async [Symbol.asyncDispose]() {
      await Promise.all(list.map((w) => w.end({ timeout: 5 })));
    },
  });
}

const ids = (rows: { msg_id: string }[]) => rows.map((r) => Number(r.msg_id));
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

Deno.test("pgmq types and function signatures are those of pgmq 1.5", async () => {
  await using db = await freshDatabase();
  const attributes = await db.sql<{ type: string; attrs: string }[]>`
    select t.typname as type,
           string_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod), ', '
                      order by a.attnum) as attrs
    from pg_type t
    join pg_attribute a on a.attrelid = t.typrelid and a.attnum > 0 and not a.attisdropped
    where t.typnamespace = 'pgmq'::regnamespace
      and t.typname in ('message_record', 'queue_record', 'metrics_result')
    group by t.typname order by t.typname`;
  assert.deepEqual([...attributes], [
    {
      type: "message_record",
      attrs: "msg_id bigint, read_ct integer, enqueued_at timestamp with time zone, " +
        "vt timestamp with time zone, message jsonb, headers jsonb",
    },
    {
      type: "metrics_result",
      attrs: "queue_name text, queue_length bigint, newest_msg_age_sec integer, " +
        "oldest_msg_age_sec integer, total_messages bigint, " +
        "scrape_time timestamp with time zone, queue_visible_length bigint",
    },
    {
      type: "queue_record",
      attrs: "queue_name character varying, is_partitioned boolean, is_unlogged boolean, " +
        "created_at timestamp with time zone",
    },
  ]);

  const functions = await db.sql<{ fn: string }[]>`
    select p.proname || '(' || pg_get_function_arguments(p.oid) || ') -> '
           || pg_get_function_result(p.oid) as fn
    from pg_proc p
    where p.pronamespace = 'pgmq'::regnamespace and not starts_with(p.proname, '_')
    order by 1`;
  const ts = "timestamp with time zone";
  const msg = "SETOF pgmq.message_record";
  assert.deepEqual(functions.map((f) => f.fn), [
    "archive(queue_name text, msg_id bigint) -> boolean",
    "archive(queue_name text, msg_ids bigint[]) -> SETOF bigint",
    "create(queue_name text) -> void",
    "create_non_partitioned(queue_name text) -> void",
    "create_unlogged(queue_name text) -> void",
    "delete(queue_name text, msg_id bigint) -> boolean",
    "delete(queue_name text, msg_ids bigint[]) -> SETOF bigint",
    "drop_queue(queue_name text) -> boolean",
    "format_table_name(queue_name text, prefix text) -> text",
    "list_queues() -> SETOF pgmq.queue_record",
    "metrics(queue_name text) -> pgmq.metrics_result",
    "metrics_all() -> SETOF pgmq.metrics_result",
    `pop(queue_name text) -> ${msg}`,
    "purge_queue(queue_name text) -> bigint",
    `read(queue_name text, vt integer, qty integer, conditional jsonb DEFAULT '{}'::jsonb) -> ${msg}`,
    "read_with_poll(queue_name text, vt integer, qty integer, max_poll_seconds integer DEFAULT 5, " +
    `poll_interval_ms integer DEFAULT 100, conditional jsonb DEFAULT '{}'::jsonb) -> ${msg}`,
    "send(queue_name text, msg jsonb) -> SETOF bigint",
    "send(queue_name text, msg jsonb, delay integer) -> SETOF bigint",
    `send(queue_name text, msg jsonb, delay ${ts}) -> SETOF bigint`,
    "send(queue_name text, msg jsonb, headers jsonb) -> SETOF bigint",
    "send(queue_name text, msg jsonb, headers jsonb, delay integer) -> SETOF bigint",
    `send(queue_name text, msg jsonb, headers jsonb, delay ${ts}) -> SETOF bigint`,
    "send_batch(queue_name text, msgs jsonb[]) -> SETOF bigint",
    "send_batch(queue_name text, msgs jsonb[], delay integer) -> SETOF bigint",
    `send_batch(queue_name text, msgs jsonb[], delay ${ts}) -> SETOF bigint`,
    "send_batch(queue_name text, msgs jsonb[], headers jsonb[]) -> SETOF bigint",
    "send_batch(queue_name text, msgs jsonb[], headers jsonb[], delay integer) -> SETOF bigint",
    `send_batch(queue_name text, msgs jsonb[], headers jsonb[], delay ${ts}) -> SETOF bigint`,
    `set_vt(queue_name text, msg_id bigint, vt integer) -> ${msg}`,
    "validate_queue_name(queue_name text) -> void",
  ]);

  const [mutable] = await db.sql<{ n: number }[]>`
    select count(*)::int as n from pg_proc
    where pronamespace = 'pgmq'::regnamespace
      and not coalesce('search_path=""' = any(proconfig), false)`;
  assert.equal(mutable.n, 0, "every pgmq function pins search_path");
});

Deno.test("send, read, archive and delete return what pgmq returns", async () => {
  await using db = await freshDatabase();
  await db.sql`select pgmq.create('jobs')`;
  await asServiceRole(db.sql, async (tx) => {
    const sent = await tx<{ send: string }[]>`
      select * from pgmq.send('jobs', '{"kind":"a","n":1}'::jsonb)
      union all select * from pgmq.send('jobs', '{"kind":"b","n":2}'::jsonb)
      union all select * from pgmq.send('jobs', '{"kind":"a","n":3}'::jsonb)
      union all select * from pgmq.send('jobs', '{"kind":"b","n":4}'::jsonb)`;
    assert.deepEqual(sent.map((r) => r.send), ["1", "2", "3", "4"]);

    const before = Date.now();
    const read = await tx<MessageRow[]>`select * from pgmq.read('jobs', 30, 2)`;
    assert.deepEqual(Object.keys(read[0]), [
      "msg_id",
      "read_ct",
      "enqueued_at",
      "vt",
      "message",
      "headers",
    ]);
    assert.deepEqual(ids(read), [1, 2], "oldest first, at most qty");
    assert.deepEqual(read.map((r) => r.read_ct), [1, 1]);
    assert.deepEqual(read[0].message, { kind: "a", n: 1 });
    assert.equal(read[0].headers, null);
    assert.ok(read[0].vt.getTime() >= before + 29_000, "leased for about 30 s");

    const onlyB = await tx<MessageRow[]>`
      select * from pgmq.read('jobs', 30, 10, '{"kind":"b"}'::jsonb)`;
    assert.deepEqual(ids(onlyB), [4], "conditional read skips leased and non-matching messages");

    const [a1] = await tx`select pgmq.archive('jobs', 1::bigint) as moved`;
    const [a2] = await tx`select pgmq.archive('jobs', 1::bigint) as moved`;
    assert.equal(a1.moved, true);
    assert.equal(a2.moved, false, "a second archive of the same id moves nothing");
    const archived = await tx`select msg_id, read_ct, message, archived_at from pgmq.a_jobs`;
    assert.equal(archived.length, 1);
    assert.equal(archived[0].read_ct, 1);
    assert.deepEqual(archived[0].message, { kind: "a", n: 1 });
    assert.ok(archived[0].archived_at instanceof Date);

    const [d1] = await tx`select pgmq.delete('jobs', 2::bigint) as deleted`;
    const [d2] = await tx`select pgmq.delete('jobs', 2::bigint) as deleted`;
    assert.equal(d1.deleted, true);
    assert.equal(d2.deleted, false);

    const deleted = await tx`select * from pgmq.delete('jobs', array[3, 99]::bigint[])`;
    assert.deepEqual(deleted.map((r) => Number(r.delete)), [3], "only ids that were there");
    const moved = await tx`select * from pgmq.archive('jobs', array[4, 3, 99]::bigint[])`;
    assert.deepEqual(moved.map((r) => Number(r.archive)), [4]);

    const [{ left }] = await tx`select count(*)::int as left from pgmq.q_jobs`;
    const [{ kept }] = await tx`select count(*)::int as kept from pgmq.a_jobs`;
    assert.equal(left, 0);
    assert.equal(kept, 2);
  });
});

Deno.test("metrics, list_queues, purge_queue and drop_queue report and act as pgmq", async () => {
  await using db = await freshDatabase();
  await db.sql`select pgmq.create('alpha'), pgmq.create('beta'), pgmq.create('alpha')`;
  await asServiceRole(db.sql, async (tx) => {
    const empty = await tx`select * from pgmq.metrics('alpha')`;
    assert.equal(empty[0].queue_name, "alpha");
    assert.equal(Number(empty[0].queue_length), 0);
    assert.equal(Number(empty[0].total_messages), 0);
    assert.equal(empty[0].newest_msg_age_sec, null);

    await tx`select pgmq.send_batch('alpha', array['{"n":1}', '{"n":2}', '{"n":3}']::jsonb[])`;
    await tx`select pgmq.send('alpha', '{"n":4}'::jsonb, 60)`;
    await tx`select * from pgmq.read('alpha', 60, 1)`;
    await tx`select pgmq.delete('alpha', 2::bigint)`;
  });
  // A separate transaction: like pgmq's, metrics measures visibility at now(), the transaction start.
  await asServiceRole(db.sql, async (tx) => {
    const [m] = await tx`select * from pgmq.metrics('alpha')`;
    assert.equal(Number(m.queue_length), 3, "ids 1, 3, 4 remain");
    assert.equal(Number(m.queue_visible_length), 1, "1 is leased and 4 is delayed");
    assert.equal(Number(m.total_messages), 4, "every message ever sent");
    assert.equal(typeof m.oldest_msg_age_sec, "number");
    assert.ok(m.scrape_time instanceof Date);

    // The product's own queues (bt_*, from its migrations) are in every test database too.
    const all = await tx`
      select queue_name, queue_length from pgmq.metrics_all() where not starts_with(queue_name, 'bt_')`;
    assert.deepEqual(all.map((r) => [r.queue_name, Number(r.queue_length)]), [
      ["alpha", 3],
      ["beta", 0],
    ]);

    const queues =
      await tx`select * from pgmq.list_queues() where not starts_with(queue_name, 'bt_')`;
    assert.deepEqual(queues.map((q) => [q.queue_name, q.is_partitioned, q.is_unlogged]), [
      ["alpha", false, false],
      ["beta", false, false],
    ]);

    const [{ purge_queue }] = await tx`select pgmq.purge_queue('alpha')`;
    assert.equal(Number(purge_queue), 3);
  });

  const [dropped] = await db.sql`select pgmq.drop_queue('beta') as first`;
  const [again] = await db.sql`select pgmq.drop_queue('beta') as second`;
  assert.equal(dropped.first, true);
  assert.equal(again.second, false);
  const [{ tables }] = await db.sql`
    select count(*)::int as tables from pg_class
    where relnamespace = 'pgmq'::regnamespace and relname in ('q_beta', 'a_beta')`;
  assert.equal(tables, 0);
  const names = await db
    .sql`select queue_name from pgmq.list_queues() where not starts_with(queue_name, 'bt_')`;
  assert.deepEqual(names.map((r) => r.queue_name), ["alpha"]);
});

Deno.test("a message read with a 2 s visibility timeout is hidden from other readers, then redelivered with read_ct 2", async () => {
  await using db = await freshDatabase();
  await db.sql`select pgmq.create('lease')`;
  await db.sql`select pgmq.send('lease', '{"task":"T1"}'::jsonb)`;
  await using pool = await workers(db.url, 2);
  const [first, second] = pool;

  const [leased] = await first<MessageRow[]>`select * from pgmq.read('lease', 2, 1)`;
  assert.equal(leased.read_ct, 1);
  assert.equal((await second`select * from pgmq.read('lease', 2, 1)`).length, 0);
  await sleep(1000);
  assert.equal(
    (await second`select * from pgmq.read('lease', 2, 1)`).length,
    0,
    "still hidden half way through the lease",
  );

  const redelivered = await second<MessageRow[]>`
    select * from pgmq.read_with_poll('lease', 2, 1, 5, 50)`;
  assert.equal(redelivered.length, 1);
  assert.equal(redelivered[0].msg_id, leased.msg_id);
  assert.equal(redelivered[0].read_ct, 2);
  assert.deepEqual(redelivered[0].message, { task: "T1" });
  // The new lease started (vt - 2 s) no earlier than the first lease ended, by the server's clock.
  assert.ok(redelivered[0].vt.getTime() - 2000 >= leased.vt.getTime());
});

Deno.test("four concurrent readers draining 2,000 messages receive each exactly once", async () => {
  await using db = await freshDatabase();
  await db.sql`select pgmq.create('drain')`;
  await db.sql`
    select count(*) from pgmq.send_batch(
      'drain', array(select jsonb_build_object('n', n) from generate_series(1, 2000) n))`;
  await using pool = await workers(db.url, 4);

  // Each worker: lease a batch, "process" it, then archive (even workers) or delete (odd ones).
  const drain = async (worker: Sql, index: number) => {
    const seen: { id: number; readCt: number; n: number }[] = [];
    for (;;) {
      const batch = await worker<MessageRow[]>`select * from pgmq.read('drain', 60, 25)`;
      if (batch.length === 0) return seen;
      for (const m of batch) {
        seen.push({ id: Number(m.msg_id), readCt: m.read_ct, n: Number(m.message?.n) });
      }
      const batchIds = ids(batch);
      if (index % 2 === 0) await worker`select pgmq.archive('drain', ${batchIds}::bigint[])`;
      else await worker`select pgmq.delete('drain', ${batchIds}::bigint[])`;
    }
  };
  const perWorker = await Promise.all(pool.map((w, i) => drain(w, i)));

  const all = perWorker.flat();
  assert.equal(all.length, 2000, "no message delivered twice");
  assert.equal(new Set(all.map((m) => m.id)).size, 2000);
  assert.deepEqual(
    [...new Set(all.map((m) => m.n))].sort((a, b) => a - b),
    Array.from({ length: 2000 }, (_, i) => i + 1),
    "every message delivered",
  );
  assert.ok(all.every((m) => m.readCt === 1), "leases held: nothing was redelivered");
  assert.ok(perWorker.filter((w) => w.length > 0).length >= 2, "readers really ran concurrently");

  const archivedByWorkers = perWorker.filter((_, i) => i % 2 === 0).flat().length;
  const [{ queued, archived }] = await db.sql`
    select (select count(*)::int from pgmq.q_drain) as queued,
           (select count(*)::int from pgmq.a_drain) as archived`;
  assert.equal(queued, 0);
  assert.equal(archived, archivedByWorkers);
});

Deno.test("concurrent pops and archives of the same messages move each exactly once", async () => {
  await using db = await freshDatabase();
  await db.sql`select pgmq.create('once')`;
  await using pool = await workers(db.url, 4);

  await db.sql`select count(*) from pgmq.send_batch('once', array(
    select jsonb_build_object('n', n) from generate_series(1, 200) n))`;
  const popAll = async (worker: Sql) => {
    const got: number[] = [];
    for (;;) {
      const rows = await worker<MessageRow[]>`select * from pgmq.pop('once')`;
      if (rows.length === 0) return got;
      got.push(...ids(rows));
    }
  };
  const popped = (await Promise.all(pool.map(popAll))).flat();
  assert.equal(popped.length, 200);
  assert.equal(new Set(popped).size, 200, "no message popped twice");

  const sent = ids(
    await db.sql<{ msg_id: string }[]>`
      select send_batch as msg_id from pgmq.send_batch('once', array(
        select jsonb_build_object('n', n) from generate_series(1, 100) n))`,
  );
  const movedByEach = await Promise.all(pool.map(async (worker) =>
    ids(
      await worker<{ msg_id: string }[]>`
        select archive as msg_id from pgmq.archive('once', ${sent}::bigint[])`,
    )
  ));
  const moved = movedByEach.flat();
  assert.equal(moved.length, 100, "the same ids archived by four workers at once");
  assert.equal(new Set(moved).size, 100);

  const single = ids(
    await db.sql<{ msg_id: string }[]>`
      select send_batch as msg_id from pgmq.send_batch('once', array(
        select jsonb_build_object('n', n) from generate_series(1, 40) n))`,
  );
  const wins = await Promise.all(pool.map(async (worker, w) => {
    const order = w % 2 === 0 ? single : [...single].reverse();
    const won: number[] = [];
    for (const id of order) {
      const [{ moved }] = await worker`select pgmq.archive('once', ${id}::bigint) as moved`;
      if (moved) won.push(id);
    }
    return won;
  }));
  const winners = wins.flat();
  assert.equal(winners.length, 40, "exactly one archive(q, id) per message returned true");
  assert.equal(new Set(winners).size, 40);

  const [{ archived, queued }] = await db.sql`
    select (select count(*)::int from pgmq.a_once) as archived,
           (select count(*)::int from pgmq.q_once) as queued`;
  assert.equal(archived, 140);
  assert.equal(queued, 0);
});

Deno.test("send_batch keeps order, headers are kept, and a delay hides a message until due", async () => {
  await using db = await freshDatabase();
  await db.sql`select pgmq.create('later')`;
  await asServiceRole(db.sql, async (tx) => {
    const batch = await tx<{ send_batch: string }[]>`
      select * from pgmq.send_batch('later',
        array['{"n":"a"}', '{"n":"b"}', '{"n":"c"}']::jsonb[],
        array['{"h":1}', '{"h":2}', '{"h":3}']::jsonb[])`;
    const read = await tx<MessageRow[]>`select * from pgmq.read('later', 30, 10)`;
    assert.deepEqual(ids(read), batch.map((r) => Number(r.send_batch)));
    assert.deepEqual(read.map((r) => [r.message?.n, r.headers?.h]), [["a", 1], ["b", 2], ["c", 3]]);
    await tx`select pgmq.delete('later', ${ids(read)}::bigint[])`;

    await tx`select pgmq.send('later', '{"n":"far"}'::jsonb, now() + interval '1 hour')`;
    await tx`select pgmq.send('later', '{"n":"h"}'::jsonb, '{"trace":"x"}'::jsonb, 0)`;
    const [withHeaders] = await tx<MessageRow[]>`select * from pgmq.read('later', 30, 5)`;
    assert.deepEqual(withHeaders.headers, { trace: "x" });
  });

  await db.sql`select pgmq.send('later', '{"n":"soon"}'::jsonb, 1)`;
  await db.sql`select * from pgmq.send_batch('later', array['{"n":"soon2"}']::jsonb[], 1)`;
  assert.equal((await db.sql`select * from pgmq.read('later', 30, 5)`).length, 0, "not yet due");
  const [m] = await db.sql`select queue_length, queue_visible_length from pgmq.metrics('later')`;
  assert.equal(Number(m.queue_length), 4);
  assert.equal(Number(m.queue_visible_length), 0);
  await sleep(1100);
  const due = await db.sql<MessageRow[]>`select * from pgmq.read('later', 30, 5)`;
  assert.deepEqual(due.map((r) => r.message?.n), ["soon", "soon2"], "the 1-hour one stays hidden");
});

Deno.test("set_vt extends a lease past its original visibility timeout", async () => {
  await using db = await freshDatabase();
  await db.sql`select pgmq.create('long_task')`;
  await db.sql`select pgmq.send('long_task', '{"task":"T9"}'::jsonb)`;
  await using pool = await workers(db.url, 2);
  const [owner, other] = pool;

  const [leased] = await owner<MessageRow[]>`select * from pgmq.read('long_task', 1, 1)`;
  const [extended] = await owner<MessageRow[]>`
    select * from pgmq.set_vt('long_task', ${leased.msg_id}::bigint, 4)`;
  assert.equal(extended.msg_id, leased.msg_id);
  assert.equal(extended.read_ct, 1, "extending is not a delivery");
  assert.ok(extended.vt.getTime() >= leased.vt.getTime() + 2500);

  await sleep(1300);
  assert.equal(
    (await other`select * from pgmq.read('long_task', 30, 1)`).length,
    0,
    "still leased after the original 1 s timeout",
  );

  const [released] = await owner<MessageRow[]>`
    select * from pgmq.set_vt('long_task', ${leased.msg_id}::bigint, 0)`;
  assert.ok(released, "set_vt to 0 ends the lease");
  const [again] = await other<MessageRow[]>`select * from pgmq.read('long_task', 30, 1)`;
  assert.equal(again.read_ct, 2);
  assert.equal((await owner`select * from pgmq.set_vt('long_task', 999::bigint, 5)`).length, 0);
});

Deno.test("re-applying the platform SQL leaves queues, messages and functions as they were", async () => {
  await using db = await freshDatabase();
  await db.sql`select pgmq.create('keep')`;
  await db.sql`select pgmq.send_batch('keep', array['{"n":1}', '{"n":2}', '{"n":3}']::jsonb[])`;
  await db.sql`select * from pgmq.read('keep', 300, 1)`;
  await db.sql`select pgmq.archive('keep', 3::bigint)`;

  const snapshot = async () => ({
    queued: await db.sql`select * from pgmq.q_keep order by msg_id`,
    archived: await db.sql`select * from pgmq.a_keep order by msg_id`,
    queues: await db.sql`select * from pgmq.meta order by queue_name`,
    functions: await db.sql`
      select p.oid::int as oid, p.proname, p.prosrc, p.proacl::text as acl, p.proconfig
      from pg_proc p where p.pronamespace = 'pgmq'::regnamespace order by p.oid`,
    relations: await db.sql`
      select relname, relkind, relacl::text as acl, relrowsecurity from pg_class
      where relnamespace = 'pgmq'::regnamespace order by relname`,
    schema: await db.sql`
      select nspacl::text as acl, obj_description(oid, 'pg_namespace') as comment
      from pg_namespace where nspname = 'pgmq'`,
  });
  const before = await snapshot();
  await applyPlatformSql(db.sql);
  await applyPlatformSql(db.sql);
  assert.deepEqual(await snapshot(), before);
  const [next] = await db.sql`select * from pgmq.send('keep', '{"n":4}'::jsonb)`;
  assert.equal(next.send, "4", "the queue carries on where it was");
});

Deno.test("a pgmq schema the platform SQL did not create is left untouched", async () => {
  await using db = await freshDatabase({ template: false });
  // Stands in for pgmq installed from its plain SQL file (no pg_extension row).
  await db.sql.unsafe(`
    create schema pgmq;
    create function pgmq.send(queue_name text, msg jsonb) returns setof bigint
      language sql as 'select 42::bigint';
  `);
  await applyPlatformSql(db.sql);
  const functions = await db.sql`
    select p.oid::regprocedure::text as fn from pg_proc p
    where p.pronamespace = 'pgmq'::regnamespace`;
  assert.deepEqual(functions.map((f) => f.fn), ["pgmq.send(text,jsonb)"]);
  const [{ meta }] = await db.sql`select to_regclass('pgmq.meta') as meta`;
  assert.equal(meta, null);
  const [{ send }] = await db.sql`select * from pgmq.send('x', '{}'::jsonb)`;
  assert.equal(send, "42");
});

Deno.test("only service_role and postgres can use queues; anon and authenticated are denied", async () => {
  await using db = await freshDatabase();
  await db.sql`select pgmq.create('guarded')`;
  await db.sql`select pgmq.send('guarded', '{"secret":true}'::jsonb)`;

  for (const role of ["authenticated", "anon"]) {
    const claims = { sub: crypto.randomUUID(), role };
    await assert.rejects(
      asCaller(db.sql, claims, (tx) => tx`select * from pgmq.send('guarded', '{}'::jsonb)`),
      /permission denied for schema pgmq/,
    );
    await assert.rejects(
      asCaller(db.sql, claims, (tx) => tx`select * from pgmq.read('guarded', 30, 1)`),
      /permission denied/,
    );
    await assert.rejects(
      asCaller(db.sql, claims, (tx) => tx`select * from pgmq.q_guarded`),
      /permission denied/,
    );
  }

  const privileges = await db.sql`
    select r.role,
           has_schema_privilege(r.role, 'pgmq', 'usage') as schema_usage,
           has_function_privilege(r.role, 'pgmq.read(text,integer,integer,jsonb)', 'execute')
             as read_execute,
           has_table_privilege(r.role, 'pgmq.q_guarded', 'select') as table_select
    from (values ('anon'), ('authenticated'), ('service_role'), ('postgres')) r(role)
    order by r.role`;
  assert.deepEqual(
    privileges.map((p) => [p.role, p.schema_usage, p.read_execute, p.table_select]),
    [
      ["anon", false, false, false],
      ["authenticated", false, false, false],
      ["postgres", true, true, true],
      ["service_role", true, true, true],
    ],
  );

  const tables = await db.sql`
    select c.relname, c.relrowsecurity,
           (select count(*)::int from pg_policy p where p.polrelid = c.oid) as policies
    from pg_class c
    where c.relnamespace = 'pgmq'::regnamespace and c.relname in ('q_guarded', 'a_guarded')
    order by c.relname`;
  // As pgmq's own create: RLS is left to the migration (the privileges above are the boundary).
  assert.deepEqual(tables.map((t) => [t.relname, t.relrowsecurity, t.policies]), [
    ["a_guarded", false, 0],
    ["q_guarded", false, 0],
  ]);

  const read = await asServiceRole(
    db.sql,
    (tx) => tx<MessageRow[]>`select * from pgmq.read('guarded', 30, 1)`,
  );
  assert.deepEqual(read[0].message, { secret: true }, "service_role uses the queue");
});

Deno.test("queue names follow pgmq's rules and a bad name raises a clear error", async () => {
  await using db = await freshDatabase();
  await assert.rejects(db.sql`select pgmq.create('bad;name')`, /invalid characters/);
  await assert.rejects(db.sql`select pgmq.create('x--y')`, /invalid characters/);
  await assert.rejects(db.sql`select pgmq.create('')`, /must not be empty/);
  await assert.rejects(db.sql`select pgmq.create(${"q".repeat(48)})`, /too long, maximum length/);
  await db.sql`select pgmq.create(${"q".repeat(47)})`;

  // Agent queues are named like `db-architect`; pgmq accepts that and lower-cases table names.
  await db.sql`select pgmq.create('db-architect'), pgmq.create('MixedCase')`;
  await db.sql`select pgmq.send('db-architect', '{}'::jsonb), pgmq.send('MixedCase', '{}'::jsonb)`;
  const tables = await db.sql`
    select relname from pg_class
    where relnamespace = 'pgmq'::regnamespace and relkind = 'r' and starts_with(relname, 'q_')
      and not starts_with(relname, 'q_bt_')
    order by relname`;
  assert.deepEqual(tables.map((t) => t.relname), [
    "q_db-architect",
    "q_mixedcase",
    `q_${"q".repeat(47)}`,
  ]);
  const [{ n }] = await db.sql`select count(*)::int as n from pgmq.read('MixedCase', 30, 5)`;
  assert.equal(n, 1);

  await assert.rejects(
    db.sql`select * from pgmq.send('missing', '{}'::jsonb)`,
    /relation "pgmq.q_missing" does not exist/,
  );
});

Deno.test("the product's own queue tables have row level security on (pgmq's create leaves it off)", async () => {
  await using db = await freshDatabase();
  const tables = await db.sql<{ relname: string; relrowsecurity: boolean }[]>`
    select c.relname, c.relrowsecurity from pg_class c
    where c.relnamespace = 'pgmq'::regnamespace and c.relkind = 'r'
      and (c.relname like 'q\\_bt\\_%' or c.relname like 'a\\_bt\\_%')
    order by 1`;
  assert.equal(tables.length, 20, tables.map((t) => t.relname).join(", "));
  assert.deepEqual(tables.filter((t) => !t.relrowsecurity).map((t) => t.relname), []);
});
