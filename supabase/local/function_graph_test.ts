/**
 * What deploys with each function is only its module graph: no function may depend on the local
 * stand-in (`supabase/local/`), `shared/` and `functions/` never import it, and every place in a
 * function's graph that reads a file is listed below with the reason it is not a file the deploy
 * would lack. A new read fails here until it is removed (embed the data, as `gen:bundled` does)
 * or justified in {@link ALLOWED_READS}.
 */
import assert from "node:assert/strict";
import { relative } from "node:path";
import { fileURLToPath } from "node:url";
import { fileReadSites, type FunctionGraph, functionGraph } from "./function_graph.ts";
import { loadFunctionsConfig } from "./functions_config.ts";

const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));
const CONFIG = fileURLToPath(new URL("../config.toml", import.meta.url));

/** Modules of function graphs that read files, by repo path, with why that is not a deploy gap. */
const ALLOWED_READS: Record<string, string> = {
  "shared/prompts/mod.ts": "only with an explicit `dir` (tests, prompt drafts); functions load " +
    "the bundled prompts",
  "shared/delivery/pgtap_run.ts": "pgTAP's bundle inside the @electric-sql/pglite-pgtap npm " +
    "package, at the path the package's own setup gives (not a repository file)",
  "shared/shadow/_pglite_instance.ts": "PGlite's .wasm and .data inside the @electric-sql/pglite " +
    "npm package, found with import.meta.resolve (not a repository file)",
  "shared/shadow/pglite_backend.ts": "snapshots it wrote itself to the shadow cache folder",
  "shared/shadow/_pglite_host.ts": "the snapshot its parent wrote to the shadow cache folder " +
    "(this module only runs as a child process)",
  "shared/validation/cli.ts": "the validator's command line reads the files its user names; " +
    "functions reach the module through shared/validation/mod.ts and never call it",
  "shared/db/_postgres_js/index.js": "postgres.js's `sql.file(path)` reads only the path its " +
    "caller passes; the product never calls it",
};

const specs = loadFunctionsConfig(CONFIG).filter((s) => s.enabled);
let graphs: Promise<FunctionGraph[]> | undefined;
function allGraphs(): Promise<FunctionGraph[]> {
  graphs ??= Promise.all(specs.map(functionGraph));
  return graphs;
}

function repoPath(path: string): string {
  return relative(REPO_ROOT, path);
}

Deno.test("every function in config.toml has a module graph that loads", async () => {
  assert.ok(specs.length >= 10, `only ${specs.length} functions in config.toml`);
  for (const graph of await allGraphs()) {
    assert.deepEqual(graph.errors, [], graph.name);
    assert.ok(graph.localModules.length > 0, graph.name);
  }
});

Deno.test("no function's module graph reaches supabase/local or leaves shared/ and functions/", async () => {
  for (const graph of await allGraphs()) {
    const outside = graph.localModules.map(repoPath)
      // deno.json is the import map every deploy ships; typecheck imports it as a JSON module.
      .filter((p) => !p.startsWith("shared/") && !p.startsWith("functions/") && p !== "deno.json");
    assert.deepEqual(outside, [], `${graph.name} bundles modules outside shared/ and functions/`);
  }
});

Deno.test("shared/ and functions/ never import supabase/local", async () => {
  const offenders: string[] = [];
  const importsLocal = /(?:\bfrom\s*|\bimport\s*\(\s*)["'][^"']*supabase\/local\//;
  for (const top of ["shared", "functions"]) {
    for await (const path of sourceFiles(`${REPO_ROOT}${top}`)) {
      const lines = (await Deno.readTextFile(path)).split("\n");
      lines.forEach((line, i) => {
        if (importsLocal.test(line)) offenders.push(`${repoPath(path)}:${i + 1}: ${line.trim()}`);
      });
    }
  }
  assert.deepEqual(offenders, []);
});

Deno.test("every file read in a function's graph is justified", async () => {
  const modules = new Set((await allGraphs()).flatMap((g) => g.localModules));
  const unjustified: string[] = [];
  const reading = new Set<string>();
  for (const path of modules) {
    const sites = fileReadSites(await Deno.readTextFile(path));
    if (sites.length === 0) continue;
    reading.add(repoPath(path));
    if (repoPath(path) in ALLOWED_READS) continue;
    for (const s of sites) unjustified.push(`${repoPath(path)}:${s.line}: ${s.text}`);
  }
  assert.deepEqual(
    unjustified,
    [],
    "reads a file a deploy may not ship: embed the data (deno task gen:bundled) or justify it in " +
      "ALLOWED_READS",
  );
  const stale = Object.keys(ALLOWED_READS).filter((p) => !reading.has(p));
  assert.deepEqual(stale, [], "ALLOWED_READS names modules that no function reads files through");
});

Deno.test("the read scanner sees Deno and node:fs reads and nothing else", () => {
  const source = [
    'const a = await Deno.readTextFile(new URL("../../deno.json", import.meta.url));',
    "const b = Deno.readFileSync(path);",
    "for await (const e of Deno.readDir(dir)) {}",
    'import { readFile } from "node:fs/promises";',
    "fs.readFile(path, 'utf8', done);",
    "await Deno.writeTextFile(path, text);",
    "const readFile = () => FILES[name];",
  ].join("\n");
  assert.deepEqual(fileReadSites(source).map((s) => s.line), [1, 2, 3, 4, 5]);
});

Deno.test("a function whose graph reads a file is caught through its imports", async () => {
  const dir = await Deno.makeTempDir({ prefix: "bt_function_graph_" });
  try {
    await Deno.writeTextFile(`${dir}/index.ts`, 'import { prompt } from "./reader.ts";\n');
    await Deno.writeTextFile(
      `${dir}/reader.ts`,
      'export const prompt = await Deno.readTextFile(new URL("./p.md", import.meta.url));\n',
    );
    const graph = await functionGraph({
      name: "reader",
      entrypoint: `${dir}/index.ts`,
      verifyJwt: true,
      enabled: true,
    });
    const reader = graph.localModules.find((p) => p.endsWith("/reader.ts"));
    assert.ok(reader, graph.localModules.join(", "));
    assert.equal(fileReadSites(await Deno.readTextFile(reader)).length, 1);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

async function* sourceFiles(dir: string): AsyncGenerator<string> {
  for await (const e of Deno.readDir(dir)) {
    const path = `${dir}/${e.name}`;
    if (e.isDirectory) yield* sourceFiles(path);
    else if (e.isFile && /\.(?:ts|tsx|js|mjs)$/.test(e.name)) yield path;
  }
}
