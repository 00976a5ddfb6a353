import assert from "node:assert/strict";
import { summarizeSchema } from "./mod.ts";

const DDL = `
create type public.task_status as enum ('todo', 'done');
create type public.invoice_status as enum ('draft', 'paid');
create function private.is_member(p_org bigint) returns boolean language sql stable
  security definer set search_path = '' as $$ select true $$;
create function private.invoice_secret() returns text language sql as $$ select 'x' $$;
create table public.orgs (id bigint generated always as identity primary key, name text not null);
create table public.projects (
  id bigint generated always as identity primary key,
  org_id bigint not null references public.orgs (id) on delete cascade,
  title text not null
);
create table public.tasks (
  id bigint generated always as identity primary key,
  project_id bigint not null references public.projects (id) on delete cascade,
  status public.task_status not null default 'todo',
  title text not null check (char_length(title) <= 200),
  created_at timestamptz not null default now(),
  unique (project_id, title)
);
comment on table public.tasks is 'Work items.';
alter table public.tasks enable row level security;
create index tasks_project_id_idx on public.tasks (project_id);
create policy "members read" on public.tasks for select to authenticated
  using ((select private.is_member(project_id)));
create table public.invoices (
  id bigint generated always as identity primary key,
  org_id bigint not null references public.orgs (id),
  status public.invoice_status not null,
  secret_total numeric(12,2)
);
create policy "invoice admins" on public.invoices for select to authenticated
  using ((select private.invoice_secret()) = 'x');
create index invoices_org_id_idx on public.invoices (org_id);
`;

Deno.test("focus tables are listed column by column with keys, policies and indexes", async () => {
  const { text } = await summarizeSchema([DDL], { tables: ["tasks"], text: "" });
  const lines = text.split("\n");
  assert.ok(lines.includes("table public.tasks -- Work items."));
  assert.ok(lines.includes("  rls enabled"));
  assert.ok(lines.includes("  id bigint pk identity always"));
  assert.ok(lines.includes("  project_id bigint fk→projects.id on delete cascade not null"));
  assert.ok(lines.includes("  status task_status not null default 'todo'"));
  assert.ok(lines.includes("  check (char_length(title) <= 200)"));
  assert.ok(lines.includes("  unique (project_id, title)"));
  assert.ok(
    lines.includes(
      `  policy "members read" for select to authenticated using ((select private.is_member(project_id)))`,
    ),
  );
  assert.ok(lines.includes("  index tasks_project_id_idx btree (project_id)"));
  assert.ok(lines.includes("type task_status as enum ('todo', 'done')"));
  assert.ok(
    lines.some((l) => l.startsWith("function private.is_member(p_org bigint) returns boolean")),
  );
});

Deno.test("referenced tables appear as one line; nothing about unrelated tables is printed", async () => {
  const { text } = await summarizeSchema([DDL], { tables: ["tasks"], text: "" });
  assert.match(text, /^table public\.projects: id bigint pk identity always, org_id bigint/m);
  for (
    const leak of ["invoices", "invoice_status", "secret_total", "invoice_secret", "invoice admins"]
  ) {
    assert.ok(!text.includes(leak), `${leak} leaked into:\n${text}`);
  }
  assert.ok(!/^table public\.orgs/m.test(text), "two hops away is not shown");
});

Deno.test("a table without row level security is flagged", async () => {
  const { text } = await summarizeSchema([DDL], { tables: ["invoices"], text: "" });
  assert.match(text, /table public\.invoices\n {2}rls NOT enabled/);
});
