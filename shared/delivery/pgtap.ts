/**
 * Generates pgTAP test files (`supabase/tests/database/*.test.sql`, run by `supabase test db`) for
 * every table the deliverable creates: structure (the table, its primary key, foreign keys, not-null
 * and unique constraints, indexes, row level security, the exact set of policies and their
 * commands) and behaviour, basejump-style — acting as the owner, as another signed-in user and as
 * `anon` through `set local role` and `request.jwt.claims`, on fixture rows the owner holds. What a
 * role should see is read from the policies' parse trees (`schema_model.ts`): owner-scoped
 * policies (reading `auth.uid()`) mean the owner sees their row and nobody else does; a policy
 * that is plainly `true` means everyone does; an expression that is neither is not guessed at. Helpers live in a `tests` schema the file
 * creates inside its own rolled-back transaction, so nothing needs installing.
 *
 * @example
 * ```ts
 * const files = generatePgtapTests(model, fixtures);
 * files[0].path; // "supabase/tests/database/positions.test.sql"
 * ```
 */
import type { Fixtures } from "./fixture_search.ts";
import {
  FIXTURE_OTHER,
  FIXTURE_OWNER,
  fixtureInsertSql,
  fixtureOrder,
  fixturePredicate,
  fixtureUsersSql,
  ownedTables,
  ownerClaimsSql,
  tableKey,
} from "./fixtures.ts";
import {
  EXPOSED_SCHEMAS,
  type ExpressionModel,
  type PolicyModel,
  type SchemaModel,
  type TableModel,
} from "./schema_model.ts";
import { dollarQuoted, ident, literal, nameArray, qualified } from "./sql_text.ts";

/** Folder of the generated tests in the Supabase project. */
export const TEST_FOLDER = "supabase/tests/database";

/** One generated test file. */
export interface GeneratedTest {
  path: string;
  /** The table it covers (`schema.table`). */
  table: string;
  content: string;
  /** How many tests `plan()` announces. */
  planned: number;
  /** Why behaviour tests were left out, if they were. */
  skipped: string[];
}

/** Who a role's rows are visible to under a table's policies for one command. */
export type Reach = "nobody" | "everyone" | "own" | "unknown";

const HELPERS = `-- Test helpers (created in this transaction, gone after the rollback).
create schema if not exists tests;
create or replace function tests.act_as(p_user uuid) returns void
language plpgsql as $$
begin
  perform set_config('role', 'authenticated', true);
  perform set_config('request.jwt.claims',
    json_build_object('sub', p_user, 'role', 'authenticated')::text, true);
end
$$;
create or replace function tests.act_as_anon() returns void
language plpgsql as $$
begin
  perform set_config('role', 'anon', true);
  perform set_config('request.jwt.claims', '{"role": "anon"}', true);
end
$$;
-- Rows the current role sees of a query; -1 when it may not read the table at all.
create or replace function tests.row_count(p_query text) returns bigint
language plpgsql as $$
declare
  n bigint;
begin
  execute 'select count(*) from (' || p_query || ') as q' into n;
  return n;
exception when insufficient_privilege then
  return -1;
end
$$;
-- Rows a statement changed as the current role; -1 when it may not write the table at all.
create or replace function tests.changed_rows(p_statement text) returns bigint
language plpgsql as $$
declare
  n bigint;
begin
  execute p_statement;
  get diagnostics n = row_count;
  return n;
exception when insufficient_privilege then
  return -1;
end
$$;
grant usage on schema tests to anon, authenticated;
grant execute on all functions in schema tests to anon, authenticated;`;

/** One pgTAP file per delivered table, in table order. */
export function generatePgtapTests(model: SchemaModel, fixtures: Fixtures): GeneratedTest[] {
  const setup = fixtureSetup(model, fixtures);
  return model.tables.filter((t) => t.delivered).map((table) => {
    const statements: string[] = [...structureTests(table)];
    const skipped: string[] = [];
    const row = fixtures.rows.get(tableKey(table));
    if (!table.rls) {
      skipped.push("row level security is off, so there is no behaviour to test");
    } else if (!row) {
      skipped.push(
        `behaviour: no fixture row (${fixtures.missing.get(tableKey(table)) ?? "unknown reason"})`,
      );
    } else {
      statements.push(...behaviourTests(model, table, fixtures, skipped));
    }
    const name = table.schema === "public" ? table.name : `${table.schema}_${table.name}`;
    const header = [
      `-- pgTAP tests for ${tableKey(table)}, generated from the delivered schema.`,
      "-- Run with `supabase test db`; every change is rolled back at the end.",
      ...skipped.map((s) => `-- Not tested: ${s}.`),
    ];
    const planned = statements.filter(isAssertion).length;
    const content = [
      ...header,
      "begin;",
      "create extension if not exists pgtap with schema extensions;",
      "set local search_path = public, extensions;",
      `select plan(${planned});`,
      "",
      HELPERS,
      "",
      setup,
      "",
      ...statements.map((t) => `${t};`),
      "",
      "reset role;",
      "select * from finish();",
      "rollback;",
      "",
    ].join("\n");
    return {
      path: `${TEST_FOLDER}/${name}.test.sql`,
      table: tableKey(table),
      content,
      planned,
      skipped,
    };
  });
}

/** The fixture statements every file starts from: users, then one row per table, parents first. */
function fixtureSetup(model: SchemaModel, fixtures: Fixtures): string {
  const lines = [
    "-- Fixtures: the owner and another user, and one row per table held by the owner.",
    `${ownerClaimsSql()};`,
    `${fixtureUsersSql()};`,
  ];
  for (const table of fixtureOrder(model)) {
    const row = fixtures.rows.get(tableKey(table));
    if (row) lines.push(`${fixtureInsertSql(row)};`);
  }
  lines.push("select set_config('request.jwt.claims', '', true);");
  return lines.join("\n");
}

function structureTests(table: TableModel): string[] {
  const s = literal(table.schema);
  const t = literal(table.name);
  const label = tableKey(table);
  const out = [`select has_table(${s}, ${t}, ${literal(`${label} exists`)})`];
  if (table.primaryKey) {
    out.push(
      `select col_is_pk(${s}, ${t}, ${nameArray(table.primaryKey)}, ${
        literal(`${label} has primary key (${table.primaryKey.join(", ")})`)
      })`,
    );
  }
  for (const fk of table.foreignKeys) {
    out.push(
      `select fk_ok(${s}, ${t}, ${nameArray(fk.columns)}, ${literal(fk.refSchema)}, ${
        literal(fk.refTable)
      }, ${nameArray(fk.refColumns)}, ${
        literal(
          `${label}(${fk.columns.join(", ")}) references ${fk.refSchema}.${fk.refTable}(${
            fk.refColumns.join(", ")
          })`,
        )
      })`,
    );
  }
  const key = new Set(table.primaryKey ?? []);
  for (const column of table.columns) {
    if (!column.notNull || key.has(column.name)) continue;
    out.push(
      `select col_not_null(${s}, ${t}, ${literal(column.name)}, ${
        literal(`${label}.${column.name} is not null`)
      })`,
    );
  }
  for (const unique of table.uniques) {
    out.push(
      `select col_is_unique(${s}, ${t}, ${nameArray(unique)}, ${
        literal(`${label}(${unique.join(", ")}) is unique`)
      })`,
    );
  }
  for (const index of table.indexes.filter((i) => !i.constraint)) {
    if (index.keys) {
      out.push(
        `select has_index(${s}, ${t}, ${literal(index.name)}, ${nameArray(index.keys)}, ${
          literal(`${label} has index ${index.name} on (${index.keys.join(", ")})`)
        })`,
      );
    } else {
      // An expression key: pgTAP's forms without columns cannot take a description unambiguously.
      out.push(
        `select ok(exists (select 1 from pg_indexes where schemaname = ${s} and tablename = ${t} ` +
          `and indexname = ${literal(index.name)}), ${
            literal(`${label} has index ${index.name}`)
          })`,
      );
    }
  }
  if (table.rls || (EXPOSED_SCHEMAS as readonly string[]).includes(table.schema)) {
    out.push(
      `select ok((select relrowsecurity from pg_class where oid = ${
        literal(qualified(table.schema, table.name))
      }::regclass), ${literal(`row level security is enabled on ${label}`)})`,
    );
  }
  if (table.policies.length > 0) {
    out.push(
      `select policies_are(${s}, ${t}, ${nameArray(table.policies.map((p) => p.name))}, ${
        literal(`${label} has exactly its delivered policies`)
      })`,
    );
    for (const p of table.policies) {
      out.push(
        `select policy_cmd_is(${s}, ${t}, ${literal(p.name)}, ${literal(p.command)}, ${
          literal(`policy "${p.name}" on ${label} applies to ${p.command}`)
        })`,
      );
    }
  }
  return out;
}

/** Who sees (or may write) which rows for `command` as `role`, judged from the policies. */
export function reachOf(
  table: TableModel,
  role: "authenticated" | "anon",
  command: "select" | "insert" | "update" | "delete",
): Reach {
  const applicable = table.policies.filter((p) =>
    p.permissive && (p.command === command || p.command === "all") &&
    (p.roles.includes(role) || p.roles.includes("public"))
  );
  if (applicable.length === 0) return "nobody";
  const expressions = applicable.map((p) => condition(p, command));
  if (expressions.some((e) => e?.alwaysTrue)) return "everyone";
  if (expressions.every((e) => e?.readsIdentity)) return "own";
  return "unknown";
}

function condition(p: PolicyModel, command: string): ExpressionModel | null {
  return command === "insert" ? p.withCheck ?? p.using : p.using;
}

function behaviourTests(
  model: SchemaModel,
  table: TableModel,
  fixtures: Fixtures,
  skipped: string[],
): string[] {
  const key = tableKey(table);
  const row = fixtures.rows.get(key)!;
  const target = qualified(table.schema, table.name);
  const where = fixturePredicate(row, table);
  const own = `select 1 from ${target} where ${where}`;
  const column = updatableColumn(table);
  const update = column
    ? `update ${target} set ${ident(column)} = ${ident(column)} where ${where}`
    : null;
  const remove = `delete from ${target} where ${where}`;
  const out: string[] = [];
  const owned = ownedTables(model).has(key);
  // Unknown expressions on a user's rows are held to isolation: only `true` makes rows public.
  const expect = (
    role: "authenticated" | "anon",
    command: "select" | "insert" | "update" | "delete",
  ): "isolated" | "shared" | null => {
    const reach = reachOf(table, role, command);
    if (reach === "everyone") return "shared";
    if (reach === "own" || reach === "nobody") return "isolated";
    return owned ? "isolated" : null;
  };
  const ownerMay = (command: "select" | "update") => {
    const reach = reachOf(table, "authenticated", command);
    return reach === "own" || reach === "everyone" || (reach === "unknown" && owned);
  };
  const q = (sql: string) => dollarQuoted(sql);

  // The owner.
  out.push(`select tests.act_as(${literal(FIXTURE_OWNER)})`);
  if (ownerMay("select")) {
    out.push(
      `select is(tests.row_count(${q(own)}), 1::bigint, ${
        literal(`${key}: the owner sees their own row`)
      })`,
    );
  } else {
    skipped.push("what the owner sees (no select policy lets them read it)");
  }
  if (update && ownerMay("update")) {
    out.push(
      `select is(tests.changed_rows(${q(update)}), 1::bigint, ${
        literal(`${key}: the owner can update their own row`)
      })`,
    );
  }

  // Another signed-in user.
  out.push(`select tests.act_as(${literal(FIXTURE_OTHER)})`);
  const otherSelect = expect("authenticated", "select");
  if (otherSelect === "isolated") {
    out.push(
      `select is(tests.row_count(${q(own)}), 0::bigint, ${
        literal(`${key}: another user sees none of the owner's rows`)
      })`,
    );
  } else if (otherSelect === "shared") {
    out.push(
      `select is(tests.row_count(${q(own)}), 1::bigint, ${
        literal(`${key}: another user sees the owner's row, as a policy allows everyone`)
      })`,
    );
  } else {
    skipped.push("what another user sees (the rows have no owner and the policy is not `true`)");
  }
  if (update && expect("authenticated", "update") === "isolated") {
    out.push(
      `select cmp_ok(tests.changed_rows(${q(update)}), '<=', 0::bigint, ${
        literal(`${key}: another user cannot update the owner's rows`)
      })`,
    );
  }
  if (expect("authenticated", "delete") === "isolated") {
    out.push(
      `select cmp_ok(tests.changed_rows(${q(remove)}), '<=', 0::bigint, ${
        literal(`${key}: another user cannot delete the owner's rows`)
      })`,
    );
  }
  const intruder = fixtures.intruders.get(key);
  if (expect("authenticated", "insert") === "isolated" && intruder) {
    const insert = fixtureInsertSql(intruder).replace(/ on conflict do nothing$/, "");
    out.push(
      `select throws_ok(${q(insert)}, '42501', null, ${
        literal(`${key}: another user cannot insert a row that belongs to the owner`)
      })`,
    );
  }

  // Nobody signed in.
  out.push("select tests.act_as_anon()");
  const anonSelect = expect("anon", "select");
  if (anonSelect === "isolated") {
    out.push(
      `select cmp_ok(tests.row_count(${q(own)}), '<=', 0::bigint, ${
        literal(`${key}: anon sees none of the owner's rows`)
      })`,
    );
  } else if (anonSelect === "shared") {
    out.push(
      `select is(tests.row_count(${q(own)}), 1::bigint, ${
        literal(`${key}: anon sees the owner's row, as a policy allows everyone`)
      })`,
    );
  }
  if (update && expect("anon", "update") === "isolated") {
    out.push(
      `select cmp_ok(tests.changed_rows(${q(update)}), '<=', 0::bigint, ${
        literal(`${key}: anon cannot update the owner's rows`)
      })`,
    );
  }
  return out;
}

/** Whether a generated statement is a pgTAP assertion (counted by `plan`). */
function isAssertion(statement: string): boolean {
  return /^select (is|ok|cmp_ok|throws_ok|has_table|has_index|col_is_pk|col_not_null|col_is_unique|fk_ok|policies_are|policy_cmd_is)\(/
    .test(statement);
}

/** A column an idempotent `update … set c = c` can name: not generated, not an identity. */
function updatableColumn(table: TableModel): string | null {
  const key = new Set(table.primaryKey ?? []);
  const candidates = table.columns.filter((c) => !c.generated && c.identity !== "a");
  return (candidates.find((c) => !key.has(c.name)) ?? candidates[0])?.name ?? null;
}
