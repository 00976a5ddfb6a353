/**
 * The config-agrees corpus (issue 15): each deliverable raises exactly the rules its case names
 * (each rule has a case, each case a clean twin), read from agent-shaped outputs as delivery
 * holds them.
 */
import assert from "node:assert/strict";
import { checkDeployConfig, deployConfigInputOf } from "../../shared/validation/mod.ts";
import { CONFIG_CASES } from "../fixtures/functions/config/cases.ts";
import { nineAgentAnswers } from "../fixtures/nine_agents/scenario.ts";

Deno.test("every config case raises exactly its rules, and its clean twin none", async (t) => {
  for (const c of CONFIG_CASES) {
    await t.step(`${c.name}: ${c.must.join(", ") || "clean"}`, async () => {
      const found = await checkDeployConfig(deployConfigInputOf(c));
      const show = found.map((f) => `  ${f.rule} ${f.file}:${f.line} ${f.message}`).join("\n");
      assert.deepEqual(found.map((f) => f.rule).sort(), c.must, show);
      for (const f of found) assert.equal(f.level, "error");
    });
  }
  const covered = new Set(CONFIG_CASES.flatMap((c) => c.must));
  for (
    const rule of [
      "deploy_config_invalid",
      "deploy_config_unknown_function",
      "function_env_undeclared",
      "verify_jwt_mismatch",
    ]
  ) assert.ok(covered.has(rule), `no case raises ${rule}`);
});

Deno.test("the nine-agents scenario's deliverable agrees with its config", async () => {
  const answers = await nineAgentAnswers();
  const found = await checkDeployConfig(deployConfigInputOf({
    functions: answers["edge-functions"].artifacts.functions,
    files: answers.deployment.artifacts.files,
    envVars: [
      ...answers.deployment.artifacts.env_vars,
      ...answers["edge-functions"].artifacts.env_vars,
    ],
  }));
  assert.deepEqual(found, []);
  // The same deliverable with the function left out of the config's reach is caught.
  const broken = await checkDeployConfig(deployConfigInputOf({
    functions: [],
    files: answers.deployment.artifacts.files,
    envVars: [],
  }));
  assert.deepEqual(broken.map((f) => f.rule), ["deploy_config_unknown_function"]);
});
