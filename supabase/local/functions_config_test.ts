import assert from "node:assert/strict";
import { join } from "node:path";
import { isAppError } from "../../shared/errors/mod.ts";
import { loadFunctionsConfig, parseFunctionsConfig } from "./functions_config.ts";

Deno.test("config paths resolve from the config's folder and verify_jwt defaults to true", () => {
  const specs = parseFunctionsConfig(
    `
[functions.orchestrator]
entrypoint = "../functions/orchestrator/index.ts"
import_map = "../deno.json"

[functions.webhook]
verify_jwt = false
enabled = false
`,
    { configDir: "/repo/supabase" },
  );
  assert.deepEqual(specs, [
    {
      name: "orchestrator",
      entrypoint: "/repo/functions/orchestrator/index.ts",
      verifyJwt: true,
      enabled: true,
      importMap: "/repo/deno.json",
    },
    {
      name: "webhook",
      entrypoint: "/repo/supabase/functions/webhook/index.ts",
      verifyJwt: false,
      enabled: false,
    },
  ]);
});

Deno.test("a config with a wrong type or a bad function name is rejected naming the key", () => {
  assert.throws(
    () => parseFunctionsConfig(`[functions.a]\nverify_jwt = "no"`, { configDir: "/x" }),
    (e) => isAppError(e, "config_missing") && /functions\.a\.verify_jwt/.test(e.message),
  );
  assert.throws(
    () => parseFunctionsConfig(`[functions."9bad"]`, { configDir: "/x" }),
    (e) => isAppError(e, "config_missing") && /9bad/.test(e.message),
  );
  assert.throws(
    () => parseFunctionsConfig(`[functions.a`, { configDir: "/x" }),
    (e) => isAppError(e, "config_missing") && /TOML/.test(e.message),
  );
});

Deno.test("function folders without a config entry are served with the CLI's defaults", () => {
  const dir = Deno.makeTempDirSync();
  try {
    const functionsDir = join(dir, "functions");
    for (const name of ["listed", "unlisted", "_shared", "no-index"]) {
      Deno.mkdirSync(join(functionsDir, name), { recursive: true });
    }
    for (const name of ["listed", "unlisted", "_shared"]) {
      Deno.writeTextFileSync(join(functionsDir, name, "index.ts"), "");
    }
    Deno.writeTextFileSync(join(dir, "config.toml"), `[functions.listed]\nverify_jwt = false\n`);
    const specs = loadFunctionsConfig(join(dir, "config.toml"));
    assert.deepEqual(specs, [
      {
        name: "listed",
        entrypoint: join(functionsDir, "listed", "index.ts"),
        verifyJwt: false,
        enabled: true,
      },
      {
        name: "unlisted",
        entrypoint: join(functionsDir, "unlisted", "index.ts"),
        verifyJwt: true,
        enabled: true,
      },
    ]);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("the product's config.toml leaves token checks of user-facing functions to the functions", () => {
  const specs = loadFunctionsConfig(new URL("../config.toml", import.meta.url).pathname);
  const orchestrator = specs.find((s) => s.name === "orchestrator");
  assert.ok(orchestrator);
  // The functions verify tokens themselves, so every 401 has the product's error shape.
  assert.equal(orchestrator.verifyJwt, false);
  assert.equal(specs.find((s) => s.name === "validate")?.verifyJwt, false);
  assert.match(orchestrator.entrypoint, /\/functions\/orchestrator\/index\.ts$/);
});

Deno.test("static_files resolve from the config's folder, as the CLI bundles them", () => {
  const [spec] = parseFunctionsConfig(
    `[functions.site]\nstatic_files = ["./functions/site/*.html", "/abs/data.json"]\n`,
    { configDir: "/repo/supabase" },
  );
  assert.deepEqual(spec.staticFiles, [
    "/repo/supabase/functions/site/*.html",
    "/abs/data.json",
  ]);
});
