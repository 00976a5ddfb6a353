import assert from "node:assert/strict";
import { AGENTS } from "../plan/schema.ts";
import { loadPrompt } from "../prompts/mod.ts";
import { AGENT_OUTPUT_SCHEMA_NAMES, AGENT_OUTPUT_SCHEMAS } from "./outputs.ts";
import { retryText, systemPromptText } from "./prompt_text.ts";

for (const agent of AGENTS) {
  Deno.test(`${agent}: its prompt names the agent and the output schema that enforces it`, async () => {
    const prompt = await loadPrompt(`backend/${agent}`);
    assert.equal(prompt.meta.agent, agent);
    assert.equal(prompt.meta.version, "1");
    assert.equal(prompt.meta.output, AGENT_OUTPUT_SCHEMA_NAMES[agent]);
    assert.ok(AGENT_OUTPUT_SCHEMAS[agent]);
    for (const section of ["Conventions", "What you receive", "What you deliver", "Retry"]) {
      assert.ok(prompt.sections[section], `missing ## ${section}`);
    }
    assert.match(prompt.sections["What you deliver"], new RegExp(AGENT_OUTPUT_SCHEMA_NAMES[agent]));
  });

  Deno.test(`${agent}: the retry template uses exactly {{findings}} and {{fix}}`, async () => {
    const prompt = await loadPrompt(`backend/${agent}`);
    const placeholders = [...prompt.sections.Retry.matchAll(/\{\{\s*([a-z_]+)\s*\}\}/g)]
      .map((m) => m[1]).sort();
    assert.deepEqual(placeholders, ["findings", "fix"]);
    const text = retryText(prompt, { findings: "F-1 at line 3", fix: "add a policy" });
    assert.match(text, /F-1 at line 3/);
    assert.match(text, /add a policy/);
    const system = systemPromptText(prompt);
    assert.ok(!system.includes("{{"), "no placeholders outside the retry section");
    assert.ok(!system.includes("## Retry"));
    assert.ok(system.includes("## Conventions"));
  });
}

Deno.test("prompts of agents that write policies carry the RLS conventions", async () => {
  for (const agent of ["db-architect", "security", "debugger", "websocket"] as const) {
    // Markdown formatting may wrap inline code; compare with whitespace collapsed.
    const text = systemPromptText(await loadPrompt(`backend/${agent}`)).replace(/\s+/g, " ");
    assert.match(text, /to authenticated/, agent);
    assert.match(text, /search_path = ''/, agent);
    if (agent !== "websocket") assert.ok(text.includes("(select auth.uid())"), agent);
  }
  const architect = systemPromptText(await loadPrompt("backend/db-architect")).replace(/\s+/g, " ");
  for (
    const rule of [
      "timestamptz",
      "generated always as identity",
      "comment on table",
      "enable row level security",
      "security_invoker",
    ]
  ) {
    assert.ok(architect.includes(rule), rule);
  }
});

Deno.test("the edge functions prompt asks for Deno.serve, npm: imports and CORS preflight", async () => {
  const text = systemPromptText(await loadPrompt("backend/edge-functions")).replace(/\s+/g, " ");
  for (
    const rule of ["Deno.serve", "npm:", "OPTIONS", "Access-Control-Allow-Headers", "verify_jwt"]
  ) {
    assert.ok(text.includes(rule), rule);
  }
});
