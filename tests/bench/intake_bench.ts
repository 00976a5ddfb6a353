/**
 * Intake and status under load, on their own: the bench's sustained-load phase (docs-only
 * nine-agent plan, 50 runs in flight by 10 users, each slot polling `GET /runs/:id` every second)
 * with a short window, printing `POST /runs` and `GET /runs/:id` latency (p50/p95/p99/max) and the
 * throughput the workers reached meanwhile. It starts its own product (fresh database, scripted
 * LLM, stack process) exactly as `deno task bench` does, so a change to the request path can be
 * measured before and after without running the whole bench.
 *
 * Run: `deno run -A tests/bench/intake_bench.ts [--window=20] [--warmup=5] [--concurrency=50]
 * [--json]`.
 */
import { nineAgentPlan } from "../fixtures/bench/mod.ts";
import type { CpuUse } from "./_cpu.ts";
import { startBenchProduct } from "./_product.ts";
import { sustainedLoad } from "./_throughput.ts";

function flag(name: string, fallback: number): number {
  const arg = Deno.args.find((a) => a.startsWith(`--${name}=`));
  const value = arg ? Number(arg.slice(name.length + 3)) : fallback;
  if (!Number.isFinite(value) || value <= 0) throw new Error(`--${name} must be a positive number`);
  return value;
}

const windowS = flag("window", 20);
const warmupS = flag("warmup", 5);
const concurrency = flag("concurrency", 50);
const log = (text: string) =>
  console.error(`[intake ${new Date().toISOString().slice(11, 19)}] ${text}`);
const loadBefore = (await Deno.readTextFile("/proc/loadavg")).split(" ").slice(0, 3).join(" ");

const plan = await nineAgentPlan("docs");
log("starting the product (fresh database, scripted LLM, stack process)");
await using product = await startBenchProduct([plan]);
log("warm-up: one run to the end (boots every worker function)");
const user = await product.newUser();
await product.runToEnd(user.token, plan.request);

log(`sustained load: ${concurrency} runs in flight, ${warmupS} s warm-up, ${windowS} s window`);
const load = await sustainedLoad(product, plan, {
  concurrency,
  users: 10,
  warmupS,
  windowS,
  drainS: 10,
  pollMs: 1000,
});
const row = (name: string, s: typeof load.post) =>
  `${name.padEnd(14)} n=${String(s.n).padStart(4)}  p50 ${s.p50.toFixed(1).padStart(7)} ms  ` +
  `p95 ${s.p95.toFixed(1).padStart(7)} ms  p99 ${s.p99.toFixed(1).padStart(7)} ms  ` +
  `max ${s.max.toFixed(1).padStart(7)} ms`;
const report = {
  date: new Date().toISOString(),
  loadBefore,
  windowS,
  concurrency,
  post: load.post,
  get: load.get,
  tasksPerS: load.tasksPerS,
  cpu: load.cpu,
  httpErrors: load.httpErrors,
  failedRuns: load.failedRuns,
  logErrors: load.logErrors.length,
  target: {
    postP99: load.post.p99 <= 250 ? "pass" : "miss",
    getP99: load.get.p99 <= 250 ? "pass" : "miss",
  },
};
if (Deno.args.includes("--json")) console.log(JSON.stringify(report, null, 2));
console.log(`load average before: ${loadBefore}`);
console.log(row("POST /runs", load.post) + `  (target p99 ≤ 250: ${report.target.postP99})`);
console.log(row("GET /runs/:id", load.get) + `  (target p99 ≤ 250: ${report.target.getP99})`);
console.log(
  `workers: ${load.tasksPerS} tasks/s; http errors ${load.httpErrors}, failed runs ` +
    `${load.failedRuns}, error lines ${load.logErrors.length}`,
);
for (const line of load.logErrors.slice(0, 5)) console.log(`  ${line}`);
const cpu = load.cpu as CpuUse | null;
if (cpu) {
  console.log(
    `CPU in the window: ${
      Math.round(cpu.utilization * 100)
    } % of ${navigator.hardwareConcurrency} ` +
      `cores; by group (s): ` +
      cpu.groups.filter((g) => g.ms > 0).map((g) => `${g.name} ${(g.ms / 1000).toFixed(1)}`)
        .join(", "),
  );
}
