import assert from "node:assert/strict";
import { tableRelevance } from "./relevance.ts";

const r = tableRelevance(["public.tasks"], ["public.invoices", "public.messages"]);

Deno.test("text naming a focus table is relevant even when it names others too", () => {
  assert.equal(r.classify("join public.tasks with invoices"), "relevant");
  assert.equal(r.classify("select * from invoices"), "unrelated");
  assert.equal(r.classify("set verify_jwt = false"), "neutral");
  assert.equal(r.classify("policy on realtime.messages"), "neutral", "another schema's table");
});

Deno.test("sentences about unrelated tables are dropped from summaries", () => {
  assert.equal(
    r.filterSentences("Added tasks.due_at. Invoices got a column. Deploy after review."),
    "Added tasks.due_at. Deploy after review.",
  );
});
