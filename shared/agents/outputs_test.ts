import assert from "node:assert/strict";
import { z } from "zod";
import { AGENTS } from "../plan/schema.ts";
import { AGENT_OUTPUT_SCHEMAS } from "./outputs.ts";
import { SAMPLES } from "./testdata/samples.ts";

type JsonSchema = Record<string, unknown>;

// Every object must list all its properties as required and forbid others (strict structured
// outputs); returns the paths that do not.
function strictViolations(schema: unknown, path = "$"): string[] {
  if (Array.isArray(schema)) return schema.flatMap((s, i) => strictViolations(s, `${path}[${i}]`));
  if (schema === null || typeof schema !== "object") return [];
  const s = schema as JsonSchema;
  const out: string[] = [];
  if (s.type === "object" || s.properties !== undefined) {
    const props = Object.keys((s.properties ?? {}) as JsonSchema);
    const required = (s.required ?? []) as string[];
    if (props.some((p) => !required.includes(p))) out.push(`${path}: not all properties required`);
    if (s.additionalProperties !== false) out.push(`${path}: additionalProperties is not false`);
  }
  for (const [k, v] of Object.entries(s)) out.push(...strictViolations(v, `${path}.${k}`));
  return out;
}

for (const agent of AGENTS) {
  Deno.test(`${agent}: a realistic answer satisfies its output schema`, () => {
    const parsed = AGENT_OUTPUT_SCHEMAS[agent].safeParse(SAMPLES[agent]);
    assert.ok(parsed.success, parsed.success ? "" : z.prettifyError(parsed.error));
  });

  Deno.test(`${agent}: its output schema converts to a strict structured-output JSON schema`, () => {
    const json = z.toJSONSchema(AGENT_OUTPUT_SCHEMAS[agent]) as JsonSchema;
    assert.equal(json.type, "object");
    assert.equal(json.anyOf, undefined, "the root must be a plain object");
    assert.deepEqual(strictViolations(json), []);
    const forbidden = JSON.stringify(json).match(/"(minLength|maxLength|minItems|maxItems)"/g);
    assert.equal(forbidden, null, "no length bounds: not every compatible endpoint supports them");
  });
}

Deno.test("an answer missing a key is rejected, since strict outputs always send every key", () => {
  const { notes: _notes, ...withoutNotes } = SAMPLES["db-architect"];
  assert.equal(AGENT_OUTPUT_SCHEMAS["db-architect"].safeParse(withoutNotes).success, false);
});

Deno.test("migration names must be snake_case without a timestamp path", () => {
  const bad = structuredClone(SAMPLES["db-architect"]);
  bad.artifacts.migrations[0].name = "20240101_Create-Tasks";
  assert.equal(AGENT_OUTPUT_SCHEMAS["db-architect"].safeParse(bad).success, false);
});

Deno.test("file paths that climb out of the project are rejected", () => {
  const bad = structuredClone(SAMPLES.deployment);
  bad.artifacts.files[0].path = "supabase/../../etc/passwd";
  assert.equal(AGENT_OUTPUT_SCHEMAS.deployment.safeParse(bad).success, false);
  const absolute = structuredClone(SAMPLES["edge-functions"]);
  absolute.artifacts.functions[0].files[0].path = "/index.ts";
  assert.equal(AGENT_OUTPUT_SCHEMAS["edge-functions"].safeParse(absolute).success, false);
});

Deno.test("HTTP statuses of API errors must be integers", () => {
  const bad = structuredClone(SAMPLES["api-data"]);
  bad.artifacts.endpoints[0].errors[0].status = 401.5;
  assert.equal(AGENT_OUTPUT_SCHEMAS["api-data"].safeParse(bad).success, false);
});
