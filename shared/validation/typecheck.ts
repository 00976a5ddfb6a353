/**
 * Type-checks edge function source the way Supabase would bundle it: the files are written to a
 * temporary folder with a `deno.json` mapping the product's pinned npm packages (so `hono`, `zod`,
 * `@supabase/supabase-js` resolve as in this repository) and `deno check` runs on them with this
 * process's own Deno. Supabase's `edge-runtime.d.ts` (a JSR module) is mapped to a local
 * declaration of `EdgeRuntime`, since JSR may not be reachable. Each diagnostic becomes a
 * `typecheck_error` with its file and line.
 *
 * @example
 * ```ts
 * const findings = await typecheckFunctions([{ name: "hello/index.ts", source }]);
 * ```
 */
import { join, normalize } from "node:path";
import { z } from "zod";
import { type Finding, finding } from "./finding.ts";

/** One edge function source file. */
export const FunctionFile = z.object({
  /** Path relative to the functions folder, e.g. `hello/index.ts`. */
  name: z.string().min(1).max(200).regex(
    /^(?!\/)(?!.*\.\.)[A-Za-z0-9_\-./]+\.(ts|tsx|mts|js|mjs)$/,
    "must be a relative .ts/.js path without ..",
  ),
  source: z.string().max(512 * 1024),
});
export type FunctionFile = z.infer<typeof FunctionFile>;

const EDGE_RUNTIME_TYPES = `
declare namespace EdgeRuntime {
  function waitUntil(promise: Promise<unknown>): void;
}
`;

async function npmImports(): Promise<Record<string, string>> {
  const config = JSON.parse(
    await Deno.readTextFile(new URL("../../deno.json", import.meta.url)),
  ) as { imports?: Record<string, string> };
  return Object.fromEntries(
    Object.entries(config.imports ?? {}).filter(([, v]) => v.startsWith("npm:")),
  );
}

/** Runs `deno check` on `files`; a finding per diagnostic (none when they type-check). */
export async function typecheckFunctions(
  files: readonly FunctionFile[],
  options: { timeoutMs?: number } = {},
): Promise<Finding[]> {
  if (files.length === 0) return [];
  const dir = await Deno.makeTempDir({ prefix: "bt_typecheck_" });
  try {
    await Deno.writeTextFile(join(dir, "_edge_runtime.d.ts"), EDGE_RUNTIME_TYPES);
    await Deno.writeTextFile(
      join(dir, "deno.json"),
      JSON.stringify({
        imports: {
          ...await npmImports(),
          "jsr:@supabase/functions-js/edge-runtime.d.ts": "./_edge_runtime.d.ts",
        },
        compilerOptions: { strict: true },
      }),
    );
    const paths: string[] = [];
    for (const f of files) {
      const path = join(dir, normalize(f.name));
      await Deno.mkdir(join(path, ".."), { recursive: true });
      await Deno.writeTextFile(path, f.source);
      paths.push(path);
    }
    const env: Record<string, string> = { NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1" };
    for (const name of ["HOME", "DENO_DIR", "XDG_CACHE_HOME", "NPM_CONFIG_REGISTRY", "PATH"]) {
      const v = Deno.env.get(name);
      if (v !== undefined) env[name] = v;
    }
    const child = new Deno.Command(Deno.execPath(), {
      args: ["check", "--quiet", "--config", join(dir, "deno.json"), ...paths],
      cwd: dir,
      env,
      clearEnv: true,
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const limit = options.timeoutMs ?? 120_000;
    const timer = setTimeout(() => child.kill("SIGKILL"), limit);
    const output = await child.output();
    clearTimeout(timer);
    if (output.success) return [];
    const text = new TextDecoder().decode(output.stderr) + new TextDecoder().decode(output.stdout);
    const found = parseDiagnostics(text, dir, files);
    if (found.length > 0) return found;
    return [finding("typecheck_error", `deno check failed: ${lastLines(text)}`, {})];
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

function lastLines(text: string): string {
  const lines = text.trim().split("\n").filter((l) => !/^\s*\d+: /.test(l) && l.trim() !== "");
  return lines.slice(-4).join(" | ") || "no output (killed after the time limit?)";
}

/** Turns `deno check` output into findings located in the submitted files. */
export function parseDiagnostics(
  text: string,
  dir: string,
  files: readonly FunctionFile[],
): Finding[] {
  const out: Finding[] = [];
  const blocks = text.split(/\n(?=TS\d+ \[ERROR\]|error: )/);
  for (const block of blocks) {
    const head = /(TS\d+) \[ERROR\]: ([^\n]+)/.exec(block);
    if (!head) continue;
    const at = /at file:\/\/(\S+?):(\d+):(\d+)/.exec(block);
    const path = at?.[1] ? decodeURIComponent(at[1]) : undefined;
    const file = path?.startsWith(dir + "/") ? path.slice(dir.length + 1) : undefined;
    const line = at ? Number(at[2]) : null;
    const source = files.find((f) => normalize(f.name) === file)?.source;
    const statement = source && line ? source.split("\n")[line - 1]?.trim() ?? null : null;
    out.push(finding("typecheck_error", `${head[1]}: ${head[2]}`, {
      file: file ?? null,
      line,
      statement,
    }));
  }
  return out;
}
