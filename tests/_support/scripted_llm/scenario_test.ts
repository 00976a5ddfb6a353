import assert from "node:assert/strict";
import { loadScenarioFile, parseScenario } from "./scenario.ts";

const FIXTURES = new URL("../../fixtures/llm/", import.meta.url);

Deno.test("the example scenario files parse", async () => {
  for await (const entry of Deno.readDir(FIXTURES)) {
    if (!entry.name.endsWith(".json")) continue;
    const scenario = await loadScenarioFile(new URL(entry.name, FIXTURES));
    assert.ok(scenario.rules.length > 0, entry.name);
  }
});

Deno.test("a typo in a scenario is refused with where it is", () => {
  assert.throws(
    () =>
      parseScenario({
        rules: [{ name: "r", match: { agnet: "x" }, answers: [{ kind: "json", value: 1 }] }],
      }),
    /Unrecognized key: "agnet"[\s\S]*rules\[0\]\.match/,
  );
  assert.throws(
    () => parseScenario({ rules: [{ name: "r", answers: [{ kind: "json" }] }] }, "my.json"),
    /my\.json is not a valid scenario[\s\S]*rules\[0\]\.answers\[0\]\.value/,
  );
  assert.throws(
    () => parseScenario({ rules: [{ name: "r", answers: [{ kind: "hang" }] }] }),
    /rules\[0\]\.answers\[0\]\.ms/,
  );
});

Deno.test("defaults fill in an empty match and repeat_last", () => {
  const scenario = parseScenario({
    rules: [{ name: "r", answers: [{ kind: "refusal", refusal: "no" }] }],
  });
  assert.deepEqual(scenario.rules[0].match, {});
  assert.equal(scenario.rules[0].exhausted, "repeat_last");
});

Deno.test("a missing or non-JSON scenario file is named in the error", async () => {
  await assert.rejects(
    () => loadScenarioFile("/nonexistent/scenario.json"),
    /\/nonexistent\/scenario\.json cannot be read/,
  );
  const file = await Deno.makeTempFile({ suffix: ".json" });
  try {
    await Deno.writeTextFile(file, "{ rules: [] }");
    await assert.rejects(() => loadScenarioFile(file), new RegExp(`${file} is not JSON`));
  } finally {
    await Deno.remove(file);
  }
});
