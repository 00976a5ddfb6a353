/**
 * The proof-per-layer benchmark (`proof_bench.ts`, issue 15) run as a subprocess, its p50/p95
 * lines picked up for the table with the budgets it states: the added proof per function, per
 * index (at `BT_INDEX_BENCH_ROWS`-style scale, default 50 000 rows) and per channel.
 *
 * @example
 * ```ts
 * const proof = await runProofBench(10);
 * ```
 */
import { fileURLToPath } from "node:url";

/** One proof figure. */
export interface ProofRow {
  label: string;
  p50Ms: number;
  p95Ms: number;
  budgetMs: number;
  pass: boolean;
}

const SCRIPT = new URL("./proof_bench.ts", import.meta.url);
const LINE = /^(.*?)\s+p50 (\d+) ms\s+p95 (\d+) ms.*budget p50 ≤ (\d+) ms: (pass|MISS)/;

/** Runs the proof bench (`runs` validations per layer, `rows` per queried table). */
export async function runProofBench(
  runs: number,
  rows = 50_000,
  timeoutMs = 300_000,
): Promise<{ rows: ProofRow[]; output: string; error?: string }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", fileURLToPath(SCRIPT), "--runs", String(runs), "--rows", String(rows)],
    cwd: fileURLToPath(new URL("../../", import.meta.url)),
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  const { code, stdout, stderr } = await child.output();
  clearTimeout(timer);
  const output = new TextDecoder().decode(stdout);
  const out: ProofRow[] = [];
  for (const line of output.split("\n")) {
    const m = LINE.exec(line);
    if (!m) continue;
    out.push({
      label: m[1].trim(),
      p50Ms: Number(m[2]),
      p95Ms: Number(m[3]),
      budgetMs: Number(m[4]),
      pass: m[5] === "pass",
    });
  }
  return {
    rows: out,
    output,
    error: code === 0 && out.length === 3
      ? undefined
      : new TextDecoder().decode(stderr).split("\n").slice(-5).join("\n"),
  };
}
