/**
 * What `supabase functions deploy` ships for a function, and the product started from those files
 * alone. A function's deploy bundle is its module graph (`deno info --json` of the entrypoint
 * with the import map `config.toml` names, see supabase/local/function_graph.ts), the import map
 * itself with its lockfile (what the bundler resolves packages with), and its `static_files`.
 * {@link bundleFunctions} copies exactly those files of each function into a folder of its own,
 * with the repository's layout, and gives the function a sandbox: it may read that folder and
 * Deno's cache (the npm packages a deploy bundles) and write a scratch folder standing in for the
 * platform's `/tmp` — nothing else of the disk — and it gets `--deny-run` and the other hosted
 * limits from the gateway. {@link startBundledProduct} runs the whole product that way.
 *
 * @example
 * ```ts
 * await using bundled = await bundleFunctions(loadFunctionsConfig("supabase/config.toml"));
 * await using app = await startBundledProduct(bundled, { scenarioFiles: [PLAN] });
 * const alice = await app.newUser();
 * ```
 */
import { dirname, isAbsolute, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { functionGraph } from "../../supabase/local/function_graph.ts";
import type { FunctionSpec } from "../../supabase/local/functions_config.ts";
import type { ScenarioInput } from "./scripted_llm/mod.ts";
import { type Product, startProduct } from "./stack.ts";

/** The repository every bundle is cut from. */
export const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));

/** What a deploy ships for one function. */
export interface DeployBundle {
  name: string;
  /** Paths of the shipped files relative to the repository, sorted. */
  files: string[];
}

/**
 * The files a deploy of `spec` ships: its module graph's local modules, its import map (and the
 * lockfile beside it) and its static files. Throws when the graph does not load or reaches
 * outside the repository.
 */
export async function deployBundle(spec: FunctionSpec, root = REPO_ROOT): Promise<DeployBundle> {
  const graph = await functionGraph(spec);
  if (graph.errors.length > 0) {
    throw new Error(`${spec.name}'s module graph does not load: ${graph.errors.join("; ")}`);
  }
  const absolute = new Set(graph.localModules);
  if (spec.importMap) {
    absolute.add(spec.importMap);
    const lock = join(dirname(spec.importMap), "deno.lock");
    if (isFile(lock)) absolute.add(lock);
  }
  for (const pattern of spec.staticFiles ?? []) {
    for (const file of expandStaticFiles(pattern)) absolute.add(file);
  }
  const files = [...absolute].map((path) => {
    const rel = relative(root, path);
    if (rel.startsWith("..") || isAbsolute(rel)) {
      throw new Error(`${spec.name} ships ${path}, which is outside ${root}`);
    }
    return rel;
  });
  return { name: spec.name, files: files.sort() };
}

/** Copies `bundle`'s files from `root` into `into`, keeping their relative paths. */
export async function copyBundle(
  bundle: DeployBundle,
  into: string,
  root = REPO_ROOT,
): Promise<void> {
  for (const file of bundle.files) {
    const target = join(into, file);
    await Deno.mkdir(dirname(target), { recursive: true });
    await Deno.copyFile(join(root, file), target);
  }
}

/** Deno's cache folder (npm packages, remote modules), as `deno info` reports it. */
export async function denoCacheDir(): Promise<string> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json"],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  if (!out.success) throw new Error("deno info --json failed");
  return (JSON.parse(new TextDecoder().decode(out.stdout)) as { denoDir: string }).denoDir;
}

/** Functions copied into bundles of their own, ready to be served from there. */
export interface BundledFunctions extends AsyncDisposable {
  /** The folder holding one bundle folder per function. */
  dir: string;
  /** The folder functions may write (the platform's `/tmp`); `BT_SHADOW_CACHE_DIR` points here. */
  scratchDir: string;
  bundles: DeployBundle[];
  /** The functions as they run from their bundles, sandboxed (see the module doc). */
  specs: FunctionSpec[];
  /** Removes every bundle. */
  close(): Promise<void>;
}

/**
 * Bundles each function of `specs` into a folder of its own under a fresh temporary folder and
 * returns specs that run it from there: entrypoint and import map in the bundle, and a sandbox
 * that can read only the bundle, Deno's cache and the scratch folder.
 */
export async function bundleFunctions(
  specs: readonly FunctionSpec[],
  root = REPO_ROOT,
): Promise<BundledFunctions> {
  const dir = await Deno.makeTempDir({ prefix: "bt_bundles_" });
  const scratchDir = join(dir, "_scratch");
  await Deno.mkdir(scratchDir);
  const close = () => Deno.remove(dir, { recursive: true }).catch(() => {});
  try {
    const cache = await denoCacheDir();
    const bundles = await Promise.all(specs.map((spec) => deployBundle(spec, root)));
    const bundled: FunctionSpec[] = [];
    for (const [i, spec] of specs.entries()) {
      const home = join(dir, spec.name);
      await copyBundle(bundles[i], home, root);
      const moved = (path: string) => join(home, relative(root, path));
      bundled.push({
        ...spec,
        entrypoint: moved(spec.entrypoint),
        ...(spec.importMap ? { importMap: moved(spec.importMap) } : {}),
        ...(spec.staticFiles ? { staticFiles: spec.staticFiles.map(moved) } : {}),
        sandbox: { read: [home, cache, scratchDir], write: [scratchDir], cwd: home },
      });
    }
    return { dir, scratchDir, bundles, specs: bundled, close, [Symbol.asyncDispose]: close };
  } catch (e) {
    await close();
    throw e;
  }
}

/** Options of {@link startBundledProduct}. */
export interface BundledProductOptions {
  scenarios?: ScenarioInput[];
  scenarioFiles?: (string | URL)[];
  /** Extra environment for the functions. */
  env?: Record<string, string>;
}

/**
 * The product as tests/_support/stack.ts starts it (fresh database, local stack, scripted LLM),
 * but every function served from its bundle in hosted-limits mode.
 */
export function startBundledProduct(
  bundled: BundledFunctions,
  options: BundledProductOptions = {},
): Promise<Product> {
  return startProduct({
    scenarios: options.scenarios,
    scenarioFiles: options.scenarioFiles,
    functions: bundled.specs,
    // The bundle test reports usage itself.
    reportUsage: false,
    env: {
      BT_HOSTED_LIMITS: "1",
      BT_SHADOW_CACHE_DIR: bundled.scratchDir,
      TMPDIR: bundled.scratchDir,
      ...options.env,
    },
  });
}

/**
 * The files a `static_files` entry names: the file itself, or for a pattern with `*` (any name
 * part), `**` (any folders) or `?`, every file under the pattern's fixed leading folders that
 * matches, as the CLI's glob does.
 */
export function expandStaticFiles(pattern: string): string[] {
  if (!/[*?]/.test(pattern)) return isFile(pattern) ? [pattern] : [];
  const parts = pattern.split("/");
  const fixed = parts.slice(0, parts.findIndex((p) => /[*?]/.test(p))).join("/") || "/";
  const matcher = globPattern(pattern);
  const out: string[] = [];
  const walk = (dir: string) => {
    let entries: Deno.DirEntry[];
    try {
      entries = [...Deno.readDirSync(dir)];
    } catch {
      return;
    }
    for (const e of entries) {
      const path = join(dir, e.name);
      if (e.isDirectory) walk(path);
      else if (e.isFile && matcher.test(path)) out.push(path);
    }
  };
  walk(fixed);
  return out.sort();
}

function globPattern(glob: string): RegExp {
  let source = "";
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === "*" && glob[i + 1] === "*") {
      source += glob[i + 2] === "/" ? "(?:.*/)?" : ".*";
      i += glob[i + 2] === "/" ? 2 : 1;
    } else if (c === "*") {
      source += "[^/]*";
    } else if (c === "?") {
      source += "[^/]";
    } else {
      source += c.replace(/[.+^${}()|[\]\\]/g, "\\$&");
    }
  }
  return new RegExp(`^${source}$`);
}

function isFile(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}
