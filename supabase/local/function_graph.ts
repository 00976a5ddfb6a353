/**
 * What a deployed function's code is: the module graph `deno info --json` computes from the
 * entrypoint and import map `config.toml` names, which is what `supabase functions deploy`
 * bundles (plus any `static_files`). Tests use it to check that deployed code stays out of the
 * local stand-in and reads no file it does not ship; {@link fileReadSites} finds the calls that
 * read files, so each can be justified or removed.
 *
 * @example
 * ```ts
 * const [spec] = loadFunctionsConfig("supabase/config.toml");
 * const graph = await functionGraph(spec);
 * graph.localModules; // ["/repo/functions/agent-api-data/index.ts", "/repo/shared/…", …]
 * ```
 */
import { basename, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import type { FunctionSpec } from "./functions_config.ts";

/** The module graph of one function. */
export interface FunctionGraph {
  /** The function's name in `config.toml`. */
  name: string;
  /** Absolute paths of the graph's `file:` modules, sorted. */
  localModules: string[];
  /** Every other module specifier (`npm:`, `jsr:`, `https:`, `node:`), sorted. */
  otherModules: string[];
  /** Modules Deno could not resolve or load, with its message. */
  errors: string[];
}

interface DenoInfo {
  modules: { specifier: string; error?: string }[];
}

/** The module graph of a function, from `deno info --json` with the function's import map. */
export async function functionGraph(spec: FunctionSpec): Promise<FunctionGraph> {
  const args = ["info", "--json"];
  if (spec.importMap) {
    args.push(/^deno\.jsonc?$/.test(basename(spec.importMap)) ? "--config" : "--import-map");
    args.push(spec.importMap);
  }
  args.push(spec.entrypoint);
  const out = await new Deno.Command(Deno.execPath(), {
    args,
    cwd: dirname(spec.entrypoint),
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Error(
      `deno info failed for ${spec.name}: ${new TextDecoder().decode(out.stderr).trim()}`,
    );
  }
  const info = JSON.parse(new TextDecoder().decode(out.stdout)) as DenoInfo;
  const localModules: string[] = [];
  const otherModules: string[] = [];
  const errors: string[] = [];
  for (const m of info.modules) {
    if (m.error) errors.push(`${m.specifier}: ${m.error}`);
    if (m.specifier.startsWith("file:")) localModules.push(fileURLToPath(m.specifier));
    else otherModules.push(m.specifier);
  }
  return {
    name: spec.name,
    localModules: localModules.sort(),
    otherModules: otherModules.sort(),
    errors,
  };
}

/** A place in a module's source that reads a file. */
export interface FileReadSite {
  /** 1-based line number. */
  line: number;
  /** The line, trimmed. */
  text: string;
}

// Deno's reading calls (and their Sync forms), and Node's `fs`, which npm code and `node:` imports
// reach. A static look: a read through an alias (`const r = Deno.readFile`) is not seen.
const FILE_READ = new RegExp(
  [
    String.raw`\bDeno\.(?:readTextFile|readFile|readDir|open)(?:Sync)?\s*\(`,
    String
      .raw`\bfs\.(?:promises\.)?(?:readFile|readFileSync|readdir|readdirSync|createReadStream|openSync|open)\s*\(`,
    String.raw`\bfrom\s*["'](?:node:)?fs(?:/promises)?["']`,
  ].join("|"),
);

/**
 * The lines of `source` that read files: `Deno.readTextFile`, `Deno.readFile`, `Deno.readDir`,
 * `Deno.open` (and `…Sync`), `fs.readFile` and the like, and imports of `node:fs`.
 *
 * @example
 * ```ts
 * fileReadSites('const t = await Deno.readTextFile("x");'); // [{ line: 1, text: "const t = …" }]
 * ```
 */
export function fileReadSites(source: string): FileReadSite[] {
  return source.split("\n").flatMap((text, i) =>
    FILE_READ.test(text) ? [{ line: i + 1, text: text.trim() }] : []
  );
}
