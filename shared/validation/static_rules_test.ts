import assert from "node:assert/strict";
import { parseSqlFile } from "./parse.ts";
import { migrationSafetyFindings, unsafeStatementReason } from "./static_rules.ts";

async function reasons(sql: string): Promise<(string | undefined)[]> {
  const parsed = await parseSqlFile({ name: "x.sql", sql });
  return parsed.statements.map(unsafeStatementReason);
}

Deno.test("statements that reach outside the database are refused before they run", async () => {
  const refused = await reasons(`
    copy t from program 'id';
    copy t to '/tmp/out.csv';
    alter system set work_mem = '1GB';
    drop database postgres;
    create role admin superuser;
    alter role current_user set statement_timeout = 0;
    create extension dblink;
    load 'auto_explain';
    set session authorization postgres;
    create function f() returns int language c as 'lib', 'f';
    select pg_read_file('/etc/passwd');`);
  assert.equal(refused.length, 11);
  assert.ok(refused.every((r) => typeof r === "string"), JSON.stringify(refused));
});

Deno.test("ordinary migration statements are not refused", async () => {
  const allowed = await reasons(`
    create table t (id bigint primary key);
    copy t from stdin;
    create extension if not exists pg_trgm with schema extensions;
    create function f() returns int language sql set search_path = '' as 'select 1';
    alter table t enable row level security;
    select pgmq.create('jobs');`);
  assert.deepEqual(allowed, [undefined, undefined, undefined, undefined, undefined, undefined]);
});

Deno.test("locking and breaking changes warn only for tables that existed before the file", async () => {
  const parsed = await parseSqlFile({
    name: "002.sql",
    sql: `create table fresh (id bigint primary key, at timestamp);
create index fresh_at on fresh (at);
create index old_title on public.old (title);
alter table old add column must text not null;
alter table old add column fine text not null default '';
alter table old drop column gone;
alter table old rename column a to b;
alter table fresh rename to fresher;
drop table old;`,
  });
  const found = migrationSafetyFindings(parsed, { existingTables: new Set(["public.old"]) })
    .map((f) => `${f.rule}@${f.line}`);
  assert.deepEqual(found, [
    "prefer_timestamptz@1",
    "require_concurrent_index_creation@3",
    "adding_required_field@4",
    "ban_drop_column@6",
    "renaming_column@7",
    "ban_drop_table@9",
  ]);
});

Deno.test("serial and integer primary keys are flagged, bigint identity and uuid are not", async () => {
  const parsed = await parseSqlFile({
    name: "x.sql",
    sql: `create table a (id serial primary key);
create table b (id int primary key);
create table c (id bigint generated always as identity primary key);
create table d (id uuid primary key default gen_random_uuid());
create table e (x int, y int, primary key (x, y));`,
  });
  const rules = migrationSafetyFindings(parsed, { existingTables: new Set() }).map((f) => f.rule);
  assert.deepEqual(rules, ["prefer_identity", "prefer_bigint_over_int"]);
});
