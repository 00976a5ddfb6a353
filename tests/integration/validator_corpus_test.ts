/**
 * The corpus, table-driven, on both shadow backends: every migration under
 * tests/fixtures/validate/corpus raises the rules its sidecar lists, none of those it must not,
 * reaches the expected verdict, puts located findings on the expected line, and says what the
 * case's `messages` expect (e.g. the policy and table a finding names).
 */
import assert from "node:assert/strict";
import {
  createPgliteShadow,
  createPostgresShadow,
  type ShadowDatabase,
} from "../../shared/shadow/mod.ts";
import { type Finding, validateMigrations } from "../../shared/validation/mod.ts";
import { shadowAdminUrl } from "../_support/db.ts";
import { type CorpusCase, loadCorpus } from "../fixtures/validate/corpus/mod.ts";

// BT_CORPUS_ONLY=a,b runs only those cases (while writing one); CI runs them all.
const only = Deno.env.get("BT_CORPUS_ONLY")?.split(",").map((n) => n.trim());
const all = await loadCorpus();
const cases = only ? all.filter((c) => only.includes(c.name)) : all;

function show(findings: Finding[]): string {
  return findings.map((f) => `  ${f.level} ${f.rule} ${f.file}:${f.line} ${f.message}`).join("\n");
}

async function check(c: CorpusCase, shadow: ShadowDatabase): Promise<void> {
  const report = await validateMigrations({ ...c.options, shadow });
  const rules = new Set(report.findings.map((f) => f.rule));
  const context = `${c.name} on ${shadow.backend}:\n${show(report.findings)}`;
  for (const rule of c.expect.raises) assert.ok(rules.has(rule), `missing ${rule} — ${context}`);
  for (const rule of c.expect.not) assert.ok(!rules.has(rule), `unexpected ${rule} — ${context}`);
  assert.equal(report.ok, c.expect.ok, `verdict — ${context}`);
  if (c.expect.clean) {
    const loud = report.findings.filter((f) => f.level !== "info");
    assert.deepEqual(loud, [], `expected no error or warning — ${context}`);
  }
  for (const at of c.expect.at) {
    const file = at.file ?? `${c.name}.sql`;
    assert.ok(
      report.findings.some((f) => f.rule === at.rule && f.line === at.line && f.file === file),
      `expected ${at.rule} at ${file}:${at.line} — ${context}`,
    );
  }
  for (const m of c.expect.messages) {
    assert.ok(
      report.findings.some((f) => f.rule === m.rule && f.message.includes(m.contains)),
      `expected a ${m.rule} message containing ${JSON.stringify(m.contains)} — ${context}`,
    );
  }
}

Deno.test({
  name: "the corpus has at least 40 migrations, clean ones included",
  ignore: only !== undefined,
}, () => {
  assert.ok(cases.length >= 40, `${cases.length} cases`);
  assert.ok(cases.filter((c) => c.expect.clean).length >= 10);
});

for (const backend of ["pglite", "postgres"] as const) {
  Deno.test(`every corpus migration raises exactly what it expects on ${backend}`, async (t) => {
    const shadow = backend === "pglite"
      ? await createPgliteShadow({ poolSize: 1 })
      : await createPostgresShadow({ adminUrl: await shadowAdminUrl() });
    try {
      for (const c of cases.filter((c) => c.expect.backends.includes(backend))) {
        await t.step(
          `${c.name}: ${c.expect.description ?? c.expect.raises.join(", ")}`,
          () => check(c, shadow),
        );
      }
    } finally {
      await shadow.close();
    }
  });
}
