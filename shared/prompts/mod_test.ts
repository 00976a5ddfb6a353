import assert from "node:assert/strict";
import { pathToFileURL } from "node:url";
import type { AppError } from "../errors/mod.ts";
import { loadPrompt, parsePrompt, renderTemplate, sha256Hex } from "./mod.ts";

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

Deno.test("a bundled prompt has the version of its Markdown file", async () => {
  const prompts = new URL("../../prompts/", import.meta.url);
  for (const name of ["orchestrator", "backend/db-architect"]) {
    const bundled = await loadPrompt(name);
    const fromFile = await loadPrompt(name, prompts);
    assert.equal(bundled.version, fromFile.version);
    assert.deepEqual(bundled, fromFile);
  }
});

Deno.test("a prompt that is not bundled is a config error naming the file to add", async () => {
  await assert.rejects(loadPrompt("backend/no-such-agent"), (e: AppError) => {
    assert.equal(e.code, "config_missing");
    assert.match(e.message, /prompts\/backend\/no-such-agent\.md/);
    return true;
  });
});

Deno.test("prompts load from a folder when one is given", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const text = "---\nagent: draft\n---\nDraft body";
    await Deno.writeTextFile(`${dir}/draft.md`, text);
    const p = await loadPrompt("draft", pathToFileURL(`${dir}/`));
    assert.equal(p.body, "Draft body");
    assert.equal(p.hash, (await sha256Hex(text)).slice(0, 12));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
