/**
 * The layers beyond SQL (issue 15), on both shadow backends: a read policy true for everyone on a
 * table users own is a warning (and a catalogue nobody owns is not); an index is measured on
 * synthetic rows before and after, and one that does not help is flagged.
 */
import assert from "node:assert/strict";
import {
  createPgliteShadow,
  createPostgresShadow,
  type ShadowDatabase,
} from "../../shared/shadow/mod.ts";
import { type Finding, validateMigrations } from "../../shared/validation/mod.ts";
import { shadowAdminUrl } from "../_support/db.ts";

const NOTES = `
create table public.notes (
  id bigint generated always as identity primary key,
  user_id uuid not null default auth.uid() references auth.users (id) on delete cascade,
  title text not null,
  done boolean not null default false,
  created_at timestamptz not null default now()
);
alter table public.notes enable row level security;
create policy "notes: owner" on public.notes for all to authenticated
  using ((select auth.uid()) = user_id) with check ((select auth.uid()) = user_id);
`;

function show(findings: Finding[]): string {
  return findings.map((f) => `  ${f.level} ${f.rule} ${f.file}:${f.line} ${f.message}`).join("\n");
}

const rows = Number(Deno.env.get("BT_INDEX_BENCH_ROWS") ?? 50_000);

for (const backend of ["pglite", "postgres"] as const) {
  Deno.test(`issue 15 layers on ${backend}`, async (t) => {
    const shadow: ShadowDatabase = backend === "pglite"
      ? await createPgliteShadow({ poolSize: 1 })
      : await createPostgresShadow({ adminUrl: await shadowAdminUrl() });
    try {
      await t.step("a read policy true for everyone on an owned table is a warning", async () => {
        const report = await validateMigrations({
          shadow,
          files: [{
            name: "posts.sql",
            sql: `
create table public.posts (
  id bigint generated always as identity primary key,
  author_id uuid not null default auth.uid() references auth.users (id) on delete cascade,
  body text not null
);
create index posts_author_id_idx on public.posts (author_id);
alter table public.posts enable row level security;
create policy "posts: anyone reads" on public.posts for select to anon, authenticated using (true);
create policy "posts: author writes" on public.posts for insert to authenticated
  with check ((select auth.uid()) = author_id);`,
          }],
        });
        const hit = report.findings.find((f) => f.rule === "rls_public_read_on_owned_table");
        assert.ok(hit, show(report.findings));
        assert.equal(hit.level, "warn");
        assert.equal(hit.object, "public.posts");
        assert.match(hit.message, /"posts: anyone reads"/);
        assert.equal(hit.line, 9);
        assert.ok(report.ok, "a warning the user can accept, not an error");
      });

      await t.step("a catalogue nobody owns read by everyone raises nothing", async () => {
        const report = await validateMigrations({
          shadow,
          files: [{
            name: "countries.sql",
            sql: `
create table public.countries (id bigint generated always as identity primary key, name text not null);
alter table public.countries enable row level security;
create policy "countries: anyone reads" on public.countries for select using (true);`,
          }],
        });
        assert.ok(
          !report.findings.some((f) => f.rule === "rls_public_read_on_owned_table"),
          show(report.findings),
        );
      });

      await t.step("an index that serves its query is measured and pays off", async () => {
        const started = performance.now();
        const report = await validateMigrations({
          shadow,
          benchmark: { rows },
          files: [{
            name: "notes.sql",
            sql: NOTES +
              "create index notes_user_created_idx on public.notes (user_id, created_at desc);",
          }],
          queries: [{
            name: "notes of a user",
            sql:
              "select id, title from public.notes where user_id = $1 order by created_at desc limit 20",
            index: "notes_user_created_idx",
          }],
        });
        const ms = Math.round(performance.now() - started);
        const bench = report.benchmarks?.[0];
        assert.ok(bench, show(report.findings));
        console.log(
          `${backend}: validation ${ms} ms (report ${report.durationMs}), fill ` +
            `${report.benchmarkFillMs} ms, measure ${bench.ms} ms, rows ${
              JSON.stringify(bench.rows)
            }, ` +
            `before ${bench.before.executionMs} ms/${bench.before.buffers} buf, after ` +
            `${bench.after.executionMs} ms/${bench.after.buffers} buf`,
        );
        assert.equal(bench.rows["public.notes"], rows);
        assert.ok(bench.improved, show(report.findings));
        assert.ok(bench.after.usesIndex);
        assert.ok(!bench.before.usesIndex);
        const evidence = report.findings.find((f) => f.rule === "index_benefit_measured");
        assert.ok(evidence, show(report.findings));
        assert.match(evidence.message, /before:\n.*Seq Scan/s);
        assert.ok(!report.findings.some((f) => f.rule === "index_no_improvement"));
      });

      await t.step("an index that does not help its query gets index_no_improvement", async () => {
        const report = await validateMigrations({
          shadow,
          benchmark: { rows },
          files: [{
            name: "notes.sql",
            sql: NOTES + "create index notes_done_idx on public.notes (done);",
          }],
          queries: [{
            name: "open notes",
            sql: "select id, title from public.notes where done = $1",
            index: "notes_done_idx",
          }],
        });
        const hit = report.findings.find((f) => f.rule === "index_no_improvement");
        assert.ok(hit, show(report.findings));
        assert.equal(hit.level, "warn");
        assert.match(hit.message, /without notes_done_idx .* ms/);
        assert.ok(!report.findings.some((f) => f.rule === "index_not_used"));
      });

      await t.step("a table whose checks refuse generated values is still measured", async () => {
        const report = await validateMigrations({
          shadow,
          benchmark: { rows: Math.min(rows, 20_000) },
          files: [{
            name: "positions.sql",
            sql: `
create table public.positions (
  id bigint generated always as identity primary key,
  user_id uuid not null default auth.uid() references auth.users (id) on delete cascade,
  symbol text not null check (char_length(symbol) between 1 and 20),
  side text not null check (side in ('long', 'short')),
  opened_at timestamptz not null default now(),
  closed_at timestamptz,
  check (closed_at is null or closed_at >= opened_at)
);
alter table public.positions enable row level security;
create policy "positions: owner" on public.positions for all to authenticated
  using ((select auth.uid()) = user_id) with check ((select auth.uid()) = user_id);
create index positions_user_opened_idx on public.positions (user_id, opened_at desc);`,
          }],
          queries: [{
            name: "a user's positions",
            sql: "select id, symbol from public.positions where user_id = $1 " +
              "order by opened_at desc limit 20",
            index: "positions_user_opened_idx",
          }],
        });
        assert.ok(
          !report.findings.some((f) => f.rule === "index_benefit_not_measured"),
          show(report.findings),
        );
        const bench = report.benchmarks?.[0];
        assert.ok(bench, show(report.findings));
        assert.equal(bench.rows["public.positions"], Math.min(rows, 20_000));
        assert.ok(bench.after.usesIndex, bench.after.plan);
      });
    } finally {
      await shadow.close();
    }
  });
}
