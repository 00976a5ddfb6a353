/**
 * Which edge functions the local stack serves, read from the Supabase CLI's `config.toml` the same
 * way `supabase functions serve` reads it: every `[functions.<name>]` table (paths relative to the
 * folder holding `config.toml`), plus every function folder that has no table, which gets the CLI's
 * defaults (`<functionsDir>/<name>/index.ts`, `verify_jwt = true`). One file drives both the
 * deployed project and the local gateway, so `verify_jwt` cannot drift between them.
 *
 * @example
 * ```ts
 * const specs = loadFunctionsConfig("/repo/supabase/config.toml");
 * // [{ name: "orchestrator", entrypoint: "/repo/functions/orchestrator/index.ts", verifyJwt: true, ... }]
 * ```
 */
import { dirname, isAbsolute, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parse as parseToml } from "smol-toml";
import { z } from "zod";
import { AppError } from "../../shared/errors/mod.ts";

/** One function the gateway can serve. */
export interface FunctionSpec {
  /** The function's slug: its URL segment in `/functions/v1/<name>`. */
  name: string;
  /** Absolute path of the module that calls `Deno.serve`. */
  entrypoint: string;
  /** Whether the gateway requires a valid JWT before the function runs (Supabase's default: true). */
  verifyJwt: boolean;
  /** A disabled function is not served (404), as with `enabled = false` in the CLI. */
  enabled: boolean;
  /** Absolute path of the function's `deno.json` / import map, when the config names one. */
  importMap?: string;
  /**
   * Files deployed with the function besides its module graph (`static_files`), as absolute
   * paths or glob patterns (`*`, `**`), resolved like `entrypoint`.
   */
  staticFiles?: string[];
  /**
   * Runs the function's process with only these permissions instead of `-A` (the bundle test):
   * it may read `read` (its bundle and Deno's cache) and write `write`, reach the network and
   * its environment, and nothing else. Never read from `config.toml`.
   */
  sandbox?: FunctionSandbox;
}

/** What a sandboxed function process may touch (see {@link FunctionSpec.sandbox}). */
export interface FunctionSandbox {
  /** Folders and files it may read. */
  read: string[];
  /** Folders it may write (e.g. a scratch folder standing in for the platform's `/tmp`). */
  write?: string[];
  /** Its working directory (default the first of `read`). */
  cwd?: string;
}

// The CLI's slug rule for function names (folder names that do not match are not functions).
const FUNCTION_NAME = /^[A-Za-z][A-Za-z0-9_-]*$/;

// The keys of the CLI's `function` struct; unknown keys are kept so a newer CLI's config still loads.
const FunctionTable = z.looseObject({
  enabled: z.boolean().default(true),
  verify_jwt: z.boolean().default(true),
  entrypoint: z.string().min(1).optional(),
  import_map: z.string().min(1).optional(),
  static_files: z.array(z.string()).optional(),
});

const ConfigToml = z.looseObject({
  functions: z.record(
    z.string().regex(FUNCTION_NAME, "is not a valid function name"),
    FunctionTable,
  ).optional(),
});

/** Where paths in the config resolve from and where unlisted functions live. */
export interface FunctionsConfigOptions {
  /** Folder holding `config.toml`; relative paths in it resolve from here. */
  configDir: string;
  /** Folder of function folders (default `<configDir>/functions`, as the CLI). */
  functionsDir?: string;
}

/**
 * The functions declared in a `config.toml` text. Pure: it reads no files, so unlisted folders are
 * not included (see {@link loadFunctionsConfig}).
 *
 * @example
 * ```ts
 * parseFunctionsConfig('[functions.echo]\nverify_jwt = false', { configDir: "/repo/supabase" });
 * // [{ name: "echo", entrypoint: "/repo/supabase/functions/echo/index.ts", verifyJwt: false, enabled: true }]
 * ```
 */
export function parseFunctionsConfig(
  text: string,
  options: FunctionsConfigOptions,
): FunctionSpec[] {
  let raw: unknown;
  try {
    raw = parseToml(text);
  } catch (e) {
    throw new AppError(
      "config_missing",
      `config.toml is not valid TOML: ${messageOf(e)}`,
      undefined,
      {
        cause: e,
      },
    );
  }
  const parsed = ConfigToml.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
    throw new AppError("config_missing", `config.toml: ${problems.join("; ")}`, {
      issues: problems,
    });
  }
  const functionsDir = options.functionsDir ?? join(options.configDir, "functions");
  return Object.entries(parsed.data.functions ?? {}).map(([name, table]) => ({
    name,
    entrypoint: table.entrypoint
      ? resolveFrom(options.configDir, table.entrypoint)
      : join(functionsDir, name, "index.ts"),
    verifyJwt: table.verify_jwt,
    enabled: table.enabled,
    ...(table.import_map ? { importMap: resolveFrom(options.configDir, table.import_map) } : {}),
    ...(table.static_files?.length
      ? { staticFiles: table.static_files.map((f) => resolveFrom(options.configDir, f)) }
      : {}),
  }));
}

/**
 * Names of the function folders in `functionsDir`: folders with an `index.ts` whose name is a valid
 * slug. `_shared` and other `_`-prefixed folders are not functions (the CLI does not deploy them).
 */
export function discoverFunctionFolders(functionsDir: string): string[] {
  let entries: Deno.DirEntry[];
  try {
    entries = [...Deno.readDirSync(functionsDir)];
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return [];
    throw e;
  }
  return entries
    .filter((e) => e.isDirectory && FUNCTION_NAME.test(e.name))
    .filter((e) => isFile(join(functionsDir, e.name, "index.ts")))
    .map((e) => e.name)
    .sort();
}

/**
 * Every function `supabase functions serve` would serve for `configPath`: the configured ones, then
 * the unlisted folders of `functionsDir` with the CLI's defaults. Sorted by name. Synchronous so a
 * broken config stops the stack at start-up rather than on the first request.
 */
export function loadFunctionsConfig(
  configPath: string,
  options: { functionsDir?: string } = {},
): FunctionSpec[] {
  const configDir = dirname(resolve(configPath));
  const functionsDir = options.functionsDir ?? join(configDir, "functions");
  const configured = parseFunctionsConfig(Deno.readTextFileSync(configPath), {
    configDir,
    functionsDir,
  });
  const known = new Set(configured.map((f) => f.name));
  const unlisted = discoverFunctionFolders(functionsDir)
    .filter((name) => !known.has(name))
    .map((name) => ({
      name,
      entrypoint: join(functionsDir, name, "index.ts"),
      verifyJwt: true,
      enabled: true,
    }));
  return [...configured, ...unlisted].sort((a, b) => a.name.localeCompare(b.name));
}

function resolveFrom(dir: string, path: string): string {
  const p = path.startsWith("file://") ? fileURLToPath(path) : path;
  return isAbsolute(p) ? p : resolve(dir, p);
}

function isFile(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
