/**
 * What each edge function loads when it boots: the modules reached from its entrypoint by static
 * imports only (`deno info --json`, following no dynamic `import()`). A hosted function has 256 MB;
 * code a function needs only for some requests (PGlite, the function runner and its JSON Schema
 * checker, delivery, the `validate` function's app and CLI) loads on first use, so a worker that
 * never needs it never holds it. tests/bench/memory_bench.ts measures what this saves.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";

const REPO = fileURLToPath(new URL("../../", import.meta.url));

interface InfoDependency {
  specifier: string;
  code?: { specifier: string };
  isDynamic?: boolean;
}
interface InfoModule {
  specifier: string;
  dependencies?: InfoDependency[];
}
interface Info {
  roots: string[];
  modules: InfoModule[];
  redirects: Record<string, string>;
}

/** Specifiers of the modules a function's entrypoint loads eagerly, and of all it may load. */
async function bootGraph(fn: string): Promise<{ eager: Set<string>; all: Set<string> }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", "--config", "deno.json", `functions/${fn}/index.ts`],
    cwd: REPO,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
  const info = JSON.parse(new TextDecoder().decode(out.stdout)) as Info;
  const byName = new Map(info.modules.map((m) => [m.specifier, m]));
  const resolve = (s: string) => info.redirects[s] ?? s;
  const eager = new Set<string>();
  const queue = info.roots.map(resolve);
  while (queue.length) {
    const at = queue.pop()!;
    if (eager.has(at)) continue;
    eager.add(at);
    for (const dep of byName.get(at)?.dependencies ?? []) {
      if (dep.code && !dep.isDynamic) queue.push(resolve(dep.code.specifier));
    }
  }
  return { eager, all: new Set(info.modules.map((m) => m.specifier)) };
}

const has = (graph: Set<string>, part: string) => [...graph].some((s) => s.includes(part));

/** Loaded on first use only; each must still be in the function's graph (so in its bundle). */
const DEFERRED_IN_AGENTS = [
  "@electric-sql/pglite@", // the in-process PGlite shadow (hosted has no shadow server)
  "/shared/validation/function_run.ts", // starting delivered functions (edge-functions agent)
  "ajv", // the functions' JSON Schema contracts
];
/** Never in an agent worker's boot graph: another function's code. */
const NOT_IN_AGENTS = [
  "/shared/validation/app.ts",
  "/shared/validation/cli.ts",
  "/shared/delivery/mod.ts",
  "/shared/api/",
  "@modelcontextprotocol",
];

const AGENTS = [...Deno.readDirSync(new URL("../../functions/", import.meta.url))]
  .map((e) => e.name).filter((n) => n.startsWith("agent-")).sort();

Deno.test("agent workers boot without PGlite, the function runner, ajv or other functions' code", async () => {
  assert.equal(AGENTS.length, 9);
  for (const fn of AGENTS) {
    const { eager, all } = await bootGraph(fn);
    for (const part of DEFERRED_IN_AGENTS) {
      assert.ok(!has(eager, part), `${fn} loads ${part} at boot`);
      assert.ok(has(all, part), `${fn}'s graph (its bundle) lacks ${part}`);
    }
    for (const part of NOT_IN_AGENTS) assert.ok(!has(eager, part), `${fn} loads ${part} at boot`);
    // What every task needs is still loaded eagerly.
    assert.ok(has(eager, "/shared/validation/validate.ts"), `${fn} lost its validator`);
  }
});

Deno.test("the orchestrator worker loads delivery with its first delivery, not at boot", async () => {
  const { eager, all } = await bootGraph("orchestrator-worker");
  for (const part of ["/shared/delivery/mod.ts", "/shared/delivery/deliver_run.ts"]) {
    assert.ok(!has(eager, part), `orchestrator-worker loads ${part} at boot`);
    assert.ok(has(all, part), `orchestrator-worker's bundle lacks ${part}`);
  }
  assert.ok(!has(eager, "@electric-sql/pglite@"), "orchestrator-worker loads PGlite at boot");
});

Deno.test("the REST API and the MCP server hold no validator, delivery pipeline or model client", async () => {
  for (const fn of ["orchestrator", "mcp"]) {
    const { eager } = await bootGraph(fn);
    for (
      const part of [
        "/shared/validation/validate.ts",
        "/shared/delivery/mod.ts",
        "/shared/delivery/deliver_run.ts",
        "@electric-sql/pglite@",
        "@supabase/pg-parser",
        "openai@",
      ]
    ) {
      assert.ok(!has(eager, part), `${fn} loads ${part} at boot`);
    }
    // The deliverable download stays served.
    assert.ok(has(eager, "/shared/delivery/http_format.ts"), `${fn} lost the deliverable format`);
  }
  assert.ok(!has((await bootGraph("mcp")).eager, "@hono/zod-openapi"), "mcp loads the REST app");
});
