import assert from "node:assert/strict";
import { parsePrompt, renderTemplate, sha256Hex } from "./mod.ts";

Deno.test("a prompt's version changes exactly when its text changes", async () => {
  const a = "---\nagent: orchestrator\nversion: 1\n---\nHello";
  const b = a + "!";
  const pa = parsePrompt("orchestrator", a, await sha256Hex(a));
  const pa2 = parsePrompt("orchestrator", a, await sha256Hex(a));
  const pb = parsePrompt("orchestrator", b, await sha256Hex(b));
  assert.equal(pa.version, pa2.version);
  assert.notEqual(pa.version, pb.version);
  assert.match(pa.version, /^orchestrator@[0-9a-f]{12}$/);
  assert.deepEqual(pa.meta, { agent: "orchestrator", version: "1" });
  assert.equal(pa.body, "Hello");
});

Deno.test("sections split on level-two headings", () => {
  const p = parsePrompt("x", "intro\n## Understand\nU text\n## Plan\nP text\n", "0".repeat(64));
  assert.deepEqual(p.sections, { Understand: "U text", Plan: "P text" });
});

Deno.test("templates fail loudly on a placeholder without a value", () => {
  assert.equal(renderTemplate("a {{x}} b", { x: "1" }), "a 1 b");
  assert.throws(() => renderTemplate("{{missing}}", {}), /missing/);
});
