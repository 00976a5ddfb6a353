import assert from "node:assert/strict";
import type { CatalogTable, SchemaCatalog } from "./catalog.ts";
import type { Fixtures } from "./fixture_search.ts";
import { FIXTURE_OWNER, fixtureOrder, planFixtureRow, tableKey } from "./fixtures.ts";
import { generatePgtapTests, reachOf } from "./pgtap.ts";

const uuid = {
  type: "uuid",
  category: "U",
  hasDefault: false,
  identity: "",
  generated: false,
  enumLabels: null,
};
const text = {
  type: "text",
  category: "S",
  hasDefault: false,
  identity: "",
  generated: false,
  enumLabels: null,
};

function notes(policies: CatalogTable["policies"], rls = true): CatalogTable {
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
    checks: [{
      name: "notes_kind_check",
      columns: ["kind"],
      definition: "CHECK ((kind = ANY (ARRAY['idea'::text, 'todo'::text])))",
    }],
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
    ],
  };
}

const ownerOnly: CatalogTable["policies"] = [
  {
    name: "own",
    command: "all",
    roles: ["authenticated"],
    permissive: true,
    using: "(user_id = ( SELECT auth.uid() AS uid))",
    withCheck: "(user_id = ( SELECT auth.uid() AS uid))",
  },
];

function fixturesFor(catalog: SchemaCatalog): Fixtures {
  const rows = new Map();
  for (const t of fixtureOrder(catalog)) {
    const planned = planFixtureRow(catalog, t, { rows, choice: {}, variant: 1 });
    if ("row" in planned) rows.set(tableKey(t), planned.row);
  }
  return { rows, choices: new Map(), missing: new Map() };
}

function assertions(content: string): string[] {
  return content.split("\n").filter((l) =>
    /^select (is|ok|cmp_ok|throws_ok|has_|col_|fk_ok|polic)/.test(l)
  );
}

Deno.test("the plan announces exactly the assertions the file makes", () => {
  const catalog = { tables: [notes(ownerOnly)], identityFunctions: [] };
  const [file] = generatePgtapTests(catalog, fixturesFor(catalog));
  assert.equal(file.path, "supabase/tests/database/notes.test.sql");
  assert.match(file.content, new RegExp(`select plan\\(${assertions(file.content).length}\\);`));
  assert.equal(file.planned, assertions(file.content).length);
  assert.match(file.content, /^begin;$/m);
  assert.match(file.content, /^rollback;$/m);
});

Deno.test("structure tests cover the key, foreign keys, not-null columns, indexes, RLS and policies", () => {
  const catalog = { tables: [notes(ownerOnly)], identityFunctions: [] };
  const [file] = generatePgtapTests(catalog, fixturesFor(catalog));
  for (
    const expected of [
      "select has_table('public', 'notes',",
      "select col_is_pk('public', 'notes', array['id']::name[],",
      "select fk_ok('public', 'notes', array['user_id']::name[], 'auth', 'users', array['id']::name[],",
      "select col_not_null('public', 'notes', 'kind',",
      "select has_index('public', 'notes', 'notes_user_id_idx', array['user_id']::name[],",
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
  const catalog = { tables: [notes(ownerOnly)], identityFunctions: [] };
  const fixtures = fixturesFor(catalog);
  const row = fixtures.rows.get("public.notes")!;
  assert.deepEqual(row.values.map(([c]) => c), ["id", "user_id", "kind"]);
  assert.deepEqual(row.values[1], ["user_id", `'${FIXTURE_OWNER}'`]);
  assert.deepEqual(row.values[2], ["kind", "'idea'"], "a value the check constraint allows");
  const [file] = generatePgtapTests(catalog, fixtures);
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
  const catalog = (policies: CatalogTable["policies"]) => ({
    tables: [notes(policies)],
    identityFunctions: ["private.is_member"],
  });
  const p = (using: string, roles = ["authenticated"]) => ({
    name: "p",
    command: "select" as const,
    roles,
    permissive: true,
    using,
    withCheck: null,
  });
  const reach = (
    policies: CatalogTable["policies"],
    role: "authenticated" | "anon" = "authenticated",
  ) => reachOf(catalog(policies), catalog(policies).tables[0], role, "select");
  assert.equal(reach(ownerOnly), "own");
  assert.equal(reach([p("true")]), "everyone");
  assert.equal(reach([p("(user_id = user_id)")]), "unknown");
  assert.equal(reach([p("private.is_member(team_id)")]), "own");
  assert.equal(reach([]), "nobody");
  assert.equal(
    reach([p("true")], "anon"),
    "nobody",
    "a policy for authenticated does not apply to anon",
  );
  assert.equal(reach([p("true", ["public"])], "anon"), "everyone");
});

Deno.test("a tautology on a user's rows is held to isolation, so the generated test catches the leak", () => {
  const leaky = [{ ...ownerOnly[0], command: "select" as const, using: "(user_id = user_id)" }];
  const catalog = { tables: [notes(leaky)], identityFunctions: [] };
  const [file] = generatePgtapTests(catalog, fixturesFor(catalog));
  assert.ok(file.content.includes("another user sees none of the owner''s rows"));
});

Deno.test("a table open to everyone by a `true` policy is expected to be visible to another user", () => {
  const open = [{ ...ownerOnly[0], command: "select" as const, using: "true" }];
  const catalog = { tables: [notes(open)], identityFunctions: [] };
  const [file] = generatePgtapTests(catalog, fixturesFor(catalog));
  assert.ok(
    file.content.includes("another user sees the owner''s row, as a policy allows everyone"),
  );
});

Deno.test("a table without row level security gets structural tests only, and says why", () => {
  const catalog = { tables: [notes([], false)], identityFunctions: [] };
  const [file] = generatePgtapTests(catalog, fixturesFor(catalog));
  assert.ok(!file.content.includes("select tests.act_as("));
  assert.deepEqual(file.skipped, ["row level security is off, so there is no behaviour to test"]);
  assert.match(file.content, /^-- Not tested: row level security is off/m);
  assert.ok(
    file.content.includes("'row level security is enabled on public.notes'"),
    "and fails its RLS check",
  );
});
