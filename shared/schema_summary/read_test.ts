import assert from "node:assert/strict";
import { emptySchema } from "./model.ts";
import { readSql } from "./read.ts";

Deno.test("later statements change what earlier ones created, as in Postgres", async () => {
  const model = emptySchema();
  await readSql(
    model,
    `create table public.projects (id bigint generated always as identity primary key, name text);
     create table tasks (
       id bigint generated always as identity primary key,
       project_id bigint not null references projects (id) on delete cascade,
       title varchar(100),
       legacy text
     );
     alter table public.tasks add column done_at timestamptz, drop column legacy;
     alter table public.tasks alter column title set not null;
     alter table public.tasks rename column title to name;
     alter table public.tasks enable row level security;
     comment on table public.tasks is 'Work items.';
     create index tasks_project_id_idx on public.tasks (project_id);
     create index tasks_tmp_idx on public.tasks (done_at);
     drop index public.tasks_tmp_idx;
     create policy "own" on public.tasks for select to authenticated using (true);
     create policy "gone" on public.tasks for delete to authenticated using (true);
     drop policy "gone" on public.tasks;
     grant select, insert on public.tasks to authenticated;
     revoke insert on public.tasks from authenticated;`,
  );
  const tasks = model.tables.get("public.tasks")!;
  assert.deepEqual(tasks.columns.map((c) => c.name), ["id", "project_id", "name", "done_at"]);
  assert.equal(tasks.columns.find((c) => c.name === "name")?.notNull, true);
  assert.equal(tasks.columns.find((c) => c.name === "name")?.type, "varchar(100)");
  assert.equal(tasks.rls, true);
  assert.equal(tasks.comment, "Work items.");
  assert.deepEqual(tasks.indexes.map((i) => i.name), ["tasks_project_id_idx"]);
  assert.deepEqual(tasks.policies.map((p) => p.name), ["own"]);
  assert.deepEqual([...tasks.grants.get("authenticated")!], ["select"]);
  assert.deepEqual(tasks.foreignKeys, [{
    name: null,
    columns: ["project_id"],
    table: "public.projects",
    refColumns: ["id"],
    onDelete: "cascade",
  }]);
});

Deno.test("a migration reports the tables it touched", async () => {
  const model = emptySchema();
  await readSql(model, "create table a (id int primary key); create table b (id int primary key);");
  const result = await readSql(
    model,
    "alter table b add column note text; create policy p on a for select using (true);",
  );
  assert.deepEqual(result.touched, ["public.b", "public.a"]);
});

Deno.test("a statement that does not parse is skipped and reported, the rest still applies", async () => {
  const model = emptySchema();
  const result = await readSql(
    model,
    "create table a (id int primary key); creat tabel broken (; create table b (id int);",
  );
  assert.deepEqual([...model.tables.keys()], ["public.a", "public.b"]);
  assert.equal(result.skipped.length, 1);
  assert.match(result.skipped[0].text, /creat tabel/);
  assert.equal(model.skipped.length, 1);
});

Deno.test("table-level keys, renamed and dropped tables are followed", async () => {
  const model = emptySchema();
  await readSql(
    model,
    `create table parent (a int, b int, primary key (a, b));
     create table child (id int primary key, a int, b int,
       constraint child_parent_fk foreign key (a, b) references parent (a, b));
     alter table parent rename to parents;
     create table scratch (id int); drop table scratch;`,
  );
  assert.deepEqual([...model.tables.keys()], ["public.child", "public.parents"]);
  assert.equal(model.tables.get("public.child")!.foreignKeys[0].table, "public.parents");
  assert.deepEqual(model.tables.get("public.parents")!.constraints[0].columns, ["a", "b"]);
});

Deno.test("functions keep their signature and whether they pin search_path, not their body", async () => {
  const model = emptySchema();
  await readSql(
    model,
    `create function private.is_member(p_org bigint) returns boolean language sql stable
       security definer set search_path = '' as $$ select true $$;
     create function public.loose() returns int language sql as $$ select 1 $$;
     create type public.status as enum ('a', 'b'); alter type public.status add value 'c';`,
  );
  const f = model.functions.get("private.is_member")!;
  assert.equal(f.signature, "private.is_member(p_org bigint)");
  assert.equal(f.securityDefiner, true);
  assert.equal(f.searchPath, "''");
  assert.equal(model.functions.get("public.loose")!.searchPath, null);
  assert.deepEqual(model.enums.get("public.status")!.values, ["a", "b", "c"]);
});
