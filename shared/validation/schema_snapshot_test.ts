import assert from "node:assert/strict";
import type { Catalog } from "./catalog.ts";
import { diffSnapshots, snapshotOf, tablesTouched } from "./schema_snapshot.ts";

function catalog(overrides: Partial<Catalog> = {}): Catalog {
  return {
    schemas: ["public"],
    apiSchemas: ["public"],
    tables: [{
      schema: "public",
      name: "t",
      kind: "r",
      rls: true,
      forceRls: false,
      options: [],
      acl: "{owner=arwdDxt/owner,anon=r/owner}",
      anonAccess: true,
      authenticatedAccess: true,
      anonSelect: true,
      authenticatedSelect: true,
      fromExtension: false,
      readsAuthUsers: false,
      definition: null,
    }],
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

Deno.test("grants given back in another order are the same schema", () => {
  const before = catalog();
  const after = catalog({
    tables: [{ ...before.tables[0], acl: "{anon=r/owner,owner=arwdDxt/owner}" }],
  });
  assert.deepEqual(diffSnapshots(snapshotOf(before), snapshotOf(after)), {
    added: [],
    removed: [],
    changed: [],
  });
});

Deno.test("a lost policy and a changed RLS flag are differences, and name the table they touch", () => {
  const before = catalog({
    policies: [{
      schema: "public",
      table: "t",
      name: "p",
      command: "r",
      permissive: true,
      roles: ["authenticated"],
      using: "true",
      withCheck: null,
    }],
  });
  const after = catalog({ tables: [{ ...before.tables[0], rls: false }] });
  const diff = diffSnapshots(snapshotOf(before), snapshotOf(after));
  assert.deepEqual(diff, {
    added: [],
    removed: ["policy:public.t.p"],
    changed: ["table:public.t"],
  });
  assert.deepEqual([...tablesTouched(diff)], ["public.t"]);
});
