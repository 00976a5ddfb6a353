/**
 * The shadow validator's own benchmark (`validate_bench.ts`, another module's), run as a
 * subprocess when it exists, its p50/p95 lines picked up for the table with the targets it states
 * (p50 ≤ 250 ms on PGlite, ≤ 150 ms on PostgreSQL).
 *
 * @example
 * ```ts
 * const rows = await runValidatorBench(20);
 * ```
 */
import { fileURLToPath } from "node:url";

/** One validator figure. */
export interface ValidatorRow {
  label: string;
  p50Ms: number;
  p95Ms: number;
  /** The p50 target, when the label names a backend with one. */
  targetMs: number | null;
}

const SCRIPT = new URL("./validate_bench.ts", import.meta.url);
const LINE = /^(.*?)\s+p50 (\d+) ms\s+p95 (\d+) ms/;

/** Runs the validator bench (`runs` validations per backend); undefined if it is not there. */
export async function runValidatorBench(
  runs: number,
  timeoutMs = 420_000,
): Promise<{ rows: ValidatorRow[]; output: string; error?: string } | undefined> {
  try {
    await Deno.stat(SCRIPT);
  } catch {
    return undefined;
  }
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", fileURLToPath(SCRIPT), "--runs", String(runs)],
    cwd: fileURLToPath(new URL("../../", import.meta.url)),
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  const { code, stdout, stderr } = await child.output();
  clearTimeout(timer);
  const output = new TextDecoder().decode(stdout);
  const rows: ValidatorRow[] = [];
  for (const line of output.split("\n")) {
    const m = LINE.exec(line);
    if (!m) continue;
    const label = m[1].trim();
    rows.push({
      label,
      p50Ms: Number(m[2]),
      p95Ms: Number(m[3]),
      targetMs: /^pglite: validate/.test(label)
        ? 250
        : /^postgres: validate/.test(label)
        ? 150
        : null,
    });
  }
  return {
    rows,
    output,
    error: code === 0 ? undefined : new TextDecoder().decode(stderr).split("\n").slice(-5).join(
      "\n",
    ),
  };
}
