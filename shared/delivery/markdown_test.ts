import assert from "node:assert/strict";
import type { Deliverable } from "../runs/mod.ts";
import { assembleDeliverable } from "./assemble.ts";
import { renderDeliverableMarkdown, renderStoredDeliverable } from "./markdown.ts";
import { tradeJournalRun } from "./testdata/trade_journal.ts";

function headings(markdown: string, level: number): string[] {
  const prefix = `${"#".repeat(level)} `;
  return markdown.split("\n").filter((l) => l.startsWith(prefix)).map((l) =>
    l.slice(prefix.length)
  );
}

Deno.test("the document has every section of the output format as a level-2 heading, in order", async () => {
  const { result, files } = await assembleDeliverable(tradeJournalRun());
  const markdown = renderDeliverableMarkdown({ result, files: files.slice(1) });
  assert.deepEqual(headings(markdown, 2), [
    "Summary",
    "Migrations",
    "Indexes",
    "Edge Functions",
    "API Documentation",
    "Deployment Configuration",
    "Setup",
    "Notes",
    "Tests",
    "Other Files",
    "Validation",
  ]);
  assert.deepEqual(
    headings(markdown, 3).filter((h) =>
      ["Assumptions", "Rollback", "Future improvements", "Environment variables", "Steps"].includes(
        h,
      )
    ),
    [
      "Environment variables",
      "Steps",
      "Assumptions",
      "Rollback",
      "Future improvements",
    ],
  );
  assert.equal(markdown, files[0].content, "the README is this document");
});

Deno.test("migrations appear in apply order with their SQL and their policies", async () => {
  const { result, files } = await assembleDeliverable(tradeJournalRun());
  const markdown = files[0].content;
  const first = markdown.indexOf("### `supabase/migrations/20261125143000_create_profiles.sql`");
  const last = markdown.indexOf(
    "### `supabase/migrations/20261125143003_add_journal_query_indexes.sql`",
  );
  assert.ok(first > 0 && last > first);
  assert.ok(markdown.includes("create table public.profiles ("));
  assert.ok(
    markdown.includes("| owners read their profile | public.profiles | select | authenticated |"),
  );
  assert.ok(markdown.includes("supabase functions deploy trade-stats"));
  assert.ok(
    markdown.includes(
      'psql "$DATABASE_URL" -f supabase/rollbacks/20261125143003_add_journal_query_indexes.down.sql',
    ),
  );
  assert.ok(markdown.includes("Not run: no shadow database was available at delivery."));
  assert.equal(
    result.summary.title,
    "A per-user trading journal on Supabase with positions, trades, tags and statistics.",
  );
});

Deno.test("code containing backticks stays inside its fence", async () => {
  const input = tradeJournalRun();
  const t3 = input.tasks[2];
  input.artifacts.push({
    task_id: t3.id,
    kind: "edge_function",
    path: "supabase/functions/trade-stats/readme.ts",
    content: "const s = `a`;\n// ```\n",
    meta: { function_name: "trade-stats" },
    ordinal: 9,
  });
  const markdown = (await assembleDeliverable(input)).files[0].content;
  assert.ok(markdown.includes("````ts\nconst s = `a`;\n// ```\n````"));
});

Deno.test("a completed run without an assembled result is rendered as its artifacts", () => {
  const deliverable: Deliverable = {
    run_id: "00000000-0000-4000-8000-000000000001",
    status: "completed",
    result: { summary: "todos with RLS" },
    files: [],
    artifacts: [{
      id: "00000000-0000-4000-8000-000000000002",
      task_id: null,
      kind: "migration",
      path: "migrations/0001_todos.sql",
      content: "create table todos ();",
      meta: {},
      ordinal: 1,
      created_at: "2026-11-25T00:00:00.000Z",
    }],
  };
  const markdown = renderStoredDeliverable(deliverable);
  assert.deepEqual(headings(markdown, 2), ["Summary", "Artifacts"]);
  assert.ok(markdown.includes("todos with RLS"));
  assert.ok(markdown.includes("```sql\ncreate table todos ();\n```"));
});
