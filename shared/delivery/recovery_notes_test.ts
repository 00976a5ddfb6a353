import assert from "node:assert/strict";
import { DeliveryResult } from "../runs/mod.ts";
import { assembleDeliverable } from "./assemble.ts";
import type { DeliveryDecision } from "./assembly_input.ts";
import { recoveryLines, renderDeliverableMarkdown } from "./markdown.ts";
import { tradeJournalRun } from "./testdata/trade_journal.ts";

const DECISIONS: DeliveryDecision[] = [
  {
    class: "security",
    strategy: "reroute",
    from_task: "T1",
    to_task: "T5",
    to_agent: "security",
    reason: "rls_disabled_in_public: RLS is off on public.positions",
  },
  {
    class: "integration",
    strategy: "retry",
    from_task: "T2",
    to_task: "T2",
    to_agent: null,
    reason: "the merged result fails at delivery because of task T2 (query-optimizer; by the " +
      'migration file rule): line 2: column "executed" does not exist',
  },
  {
    class: "model",
    strategy: "escalate",
    from_task: "T3",
    to_task: null,
    to_agent: null,
    reason: "the model stayed unavailable after 5 deliveries",
  },
];

/** The Notes section of a rendered deliverable (up to the next `##`). */
function notesOf(markdown: string): string {
  const start = markdown.indexOf("\n## Notes\n");
  return markdown.slice(start, markdown.indexOf("\n## ", start + 1));
}

Deno.test("the deliverable's notes list each recovery decision with the agents of the tasks it names", async () => {
  const { result, files } = await assembleDeliverable({
    ...tradeJournalRun(),
    recovery: DECISIONS,
  });
  assert.deepEqual(result.sections.notes.recovery, [
    { ...DECISIONS[0], from_agent: "db-architect" },
    { ...DECISIONS[1], from_agent: "query-optimizer", to_agent: "query-optimizer" },
    { ...DECISIONS[2], from_agent: "edge-functions" },
  ]);
  assert.deepEqual(DeliveryResult.parse(result), result, "the result stays a DeliveryResult");

  const notes = notesOf(files[0].content);
  const at = notes.indexOf("### What failed and what recovered it");
  assert.ok(at > notes.indexOf("### Future improvements"), notes);
  assert.deepEqual(notes.slice(at).trim().split("\n").slice(2), [
    "1. **T1 (db-architect)**, security failure: rls_disabled_in_public: RLS is off on " +
    "public.positions — rerouted to security as T5.",
    "2. **T2 (query-optimizer)**, integration failure: the merged result fails at delivery " +
    'because of task T2 (query-optimizer; by the migration file rule): line 2: column "executed" ' +
    "does not exist — redone by query-optimizer as T2 with the failure as context.",
    "3. **T3 (edge-functions)**, model failure: the model stayed unavailable after 5 deliveries — " +
    "you were asked, and your answer resumed the run.",
  ]);
});

Deno.test("a run nothing failed in has no recovery notes, and older results without them still render", async () => {
  const { result, files } = await assembleDeliverable(tradeJournalRun());
  assert.deepEqual(result.sections.notes.recovery, []);
  assert.ok(!files[0].content.includes("What failed and what recovered it"));
  const older = structuredClone(result);
  delete older.sections.notes.recovery;
  assert.ok(DeliveryResult.safeParse(older).success, "results stored before still parse");
  assert.ok(!renderDeliverableMarkdown({ result: older, files }).includes("What failed"));
});

Deno.test("a reason is the run's text: kept to one list item, no heading, no HTML", () => {
  const lines = recoveryLines([{
    ...DECISIONS[1],
    from_agent: "query-optimizer",
    reason: "fails:\n\n## Injected heading\n<script>alert(1)</script>",
  }]);
  assert.deepEqual(lines, [
    "### What failed and what recovered it",
    "",
    "1. **T2 (query-optimizer)**, integration failure: fails: ## Injected heading " +
    "&lt;script&gt;alert(1)&lt;/script&gt; — redone by query-optimizer as T2 with the failure as " +
    "context.",
    "",
  ]);
});
