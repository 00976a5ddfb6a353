import assert from "node:assert/strict";
import type { Catalog, CatalogIndex, CatalogTable } from "./catalog.ts";
import { lintCatalog, SPLINTER_LINTS } from "./lints.ts";
import { RULES } from "./finding.ts";

function table(overrides: Partial<CatalogTable>): CatalogTable {
  return {
    schema: "public",
    name: "t",
    kind: "r",
    rls: true,
    forceRls: false,
    options: [],
    acl: null,
    anonAccess: true,
    authenticatedAccess: true,
    anonSelect: true,
    authenticatedSelect: true,
    fromExtension: false,
    readsAuthUsers: false,
    definition: null,
    ...overrides,
  };
}

function index(overrides: Partial<CatalogIndex>): CatalogIndex {
  return {
    schema: "public",
    table: "t",
    name: "i",
    definition: "",
    keyNums: [2, 3],
    includeNums: [],
    sortOptions: "0 0",
    nullsNotDistinct: false,
    unique: false,
    primary: false,
    expressions: null,
    predicate: null,
    opclasses: "3126 3126",
    collations: "100 100",
    method: "btree",
    ...overrides,
  };
}

function catalog(overrides: Partial<Catalog>): Catalog {
  return {
    schemas: ["public"],
    apiSchemas: ["public"],
    tables: [],
    columns: [],
    constraints: [],
    indexes: [],
    policies: [],
    functions: [],
    triggers: [],
    extensions: [],
    types: [],
    sequences: [],
    ...overrides,
  };
}

async function rules(c: Catalog, exposedSchemas = ["public"]): Promise<string[]> {
  return (await lintCatalog(c, { exposedSchemas })).map((h) => h.rule);
}

Deno.test("every Splinter lint mirrored is a splinter rule at Splinter's level", () => {
  const splinterLevels: Record<string, string> = {
    rls_references_user_metadata: "error",
    materialized_view_in_api: "warn",
    foreign_table_in_api: "warn",
    unsupported_reg_types: "warn",
    insecure_queue_exposed_in_api: "error",
    fkey_to_auth_unique: "error",
    sensitive_columns_exposed: "error",
    anon_security_definer_function_executable: "warn",
    authenticated_security_definer_function_executable: "warn",
    rls_policy_always_true: "warn",
    duplicate_index: "warn",
  };
  for (const [rule, level] of Object.entries(splinterLevels)) {
    const info = RULES[rule as keyof typeof RULES];
    assert.equal(info.level, level, rule);
    assert.equal(info.source, "splinter", rule);
  }
  for (const rule of Object.keys(SPLINTER_LINTS)) {
    assert.equal(RULES[rule as keyof typeof RULES].source, "splinter", rule);
  }
  assert.equal(
    Object.keys(RULES).filter((r) => RULES[r as keyof typeof RULES].source === "splinter").length,
    Object.keys(SPLINTER_LINTS).length,
    "every splinter rule has its number and remediation",
  );
});

Deno.test("a foreign table the API roles can select is reported; one they cannot, or outside the API, is not", async () => {
  const foreign = table({ name: "remote_orders", kind: "f", rls: false });
  assert.ok((await rules(catalog({ tables: [foreign] }))).includes("foreign_table_in_api"));
  const hidden = table({ ...foreign, anonSelect: false, authenticatedSelect: false });
  assert.ok(!(await rules(catalog({ tables: [hidden] }))).includes("foreign_table_in_api"));
  const elsewhere = table({ ...foreign, schema: "private" });
  assert.ok(!(await rules(catalog({ tables: [elsewhere] }))).includes("foreign_table_in_api"));
  const fromExtension = table({ ...foreign, fromExtension: true });
  assert.ok(!(await rules(catalog({ tables: [fromExtension] }))).includes("foreign_table_in_api"));
});

Deno.test("a queue table without RLS is insecure only while pgmq_public is exposed", async () => {
  const queue = table({ schema: "pgmq", name: "q_jobs", rls: false });
  const base = catalog({ tables: [queue], apiSchemas: ["public"] });
  assert.ok(!(await rules(base)).includes("insecure_queue_exposed_in_api"));
  assert.ok(
    (await rules(base, ["public", "pgmq_public"])).includes("insecure_queue_exposed_in_api"),
    "named in the exposed schemas",
  );
  assert.ok(
    (await rules(catalog({ tables: [queue], apiSchemas: ["public", "pgmq_public"] })))
      .includes("insecure_queue_exposed_in_api"),
    "pgmq_public granted to the API roles",
  );
  const archive = table({ schema: "pgmq", name: "a_jobs", rls: false });
  assert.ok(
    !(await rules(catalog({ tables: [archive] }), ["pgmq_public"]))
      .includes("insecure_queue_exposed_in_api"),
    "only queue tables, as Splinter",
  );
});

Deno.test("duplicate_index compares sort order, operator classes, collations, included columns and uniqueness", async () => {
  const dupes = async (...indexes: CatalogIndex[]) =>
    (await rules(catalog({ indexes }))).filter((r) => r === "duplicate_index").length;
  assert.equal(await dupes(index({ name: "a" }), index({ name: "b" })), 1);
  assert.equal(await dupes(index({ name: "a" }), index({ name: "b", sortOptions: "0 3" })), 0);
  assert.equal(await dupes(index({ name: "a" }), index({ name: "b", opclasses: "3126 10053" })), 0);
  assert.equal(await dupes(index({ name: "a" }), index({ name: "b", collations: "100 950" })), 0);
  assert.equal(await dupes(index({ name: "a" }), index({ name: "b", includeNums: [4] })), 0);
  assert.equal(await dupes(index({ name: "a" }), index({ name: "b", unique: true })), 0);
  assert.equal(await dupes(index({ name: "a" }), index({ name: "b", keyNums: [3, 2] })), 0);
  assert.equal(
    await dupes(index({ name: "a" }), index({ name: "b", predicate: "(x IS NULL)" })),
    0,
  );
});

Deno.test("lint messages carry Splinter's number and remediation", async () => {
  const hits = await lintCatalog(
    catalog({ tables: [table({ name: "m", kind: "m" })] }),
    { exposedSchemas: ["public"] },
  );
  const hit = hits.find((h) => h.rule === "materialized_view_in_api");
  assert.ok(hit);
  assert.match(
    hit.message,
    /Supabase advisor 0016: https:\/\/supabase\.com\/docs\/guides\/database\/database-linter\?lint=0016_materialized_view_in_api/,
  );
});

Deno.test("rls_policy_always_true: permissive writes for the API roles that let every row through", async () => {
  const t = table({ name: "s" });
  const policy = (over: Partial<Catalog["policies"][number]>) => ({
    schema: "public",
    table: "s",
    name: "p",
    command: "w",
    permissive: true,
    roles: ["authenticated"],
    using: "true",
    withCheck: "true",
    ...over,
  });
  const raised = async (p: Catalog["policies"][number]) =>
    (await rules(catalog({ tables: [t], policies: [p] }))).includes("rls_policy_always_true");
  assert.ok(await raised(policy({})), "update using (true) with check (true)");
  assert.ok(await raised(policy({ command: "d", withCheck: null })), "delete using (true)");
  assert.ok(
    await raised(policy({ command: "a", using: null, withCheck: null })),
    "insert, no check",
  );
  assert.ok(
    await raised(policy({ command: "a", using: null, withCheck: "1 = 1" })),
    "insert 1 = 1",
  );
  assert.ok(await raised(policy({ roles: ["public"], command: "*", withCheck: null })), "all");
  assert.ok(!await raised(policy({ command: "r", withCheck: null })), "select is left out");
  assert.ok(!await raised(policy({ permissive: false })), "restrictive");
  assert.ok(!await raised(policy({ roles: ["service_role"] })), "not an API role");
  assert.ok(
    !await raised(policy({ using: "(user_id = ( SELECT auth.uid() AS uid))", withCheck: null })),
    "update tied to the caller, with check defaulting to using",
  );
  assert.ok(!await raised(policy({ command: "a", using: null, withCheck: "false" })), "false");
});
