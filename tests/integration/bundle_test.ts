/**
 * Deploys as-is: every function in `supabase/config.toml` runs from what `supabase functions
 * deploy` would ship of it — its module graph (`deno info --json` with the import map), the import
 * map and its `static_files`, copied alone into a fresh folder — with no read access outside that
 * folder and Deno's cache, `--deny-run`, and the gateway's other hosted limits. From there the
 * orchestrator answers, the nine agents complete a scripted plan with validation (the
 * edge-functions agent's `deno check` reported as not run, not failed), the run is delivered, and
 * `validate` validates a migration on PGlite in its own process. A function that reads a file its
 * bundle lacks fails the same way.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { apiKeys, LOCAL_JWT_SECRET, mintUserToken } from "../../shared/auth/mod.ts";
import type { Finding, ValidationReport } from "../../shared/validation/mod.ts";
import { createFunctionsGateway } from "../../supabase/local/functions_gateway.ts";
import { type FunctionSpec, loadFunctionsConfig } from "../../supabase/local/functions_config.ts";
import { formatUsage, HOSTED_LIMITS } from "../../supabase/local/hosted_limits.ts";
import {
  bundleFunctions,
  deployBundle,
  REPO_ROOT,
  startBundledProduct,
} from "../_support/bundle.ts";
import {
  NINE_AGENTS_PLAN,
  NINE_AGENTS_REQUEST,
  NINE_AGENTS_TASKS,
  nineAgentsScenario,
} from "../fixtures/nine_agents/scenario.ts";
import { warmUp } from "../e2e/_execution_support.ts";

const CONFIG = fileURLToPath(new URL("../../supabase/config.toml", import.meta.url));
const SPECS = loadFunctionsConfig(CONFIG).filter((s) => s.enabled);
const READS_OUTSIDE: FunctionSpec = {
  name: "reads-outside",
  entrypoint: fileURLToPath(
    new URL("../fixtures/functions/reads-outside/index.ts", import.meta.url),
  ),
  importMap: `${REPO_ROOT}deno.json`,
  verifyJwt: false,
  enabled: true,
};

Deno.test("every function's deploy bundle is its module graph, import map and static files, all in the repository", async () => {
  assert.ok(SPECS.length >= 12, `only ${SPECS.length} functions in config.toml`);
  for (const spec of SPECS) {
    const bundle = await deployBundle(spec);
    const entry = spec.entrypoint.slice(REPO_ROOT.length);
    assert.ok(bundle.files.includes(entry), `${spec.name} ships its entrypoint`);
    assert.ok(bundle.files.includes("deno.json"), `${spec.name} ships its import map`);
    assert.deepEqual(
      bundle.files.filter((f) => f.startsWith("supabase/")),
      [],
      `${spec.name} ships nothing of supabase/ (the local stand-in)`,
    );
  }
});

Deno.test("from their deploy bundles alone, under the hosted limits, the product runs a nine-agent plan to delivery and validate validates", async () => {
  await using bundled = await bundleFunctions(SPECS);
  await using app = await startBundledProduct(bundled, {
    scenarios: [await nineAgentsScenario()],
    scenarioFiles: [NINE_AGENTS_PLAN],
  });
  const gateway = app.stack.functions;
  assert.equal(gateway.hostedLimits?.memoryMiB, HOSTED_LIMITS.memoryMiB);
  try {
    const alice = await app.newUser();
    // The orchestrator answers.
    const list = await app.api(alice.token, "/runs");
    assert.equal(list.status, 200, await list.clone().text());
    await list.body?.cancel();

    // Every agent completes its task with validation, and the run is delivered.
    await warmUp(app);
    const submitted = await app.submit(alice.token, NINE_AGENTS_REQUEST);
    const { run, tasks } = await app.waitForRun(
      alice.token,
      submitted.id,
      (d) => ["completed", "failed", "cancelled"].includes(d.run.status),
      120_000,
    );
    assert.equal(run.status, "completed", JSON.stringify(run.error));
    assert.deepEqual(
      tasks.map((t) => [t.key, t.agent, t.status, t.attempt]),
      NINE_AGENTS_TASKS.map((t) => [t.key, t.agent, "succeeded", 1]),
    );
    for (const task of tasks) {
      const validation = task.validation as { ok?: boolean } | null;
      assert.equal(validation?.ok, true, `${task.key} (${task.agent}) passed validation`);
    }
    // The edge-functions agent's sources could not be type-checked without subprocesses: an
    // info finding says so, and the task did not fail over it.
    const edge = tasks.find((t) => t.agent === "edge-functions")!;
    const findings = (edge.validation as { findings: Finding[] }).findings;
    const notRun = findings.filter((f) => f.rule === "typecheck_not_run");
    assert.equal(notRun.length, 1, JSON.stringify(findings));
    assert.equal(notRun[0].level, "info");
    assert.match(notRun[0].message, /not type-checked.*--deny-run/);

    // validate, without subprocesses, proves on the shadow server (SHADOW_DATABASE_URL) and
    // refuses to run untrusted SQL in an in-process PGlite it could not stop.
    const validate = (body: unknown) =>
      fetch(`${app.stack.functionsUrl}/validate`, {
        method: "POST",
        headers: {
          authorization: `Bearer ${alice.token}`,
          apikey: app.stack.anonKey,
          "content-type": "application/json",
        },
        body: JSON.stringify(body),
      });
    const refused = await validate({
      shadow: "pglite",
      files: [{ name: "001_x.sql", sql: "select 1" }],
    });
    assert.equal(refused.status, 400);
    assert.match(await refused.text(), /cannot be stopped/);
    const clean = await validate({
      files: [{
        name: "001_notes.sql",
        sql: "create table public.notes (id bigint generated always as identity primary key, " +
          "body text not null);\nalter table public.notes enable row level security;\n",
      }],
    });
    const cleanReport = await clean.json() as ValidationReport;
    assert.equal(clean.status, 200, JSON.stringify(cleanReport));
    assert.equal(cleanReport.ok, true, JSON.stringify(cleanReport.findings));
    const broken = await validate({
      files: [{ name: "001_open.sql", sql: "create table public.open (id bigint primary key);" }],
      functions: [{ name: "hello/index.ts", source: "Deno.serve(() => new Response('hi'));\n" }],
    });
    const brokenReport = await broken.json() as ValidationReport;
    assert.equal(broken.status, 200, JSON.stringify(brokenReport));
    assert.equal(brokenReport.ok, false);
    const rules = brokenReport.findings.map((f) => f.rule);
    assert.ok(rules.includes("rls_disabled_in_public"), rules.join(", "));
    assert.ok(rules.includes("typecheck_not_run"), rules.join(", "));
    // The shadow server (SHADOW_DATABASE_URL), the hosted choice, works from the bundle too.
    const onServer = await validate({
      shadow: "postgres",
      files: [{ name: "001_open.sql", sql: "create table public.open (id bigint primary key);" }],
    });
    const serverReport = await onServer.json() as ValidationReport;
    assert.equal(onServer.status, 200, JSON.stringify(serverReport));
    assert.ok(
      serverReport.findings.some((f) => f.rule === "rls_disabled_in_public"),
      JSON.stringify(serverReport.findings),
    );

    // The MCP endpoint answers a coding agent's tools/list from its bundle.
    const mcp = await fetch(`${app.stack.functionsUrl}/mcp`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${alice.token}`,
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
      },
      body: JSON.stringify({
        jsonrpc: "2.0",
        id: 1,
        method: "initialize",
        params: {
          protocolVersion: "2025-03-26",
          capabilities: {},
          clientInfo: { name: "bundle-test", version: "1" },
        },
      }),
    });
    const mcpText = await mcp.text();
    assert.equal(mcp.status, 200, mcpText);
    assert.match(mcpText, /backend-team|serverInfo/);

    const usage = gateway.usage();
    console.error(
      `[bundle] functions run from their bundles:\n${formatUsage(usage, HOSTED_LIMITS)}`,
    );
    assert.deepEqual(
      usage.map((u) => u.name).sort(),
      SPECS.map((s) => s.name).sort(),
      "every function ran",
    );
    for (const u of usage) {
      assert.equal(u.heapOutOfMemory, 0, `${u.name} died at the heap cap`);
      assert.equal(u.workersRefused, 0, `${u.name} tried a Web Worker`);
    }
  } catch (e) {
    throw new Error(`${(e as Error).message}\n${bundleLog(app.stack.functions.usage())}`, {
      cause: e,
    });
  }
});

function bundleLog(usage: ReturnType<ReturnType<typeof createFunctionsGateway>["usage"]>): string {
  return `--- usage ---\n${formatUsage(usage, HOSTED_LIMITS)}`;
}

/** Calls `path` of `spec` served by a gateway of its own; answers status and JSON body. */
async function answer(
  spec: FunctionSpec,
  path: string,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const keys = await apiKeys(LOCAL_JWT_SECRET);
  const logs: string[] = [];
  let gateway: ReturnType<typeof createFunctionsGateway> | undefined;
  const abort = new AbortController();
  const server = Deno.serve(
    { port: 0, hostname: "127.0.0.1", signal: abort.signal, onListen() {} },
    (req) => gateway!.fetch(req),
  );
  const url = `http://127.0.0.1:${server.addr.port}`;
  try {
    gateway = createFunctionsGateway({
      functions: [spec],
      jwtSecret: LOCAL_JWT_SECRET,
      env: {
        SUPABASE_URL: url,
        SUPABASE_ANON_KEY: keys.anon,
        SUPABASE_SERVICE_ROLE_KEY: keys.serviceRole,
        SUPABASE_DB_URL: "postgresql://postgres:postgres@127.0.0.1:1/unused",
      },
      hostedLimits: true,
      log: (line) => logs.push(line),
    });
    const token = await mintUserToken(LOCAL_JWT_SECRET, { sub: crypto.randomUUID() });
    const res = await fetch(`${url}/functions/v1/${spec.name}${path}`, {
      headers: { authorization: `Bearer ${token}` },
    });
    return { status: res.status, body: await res.json() };
  } finally {
    await gateway?.close();
    abort.abort();
    await server.finished;
  }
}

Deno.test("a function reading a repository file its bundle lacks works from the repository and fails from its bundle", async () => {
  const readme = `${REPO_ROOT}README.md`;
  const inRepo = await answer(READS_OUTSIDE, "");
  assert.equal(inRepo.status, 200, JSON.stringify(inRepo.body));

  const bundle = await deployBundle(READS_OUTSIDE);
  assert.deepEqual(bundle.files, [
    "deno.json",
    "deno.lock",
    "tests/fixtures/functions/reads-outside/index.ts",
  ]);
  assert.ok(!bundle.files.includes("README.md"), "the README is not in its module graph");

  await using bundled = await bundleFunctions([READS_OUTSIDE]);
  const [fromBundle] = bundled.specs;
  // The same relative read finds no README in the bundle, as it would find none deployed.
  assert.deepEqual(await answer(fromBundle, ""), { status: 500, body: { error: "NotFound" } });
  // And the repository's copy is out of reach.
  assert.deepEqual(
    await answer(fromBundle, `?path=${encodeURIComponent(readme)}`),
    { status: 500, body: { error: "NotCapable" } },
  );
});

Deno.test("without subprocesses or a writable cache, PGlite runs in process from a snapshot in memory and deno check is reported as not run", async () => {
  const dir = await Deno.makeTempDir({ prefix: "bt_no_run_" });
  try {
    const cache = `${dir}/cache`;
    const script = `${dir}/probe.ts`;
    const shadowMod = new URL("../../shared/shadow/mod.ts", import.meta.url).href;
    const typecheckMod = new URL("../../shared/validation/typecheck.ts", import.meta.url).href;
    await Deno.writeTextFile(
      script,
      `import { canSpawnProcesses, createPgliteShadow } from ${JSON.stringify(shadowMod)};
import { typecheckFunctions } from ${JSON.stringify(typecheckMod)};
const findings = await typecheckFunctions([{
  name: "hello/index.ts",
  source: "const n: number = 'not a number';\\nDeno.serve(() => new Response(String(n)));\\n",
}]);
const shadow = await createPgliteShadow({ cacheDir: ${JSON.stringify(cache)} });
const session = await shadow.open();
await session.exec("create table public.notes (id bigint primary key)");
const rows = await session.query("select count(*)::int as n from public.notes");
await session.close();
await shadow.close();
console.log(JSON.stringify({ canSpawn: canSpawnProcesses(), findings, rows }));
`,
    );
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--no-prompt",
        "--config",
        `${REPO_ROOT}deno.json`,
        "--deny-run",
        "--deny-write",
        "--allow-read",
        "--allow-env",
        "--allow-net",
        script,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.ok(out.success, stderr);
    const result = JSON.parse(new TextDecoder().decode(out.stdout).trim().split("\n").at(-1)!);
    assert.equal(result.canSpawn, false);
    assert.deepEqual(result.findings.map((f: Finding) => [f.rule, f.level, f.file]), [
      ["typecheck_not_run", "info", "hello/index.ts"],
    ]);
    assert.deepEqual(result.rows, [{ n: 0 }]);
    await assert.rejects(() => Deno.stat(cache), Deno.errors.NotFound, "nothing was cached");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
