import assert from "node:assert/strict";
import { emptySchema } from "./model.ts";
import { readSql } from "./read.ts";
import { selectTables, tableKey, tablesMentioned } from "./select.ts";

async function chain() {
  const model = emptySchema();
  await readSql(
    model,
    `create table orgs (id bigint primary key);
     create table projects (id bigint primary key, org_id bigint references orgs (id));
     create table tasks (id bigint primary key, project_id bigint references projects (id),
       owner uuid references auth.users (id));
     create table comments (id bigint primary key, task_id bigint references tasks (id));
     create table invoices (id bigint primary key, org_id bigint references orgs (id));
     create table invoice_items (id bigint primary key, invoice_id bigint references invoices (id));`,
  );
  return model;
}

Deno.test("foreign key targets one hop away are neighbours; two hops are not", async () => {
  const s = selectTables(await chain(), { tables: ["tasks"], text: "" });
  assert.deepEqual(s.focus, ["public.tasks"]);
  assert.deepEqual(s.neighbours, ["public.projects"]);
  assert.deepEqual(s.external, ["auth.users"]);
});

Deno.test("tables referencing the focus table are not pulled in", async () => {
  const s = selectTables(await chain(), { tables: ["tasks"], text: "" });
  assert.ok(!s.neighbours.includes("public.comments"));
});

Deno.test("tables named in the task text join the focus; similar names do not", async () => {
  const model = await chain();
  const s = selectTables(model, {
    tables: ["public.Tasks"],
    text: "Also show the invoice_items total. Invoice numbers are not a table here.",
  });
  assert.deepEqual(s.focus, ["public.tasks", "public.invoice_items"]);
  assert.deepEqual(s.mentioned, ["public.invoice_items"]);
  assert.deepEqual(s.neighbours, ["public.projects", "public.invoices"]);
  assert.deepEqual(tablesMentioned(model, "update public.comments set"), ["public.comments"]);
  assert.deepEqual(tablesMentioned(model, "the task_comments feature"), []);
});

Deno.test("tables the task names that do not exist yet are reported as unknown", async () => {
  const s = selectTables(await chain(), { tables: ["tasks", "task_watchers"], text: "" });
  assert.deepEqual(s.unknown, ["public.task_watchers"]);
  assert.equal(tableKey('"Auth".Users'), "auth.users");
});
