/**
 * Tenant isolation of the product schema, checked the way an attacker would try it: plain SQL as
 * `authenticated` with another user's claims (as PostgREST or a leaked connection would run it),
 * and as `anon`. Tables and functions are enumerated from the catalog, so a table or function
 * added later is covered without anyone remembering to add it here; the lint-style checks at the
 * end fail when one is added without RLS, a comment, a primary key, indexed foreign keys or a
 * fixed `search_path`.
 */
import assert from "node:assert/strict";
import { asCaller, type Claims, type Sql, type TransactionSql } from "../../shared/db/mod.ts";
import { freshDatabase, type TestDatabase } from "../_support/db.ts";

/** Functions a signed-in user may call; every other one is the service side's. */
const USER_FUNCTIONS = [
  "answer_clarification",
  "cancel_run",
  "owns_run_topic",
  "run_id_of_topic",
  "submit_run",
];

interface PgError {
  code: string;
  message: string;
}

function isPgError(e: unknown): e is PgError {
  return e instanceof Error && typeof (e as { code?: unknown }).code === "string";
}

/** A table, view or function of `backend_team`, quoted for SQL. */
interface Relation {
  name: string;
  qualified: string;
}

/** Every table and view of `backend_team`, from the catalog. */
async function relations(sql: Sql, kinds = ["r", "p", "v", "m", "f"]): Promise<Relation[]> {
  const rows = await sql`
    select c.relname as name, format('%I.%I', n.nspname, c.relname) as qualified
    from pg_class c join pg_namespace n on n.oid = c.relnamespace
    where n.nspname = 'backend_team' and c.relkind = any(${kinds}::"char"[])
    order by c.relname`;
  return rows.map((r) => ({ name: r.name, qualified: r.qualified }));
}

interface World {
  db: TestDatabase;
  alice: Claims & { sub: string };
  bob: Claims & { sub: string };
  anon: Claims;
  /** Alice's run that has rows in every table. */
  aliceRun: string;
  aliceTask: string;
  bobRun: string;
}

async function newUser(sql: Sql): Promise<Claims & { sub: string }> {
  const id = crypto.randomUUID();
  await sql`insert into auth.users (id, email) values (${id}, ${`${id}@example.test`})`;
  return { sub: id, role: "authenticated", aud: "authenticated" };
}

async function submitRun(sql: Sql, user: Claims, request: string): Promise<string> {
  const [run] = await asCaller(
    sql,
    user,
    (tx) => tx`select id from backend_team.submit_run(${request})`,
  );
  return run.id;
}

/** Gives `run` rows in every table, written by the service side as the workers would. */
async function populate(sql: Sql, run: string, owner: string): Promise<string> {
  for (const to of ["understanding", "planning"]) {
    await sql`select backend_team.transition_run(${run}::uuid, ${to})`;
  }
  const [task] = await sql`
    insert into backend_team.tasks (run_id, owner_id, key, agent, title)
    values (${run}, ${owner}, 'T1', 'db-architect', 'Create the todos table')
    returning id`;
  await sql`
    insert into backend_team.tasks (run_id, owner_id, key, agent, depends_on, remaining_deps)
    values (${run}, ${owner}, 'T2', 'security', '{T1}', 1)`;
  await sql`select backend_team.transition_run(${run}::uuid, 'executing')`;
  for (const to of ["queued", "running"]) {
    await sql`select backend_team.transition_task(${task.id}::uuid, ${to})`;
  }
  // An LLM answer charged to the run (its run_usage row).
  await sql`select backend_team.record_usage(${run}::uuid, 1200, 300, 0.00072)`;
  await sql`
    insert into backend_team.task_attempts (task_id, run_id, owner_id, attempt, prompt_tokens)
    values (${task.id}, ${run}, ${owner}, 1, 1200)`;
  await sql`
    insert into backend_team.artifacts (run_id, task_id, owner_id, kind, path, content)
    values (${run}, ${task.id}, ${owner}, 'migration',
            'supabase/migrations/20260101000000_todos.sql', 'create table todos ();')`;
  await sql`
    insert into backend_team.recovery_decisions
      (run_id, owner_id, task_id, class, strategy, from_task, reason)
    values (${run}, ${owner}, ${task.id}, 'schema', 'retry', 'T1', 'apply_error in T1')`;
  return task.id;
}

async function world(): Promise<World> {
  const db = await freshDatabase();
  const alice = await newUser(db.sql);
  const bob = await newUser(db.sql);
  const aliceRun = await submitRun(db.sql, alice, "A todo API with per-user lists");
  await submitRun(db.sql, alice, "A second run, left as received");
  const aliceTask = await populate(db.sql, aliceRun, alice.sub);
  const bobRun = await submitRun(db.sql, bob, "Bob's own run");
  await populate(db.sql, bobRun, bob.sub);
  return { db, alice, bob, anon: { role: "anon" }, aliceRun, aliceTask, bobRun };
}

/** Runs `fn` as `claims` and returns its result or the database error it failed with. */
async function attempt<T>(
  sql: Sql,
  claims: Claims,
  fn: (tx: TransactionSql) => Promise<T>,
): Promise<{ ok: T } | { error: PgError }> {
  try {
    return { ok: await asCaller(sql, claims, fn) };
  } catch (e) {
    if (isPgError(e)) return { error: e };
    throw e;
  }
}

/** A digest of every row of every table, to prove a failed attack changed nothing. */
async function fingerprint(sql: Sql): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const table of await relations(sql, ["r", "p"])) {
    const [row] = await sql.unsafe(
      `select count(*)::text || ':' || coalesce(md5(string_agg(t::text, ',' order by t::text)), '')
         as digest
       from ${table.qualified} t`,
    );
    out[table.name] = row.digest;
  }
  return out;
}

Deno.test("another user reads none of a user's rows in any table, and only their own", async () => {
  const w = await world();
  await using _db = w.db;
  const sql = w.db.sql;
  const tables = await relations(sql);
  assert.ok(tables.length >= 5, "the schema's tables are found in the catalog");
  const problems: string[] = [];
  const readers = [
    { name: "bob", claims: w.bob, other: w.alice.sub },
    { name: "alice", claims: w.alice, other: w.bob.sub },
  ];
  for (const table of tables) {
    const [{ has_owner }] = await sql`
      select exists (select 1 from pg_attribute
                      where attrelid = ${table.qualified}::regclass and attname = 'owner_id'
                        and not attisdropped) as has_owner`;
    if (!has_owner) {
      problems.push(`${table.name} has no owner_id: its isolation cannot be checked`);
      continue;
    }
    const rows = await sql.unsafe(
      `select owner_id::text as owner, count(*)::int as n from ${table.qualified} group by 1`,
    );
    const owned = new Map(rows.map((r) => [r.owner as string, r.n as number]));
    if (!owned.get(w.alice.sub) || !owned.get(w.bob.sub)) {
      problems.push(`${table.name} has no seeded rows: give it rows in populate() to test it`);
      continue;
    }
    for (const reader of readers) {
      const seen = await attempt(sql, reader.claims, (tx) =>
        tx.unsafe(
          `select count(*)::int as total,
                  count(*) filter (where owner_id = $1)::int as others
           from ${table.qualified}`,
          [reader.other],
        ));
      if ("error" in seen) {
        problems.push(`${reader.name} cannot read ${table.name}: ${seen.error.message}`);
        continue;
      }
      const [{ total, others }] = seen.ok;
      const own = owned.get(reader.claims.sub);
      if (others !== 0) problems.push(`${reader.name} reads ${others} foreign ${table.name} rows`);
      if (total !== own) {
        problems.push(`${reader.name} reads ${total} of their ${own} ${table.name}`);
      }
    }
  }
  assert.deepEqual(problems, []);
});

Deno.test("anon reads nothing from any table of backend_team", async () => {
  const w = await world();
  await using _db = w.db;
  for (const table of await relations(w.db.sql)) {
    const seen = await attempt(
      w.db.sql,
      w.anon,
      (tx) => tx.unsafe(`select count(*)::int as n from ${table.qualified}`),
    );
    if ("error" in seen) assert.equal(seen.error.code, "42501", table.name);
    else assert.equal(seen.ok[0].n, 0, `anon reads rows of ${table.name}`);
  }
});

Deno.test("another user can insert, update, delete or truncate nothing in any table", async () => {
  const w = await world();
  await using _db = w.db;
  const sql = w.db.sql;
  const before = await fingerprint(sql);
  const problems: string[] = [];
  for (const table of await relations(sql, ["r", "p"])) {
    const [{ column }] = await sql`
      select quote_ident(attname) as column from pg_attribute
      where attrelid = ${table.qualified}::regclass and attnum > 0 and not attisdropped
      order by attnum limit 1`;
    const statements = [
      `insert into ${table.qualified} default values`,
      `insert into ${table.qualified} (owner_id) values ('${w.alice.sub}')`,
      `update ${table.qualified} set ${column} = ${column}`,
      `update ${table.qualified} set owner_id = '${w.bob.sub}'`,
      `delete from ${table.qualified}`,
      `truncate ${table.qualified} cascade`,
    ];
    for (const claims of [w.bob, w.anon]) {
      for (const statement of statements) {
        const result = await attempt(sql, claims, (tx) => tx.unsafe(statement));
        if ("ok" in result && result.ok.count > 0) {
          problems.push(`${claims.role} changed ${result.ok.count} rows: ${statement}`);
        } else if ("error" in result && result.error.code !== "42501") {
          problems.push(`${statement}: expected permission denied, got ${result.error.message}`);
        }
      }
    }
  }
  assert.deepEqual(problems, []);
  assert.deepEqual(await fingerprint(sql), before, "no row changed");
});

Deno.test("a user cannot call the service side's state machine functions", async () => {
  const w = await world();
  await using _db = w.db;
  const calls: [string, (tx: TransactionSql) => Promise<unknown>][] = [
    [
      "transition_run",
      (tx) => tx`select backend_team.transition_run(${w.aliceRun}::uuid, 'cancelled')`,
    ],
    [
      "transition_task",
      (tx) => tx`select backend_team.transition_task(${w.aliceTask}::uuid, 'failed')`,
    ],
    ["append_event", (tx) => tx`select backend_team.append_event(${w.aliceRun}::uuid, 'x', '{}')`],
    ["record_usage", (tx) => tx`select backend_team.record_usage(${w.aliceRun}::uuid, 1, 1)`],
    ["fail_run", (tx) => tx`select backend_team.fail_run(${w.aliceRun}::uuid, 'x', 'y')`],
  ];
  const before = await fingerprint(w.db.sql);
  for (const claims of [w.bob, w.alice, w.anon]) {
    for (const [name, call] of calls) {
      const result = await attempt(w.db.sql, claims, call);
      assert.ok("error" in result, `${claims.role} ${claims.sub ?? ""} called ${name}`);
      assert.equal(result.error.code, "42501", `${name}: ${result.error.message}`);
    }
  }
  assert.deepEqual(await fingerprint(w.db.sql), before);
});

Deno.test("only the user-facing functions are executable by authenticated, and none by anon", async () => {
  await using db = await freshDatabase();
  const rows = await db.sql`
    select p.oid::regprocedure::text as signature, p.proname as name,
           has_function_privilege('authenticated', p.oid, 'execute') as authenticated,
           has_function_privilege('anon', p.oid, 'execute') as anon
    from pg_proc p
    where p.pronamespace = 'backend_team'::regnamespace
    order by 1`;
  assert.ok(rows.length > USER_FUNCTIONS.length, "the schema's functions are found");
  assert.deepEqual(rows.filter((r) => r.anon).map((r) => r.signature), [], "anon executes");
  assert.deepEqual(
    [...new Set(rows.filter((r) => r.authenticated).map((r) => r.name))].sort(),
    USER_FUNCTIONS,
    "functions authenticated may execute",
  );
});

Deno.test("another user's cancel or answer on a run is a 404 that reveals nothing", async () => {
  const w = await world();
  await using _db = w.db;
  const sql = w.db.sql;
  await sql`
    select backend_team.transition_run(${w.aliceRun}::uuid, 'awaiting_clarification',
      '{"clarification": {"questions": [{"id": "q1", "text": "Which?"}]}}'::jsonb)`;
  const before = await fingerprint(sql);
  const messages: string[] = [];
  for (const run of [w.aliceRun, crypto.randomUUID()]) {
    for (
      const call of [
        (tx: TransactionSql) => tx`select backend_team.cancel_run(${run}::uuid)`,
        (tx: TransactionSql) =>
          tx`select backend_team.answer_clarification(${run}::uuid, '{"q1": "A"}'::jsonb)`,
      ]
    ) {
      const result = await attempt(sql, w.bob, call);
      assert.ok("error" in result, "bob acted on a run that is not his");
      assert.equal(result.error.code, "BT404");
      messages.push(result.error.message);
    }
  }
  assert.equal(new Set(messages).size, 1, "another's run and no run fail alike");
  assert.deepEqual(await fingerprint(sql), before, "nothing changed");
});

Deno.test("a session as authenticated without a user's claims acts for no one", async () => {
  const w = await world();
  await using _db = w.db;
  const sql = w.db.sql;
  const before = await fingerprint(sql);
  const cancel = (tx: TransactionSql) => tx`select backend_team.cancel_run(${w.aliceRun}::uuid)`;
  // Claims without a sub, and no claims at all (a pooled connection that only switched role).
  const withoutSub = await attempt(sql, { role: "authenticated" }, cancel);
  const withoutClaims = await sql.begin(async (tx) => {
    await tx`select set_config('role', 'authenticated', true)`;
    return await cancel(tx);
  }).then((ok) => ({ ok }), (e) => ({ error: e as PgError }));
  for (const [name, result] of [["no sub", withoutSub], ["no claims", withoutClaims]] as const) {
    assert.ok("error" in result, `${name}: the run was cancelled`);
    assert.equal(result.error.code, "BT404", `${name}: ${result.error.message}`);
  }
  assert.deepEqual(await fingerprint(sql), before, "nothing changed");
});

Deno.test("only the run's owner passes the realtime.messages policy for topic run:<id>", async () => {
  const w = await world();
  await using _db = w.db;
  const sql = w.db.sql;
  const topic = `run:${w.aliceRun}`;
  const malformed = [
    `run:${w.aliceRun}x`,
    `run:${w.aliceRun}:events`,
    `runs:${w.aliceRun}`,
    `RUN:${w.aliceRun}`,
    ` ${topic}`,
    `run:${w.aliceRun.replaceAll("-", "")}`,
    "run:",
    "run",
  ];
  for (const t of [topic, `run:${w.bobRun}`, ...malformed]) {
    await sql`
      insert into realtime.messages (topic, extension, event, payload, private)
      values (${t}, 'broadcast', 'probe', '{}', true)`;
  }
  await sql`
    insert into realtime.messages (topic, extension, event, payload, private)
    values (${topic}, 'presence', 'probe', '{}', true)`;
  /** How many probe rows `claims` may select while joining `joining` (as Realtime checks). */
  const visible = async (claims: Claims, joining: string, extension = "broadcast") => {
    const result = await attempt(sql, claims, async (tx) => {
      await tx`select set_config('realtime.topic', ${joining}, true)`;
      return await tx`
        select count(*)::int as n from realtime.messages
        where topic = realtime.topic() and event = 'probe' and extension = ${extension}`;
    });
    if ("error" in result) {
      assert.equal(result.error.code, "42501");
      return 0;
    }
    return result.ok[0].n;
  };
  assert.equal(await visible(w.alice, topic), 1, "alice joins her run's topic");
  assert.equal(await visible(w.bob, `run:${w.bobRun}`), 1, "bob joins his run's topic");
  assert.equal(await visible(w.bob, topic), 0, "bob cannot join alice's topic");
  assert.equal(await visible(w.alice, `run:${w.bobRun}`), 0, "alice cannot join bob's topic");
  assert.equal(await visible(w.anon, topic), 0, "anon cannot join");
  assert.equal(await visible({ role: "authenticated" }, topic), 0, "no sub, no join");
  assert.equal(await visible(w.alice, topic, "presence"), 0, "only broadcast is allowed");
  for (const t of malformed) {
    assert.equal(await visible(w.alice, t), 0, `topic ${JSON.stringify(t)}`);
  }
});

Deno.test("every table has RLS, a comment, a primary key and an owner_id column", async () => {
  await using db = await freshDatabase();
  const rows = await db.sql`
    select c.relname as name,
           c.relrowsecurity as rls,
           coalesce(obj_description(c.oid, 'pg_class'), '') <> '' as commented,
           exists (select 1 from pg_constraint k where k.conrelid = c.oid and k.contype = 'p')
             as has_primary_key,
           exists (select 1 from pg_attribute a
                    where a.attrelid = c.oid and a.attname = 'owner_id' and not a.attisdropped)
             as has_owner
    from pg_class c
    where c.relnamespace = 'backend_team'::regnamespace and c.relkind in ('r', 'p')
    order by 1`;
  assert.ok(rows.length >= 5);
  const problems = rows.flatMap((r) => [
    ...(r.rls ? [] : [`${r.name} has row level security off`]),
    ...(r.commented ? [] : [`${r.name} has no comment`]),
    ...(r.has_primary_key ? [] : [`${r.name} has no primary key`]),
    ...(r.has_owner ? [] : [`${r.name} has no owner_id for its policies`]),
  ]);
  assert.deepEqual(problems, []);
});

Deno.test("every foreign key in backend_team is covered by an index", async () => {
  await using db = await freshDatabase();
  // Covered: some valid, non-partial index starts with exactly the key's columns (in any order).
  const uncovered = await db.sql`
    select k.conname as name, k.conrelid::regclass::text as table_name
    from pg_constraint k
    where k.contype = 'f' and k.connamespace = 'backend_team'::regnamespace
      and not exists (
        select 1 from pg_index i
        where i.indrelid = k.conrelid and i.indisvalid and i.indpred is null
          and i.indnkeyatts >= cardinality(k.conkey)
          and (select array_agg(x order by x)
                 from unnest((i.indkey::int2[])[0:cardinality(k.conkey) - 1]) x)
              = (select array_agg(x order by x) from unnest(k.conkey) x))
    order by 2, 1`;
  const [{ n }] = await db.sql`
    select count(*)::int as n from pg_constraint
    where contype = 'f' and connamespace = 'backend_team'::regnamespace`;
  assert.ok(n >= 5, "the schema's foreign keys are found");
  assert.deepEqual(uncovered.map((r) => `${r.table_name}.${r.name}`), []);
});

Deno.test("every function in backend_team pins its search_path", async () => {
  await using db = await freshDatabase();
  const rows = await db.sql`
    select p.oid::regprocedure::text as signature,
           exists (select 1 from unnest(coalesce(p.proconfig, '{}')) c
                    where c like 'search\\_path=%') as pinned
    from pg_proc p
    where p.pronamespace = 'backend_team'::regnamespace
    order by 1`;
  assert.ok(rows.length >= 10, "the schema's functions are found");
  assert.deepEqual(rows.filter((r) => !r.pinned).map((r) => r.signature), []);
});
