import assert from "node:assert/strict";
import type { Fixtures } from "./fixture_search.ts";
import {
  FIXTURE_OWNER,
  fixtureOrder,
  type FixtureRow,
  planFixtureRow,
  tableKey,
  variantRow,
} from "./fixtures.ts";
import { generatePgtapTests, reachOf } from "./pgtap.ts";
import type { ExpressionModel, SchemaModel, TableModel } from "./schema_model.ts";

const column = {
  hasDefault: false,
  identity: "",
  generated: false,
  enumLabels: null,
  maxLength: null,
};
const uuid = { ...column, type: "uuid", baseType: "uuid" };
const text = { ...column, type: "text", baseType: "text" };

/** An expression as `schema_model.ts` describes it (what its parse tree says, given here). */
function expr(text: string, readsIdentity = false, alwaysTrue = false): ExpressionModel {
  return { text, readsIdentity, alwaysTrue };
}
const ownRows = expr("(user_id = ( SELECT auth.uid() AS uid))", true);

function notes(policies: TableModel["policies"], rls = true): TableModel {
  return {
    schema: "public",
    name: "notes",
    delivered: true,
    rls,
    columns: [
      { name: "id", notNull: true, ...uuid, hasDefault: true },
      { name: "user_id", notNull: true, ...uuid },
      { name: "kind", notNull: true, ...text },
      { name: "body", notNull: false, ...text },
    ],
    primaryKey: ["id"],
    uniques: [],
    foreignKeys: [{
      name: "notes_user_id_fkey",
      columns: ["user_id"],
      refSchema: "auth",
      refTable: "users",
      refColumns: ["id"],
    }],
    checkedColumns: ["kind"],
    policies,
    indexes: [
      {
        name: "notes_pkey",
        keys: ["id"],
        unique: true,
        primary: true,
        constraint: true,
        partial: false,
      },
      {
        name: "notes_user_id_idx",
        keys: ["user_id"],
        unique: false,
        primary: false,
        constraint: false,
        partial: false,
      },
      {
        name: "notes_lower_body_idx",
        keys: null,
        unique: false,
        primary: false,
        constraint: false,
        partial: false,
      },
    ],
    ownerColumns: ["user_id"],
  };
}

const ownerOnly: TableModel["policies"] = [
  {
    name: "own",
    command: "all",
    roles: ["authenticated"],
    permissive: true,
    using: ownRows,
    withCheck: ownRows,
  },
];

/** Fixtures as the search would settle on them: the planned values plus a kind the check allows. */
function fixturesFor(model: SchemaModel): Fixtures {
  const rows = new Map<string, FixtureRow>();
  const intruders = new Map<string, FixtureRow>();
  for (const t of fixtureOrder(model)) {
    const planned = planFixtureRow(model, t, rows);
    if ("reason" in planned) continue;
    const values: Record<string, string | null> = { ...planned.fixed, kind: "idea" };
    const row: FixtureRow = {
      schema: t.schema,
      table: t.name,
      values: t.columns.filter((c) => c.name in values).map((c) => [c.name, values[c.name]]),
      overriding: false,
    };
    rows.set(tableKey(t), row);
    intruders.set(tableKey(t), variantRow(t, row, planned.ownKeys));
  }
  return { rows, intruders, missing: new Map() };
}

Deno.test("a fixture row holds the owner's id, keys derived from the table and nothing it may leave out", () => {
  const model = { tables: [notes(ownerOnly)] };
  const planned = planFixtureRow(model, model.tables[0], new Map());
  assert.ok(!("reason" in planned));
  assert.deepEqual(Object.keys(planned.fixed), ["id", "user_id"]);
  assert.equal(planned.fixed.user_id, FIXTURE_OWNER);
  assert.match(planned.fixed.id!, /^10000000-0000-4000-8000-[0-9a-f]{12}$/);
  assert.deepEqual(planned.ownKeys, ["id"]);
  const row = fixturesFor(model).rows.get("public.notes")!;
  const intruder = variantRow(model.tables[0], row, planned.ownKeys);
  assert.notEqual(intruder.values[0][1], row.values[0][1], "another key");
  assert.equal(intruder.values[1][1], FIXTURE_OWNER, "the same owner");
});

Deno.test("a child's fixture row points at its parent's, and cannot be made without one", () => {
  const parent = notes(ownerOnly);
  const child: TableModel = {
    ...notes(ownerOnly),
    name: "note_links",
    columns: [
      { name: "note_id", notNull: true, ...uuid },
      { name: "url", notNull: true, ...text },
    ],
    primaryKey: ["note_id"],
    foreignKeys: [{
      name: "note_links_note_id_fkey",
      columns: ["note_id"],
      refSchema: "public",
      refTable: "notes",
      refColumns: ["id"],
    }],
    ownerColumns: [],
  };
  const model = { tables: [child, parent] };
  assert.deepEqual(fixtureOrder(model).map((t) => t.name), ["notes", "note_links"]);
  const fixtures = fixturesFor(model);
  assert.equal(
    fixtures.rows.get("public.note_links")!.values[0][1],
    fixtures.rows.get("public.notes")!.values[0][1],
  );
  assert.deepEqual(planFixtureRow(model, child, new Map()), {
    reason: "needs a row in public.notes, which has none",
  });
});

function assertions(content: string): string[] {
  return content.split("\n").filter((l) =>
    /^select (is|ok|cmp_ok|throws_ok|has_|col_|fk_ok|polic)/.test(l)
  );
}

Deno.test("the plan announces exactly the assertions the file makes", () => {
  const model = { tables: [notes(ownerOnly)] };
  const [file] = generatePgtapTests(model, fixturesFor(model));
  assert.equal(file.path, "supabase/tests/database/notes.test.sql");
  assert.match(file.content, new RegExp(`select plan\\(${assertions(file.content).length}\\);`));
  assert.equal(file.planned, assertions(file.content).length);
  assert.match(file.content, /^begin;$/m);
  assert.match(file.content, /^rollback;$/m);
});

Deno.test("structure tests cover the key, foreign keys, not-null columns, indexes, RLS and policies", () => {
  const model = { tables: [notes(ownerOnly)] };
  const [file] = generatePgtapTests(model, fixturesFor(model));
  for (
    const expected of [
      "select has_table('public', 'notes',",
      "select col_is_pk('public', 'notes', array['id']::name[],",
      "select fk_ok('public', 'notes', array['user_id']::name[], 'auth', 'users', array['id']::name[],",
      "select col_not_null('public', 'notes', 'kind',",
      "select has_index('public', 'notes', 'notes_user_id_idx', array['user_id']::name[],",
      "select ok(exists (select 1 from pg_indexes where schemaname = 'public' and tablename = 'notes' and indexname = 'notes_lower_body_idx'),",
      "select ok((select relrowsecurity from pg_class where oid = 'public.notes'::regclass),",
      "select policies_are('public', 'notes', array['own']::name[],",
      "select policy_cmd_is('public', 'notes', 'own', 'all',",
    ]
  ) {
    assert.ok(file.content.includes(expected), expected);
  }
  assert.ok(!file.content.includes("'notes_pkey'"), "constraint indexes are covered by col_is_pk");
});

Deno.test("owner-only policies are tested by behaviour: the owner sees their row, nobody else does", () => {
  const model = { tables: [notes(ownerOnly)] };
  const fixtures = fixturesFor(model);
  const [file] = generatePgtapTests(model, fixtures);
  for (
    const name of [
      "public.notes: the owner sees their own row",
      "public.notes: the owner can update their own row",
      "public.notes: another user sees none of the owner''s rows",
      "public.notes: another user cannot update the owner''s rows",
      "public.notes: another user cannot delete the owner''s rows",
      "public.notes: another user cannot insert a row that belongs to the owner",
      "public.notes: anon sees none of the owner''s rows",
    ]
  ) {
    assert.ok(file.content.includes(`'${name}'`), name);
  }
  assert.match(file.content, /select throws_ok\(\$q\$insert into public\.notes .*\$q\$, '42501'/);
});

Deno.test("what a role may see is read from the policies", () => {
  const p = (using: ExpressionModel, roles = ["authenticated"]) => ({
    name: "p",
    command: "select" as const,
    roles,
    permissive: true,
    using,
    withCheck: null,
  });
  const reach = (
    policies: TableModel["policies"],
    role: "authenticated" | "anon" = "authenticated",
  ) => reachOf(notes(policies), role, "select");
  const open = expr("true", false, true);
  assert.equal(reach(ownerOnly), "own");
  assert.equal(reach([p(open)]), "everyone");
  assert.equal(reach([p(expr("(user_id = user_id)"))]), "unknown");
  assert.equal(reach([p(expr("private.is_member(team_id)", true))]), "own");
  assert.equal(reach([]), "nobody");
  assert.equal(
    reach([p(open)], "anon"),
    "nobody",
    "a policy for authenticated does not apply to anon",
  );
  assert.equal(reach([p(open, ["public"])], "anon"), "everyone");
});

Deno.test("a tautology on a user's rows is held to isolation, so the generated test catches the leak", () => {
  const leaky = [{
    ...ownerOnly[0],
    command: "select" as const,
    using: expr("(user_id = user_id)"),
  }];
  const model = { tables: [notes(leaky)] };
  const [file] = generatePgtapTests(model, fixturesFor(model));
  assert.ok(file.content.includes("another user sees none of the owner''s rows"));
});

Deno.test("a table open to everyone by a `true` policy is expected to be visible to another user", () => {
  const open = [{ ...ownerOnly[0], command: "select" as const, using: expr("true", false, true) }];
  const model = { tables: [notes(open)] };
  const [file] = generatePgtapTests(model, fixturesFor(model));
  assert.ok(
    file.content.includes("another user sees the owner''s row, as a policy allows everyone"),
  );
});

Deno.test("a table without row level security gets structural tests only, and says why", () => {
  const model = { tables: [notes([], false)] };
  const [file] = generatePgtapTests(model, fixturesFor(model));
  assert.ok(!file.content.includes("select tests.act_as("));
  assert.deepEqual(file.skipped, ["row level security is off, so there is no behaviour to test"]);
  assert.match(file.content, /^-- Not tested: row level security is off/m);
  assert.ok(
    file.content.includes("'row level security is enabled on public.notes'"),
    "and fails its RLS check",
  );
});
