/**
 * Sustained load: `concurrency` runs kept in flight by `users` users (when one run ends its slot
 * submits another) for a measured window after a warm-up. Each slot polls its run with
 * `GET /runs/:id` every `pollMs`, as an app without Realtime would, so the API is timed under the
 * same load. Throughput counts what the database says finished inside the window (tasks whose
 * attempt succeeded, runs completed); errors are non-2xx answers, runs that failed, and failure
 * lines in the stack's logs. After the window no new runs are submitted; runs still going after
 * the drain time are cancelled (and counted as such, not as errors). The gateway's and the
 * functions' memory is sampled throughout.
 *
 * @example
 * ```ts
 * const result = await sustainedLoad(product, plan, { concurrency: 50, users: 10, windowS: 60 });
 * ```
 */
import type { BenchPlan } from "../fixtures/bench/mod.ts";
import { cpuDelta, type CpuSnapshot, cpuSnapshot, type CpuUse } from "./_cpu.ts";
import { sampleStackMemory, stackMemory } from "./_memory.ts";
import type { BenchProduct } from "./_product.ts";
import { type DispatchSample, dispatchSamples } from "./_probe.ts";
import { TASK_LEASE_SECONDS } from "./_product.ts";
import { summarize, type Summary } from "./_stats.ts";

/** How to load the product. */
export interface LoadOptions {
  concurrency: number;
  users: number;
  warmupS: number;
  windowS: number;
  /** Longest wait for in-flight runs after the window before cancelling them. */
  drainS: number;
  pollMs: number;
}

/** What a sustained load measured. */
export interface LoadResult {
  plan: string;
  kind: string;
  tasksPerRun: number;
  windowS: number;
  tasksInWindow: number;
  runsInWindow: number;
  tasksPerS: number;
  runsPerMin: number;
  submitted: number;
  completed: number;
  cancelledAfterWindow: number;
  failedRuns: number;
  httpErrors: number;
  logErrors: string[];
  post: Summary;
  get: Summary;
  /** Dispatch under this load (commit → first statement), every task of the load's runs. */
  dispatch: Summary;
  /** Median run latency (created → completed) of runs completed in the window, ms. */
  runLatencyP50Ms: number;
  /** CPU used inside the window, by process group. */
  cpu: CpuUse | null;
  memory: {
    gatewayPeakRssMb: number;
    gatewaySampledMaxRssMb: number;
    functions: { name: string; peakRssMb: number }[];
    functionsPeakTotalMb: number;
    functionsSampledMaxTotalMb: number;
  };
}

/** Runs the load; see the module doc. */
export async function sustainedLoad(
  product: BenchProduct,
  plan: BenchPlan,
  options: LoadOptions,
): Promise<LoadResult> {
  const users = await Promise.all(Array.from({ length: options.users }, () => product.newUser()));
  const memory = sampleStackMemory(product.stackPid, 1000);
  const errorsBefore = product.errorLines.length;
  const posts: { at: number; ms: number }[] = [];
  const gets: { at: number; ms: number }[] = [];
  const runIds: string[] = [];
  let httpErrors = 0;
  let failedRuns = 0;
  let completed = 0;
  let cancelled = 0;
  const started = performance.now();
  const windowStart = started + options.warmupS * 1000;
  const windowEnd = windowStart + options.windowS * 1000;
  const drainEnd = windowEnd + options.drainS * 1000;
  let dbWindowStart: Date | undefined;
  let cpuStart: CpuSnapshot | undefined;
  let cpu: CpuUse | null = null;
  const markStart = setTimeout(async () => {
    [{ now: dbWindowStart }] = await product.db.sql<
      { now: Date }[]
    >`select clock_timestamp() as now`;
    cpuStart = await cpuSnapshot(product.stackPid, product.db.url);
  }, options.warmupS * 1000);
  const markEnd = setTimeout(async () => {
    if (cpuStart) cpu = cpuDelta(cpuStart, await cpuSnapshot(product.stackPid, product.db.url));
  }, (options.warmupS + options.windowS) * 1000);
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  const slot = async (index: number) => {
    const { token } = users[index % users.length];
    while (performance.now() < windowEnd) {
      let runId: string;
      try {
        const submitted = await product.submit(token, plan.request);
        posts.push({ at: performance.now(), ms: submitted.ms });
        runId = submitted.value.id;
        runIds.push(runId);
      } catch {
        httpErrors++;
        await sleep(options.pollMs);
        continue;
      }
      for (;;) {
        await sleep(options.pollMs);
        if (performance.now() > drainEnd) {
          // A run that ended meanwhile answers 409; either way this slot is done.
          await product.cancel(token, runId).catch(() => 0);
          cancelled++;
          break;
        }
        try {
          const { value, ms } = await product.getRun(token, runId);
          gets.push({ at: performance.now(), ms });
          if (value.status === "completed") {
            completed++;
            break;
          }
          if (value.status === "failed" || value.status === "cancelled") {
            failedRuns++;
            break;
          }
        } catch {
          httpErrors++;
        }
      }
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, (_, i) => slot(i)));
  clearTimeout(markStart);
  clearTimeout(markEnd);
  const sampled = await memory.stop();
  const peaks = await stackMemory(product.stackPid);

  const sql = product.db.sql;
  const dbStart = dbWindowStart ?? new Date(0);
  const dbEnd = new Date(dbStart.getTime() + options.windowS * 1000);
  const [{ tasks }] = await sql<{ tasks: number }[]>`
    select count(*)::int as tasks from backend_team.task_attempts
     where run_id = any(${runIds}::uuid[]) and status = 'succeeded'
       and finished_at >= ${dbStart} and finished_at < ${dbEnd}`;
  const finishedRuns = await sql<{ latency_ms: number }[]>`
    select extract(epoch from completed_at - created_at) * 1000 as latency_ms
      from backend_team.runs
     where id = any(${runIds}::uuid[]) and status = 'completed'
       and completed_at >= ${dbStart} and completed_at < ${dbEnd}`;
  const inWindow = (x: { at: number }) => x.at >= windowStart && x.at < windowEnd;
  const dispatch: DispatchSample[] = await dispatchSamples(sql, runIds, TASK_LEASE_SECONDS);
  const functions = peaks.functions.map((f) => ({ name: f.name, peakRssMb: f.peakRssMb }));
  return {
    plan: plan.name,
    kind: plan.kind,
    tasksPerRun: plan.plan.tasks.length,
    windowS: options.windowS,
    tasksInWindow: tasks,
    runsInWindow: finishedRuns.length,
    tasksPerS: Math.round((tasks / options.windowS) * 10) / 10,
    runsPerMin: Math.round((finishedRuns.length / options.windowS) * 60 * 10) / 10,
    submitted: runIds.length,
    completed,
    cancelledAfterWindow: cancelled,
    failedRuns,
    httpErrors,
    logErrors: product.errorLines.slice(errorsBefore),
    post: summarize(posts.filter(inWindow).map((p) => p.ms)),
    get: summarize(gets.filter(inWindow).map((g) => g.ms)),
    dispatch: summarize(dispatch.map((d) => d.ms)),
    runLatencyP50Ms: summarize(finishedRuns.map((r) => Number(r.latency_ms))).p50,
    cpu,
    memory: {
      gatewayPeakRssMb: peaks.gateway?.peakRssMb ?? NaN,
      gatewaySampledMaxRssMb: sampled.gatewayMaxRssMb,
      functions,
      functionsPeakTotalMb: Math.round(functions.reduce((s, f) => s + f.peakRssMb, 0) * 10) / 10,
      functionsSampledMaxTotalMb: sampled.functionsMaxTotalRssMb,
    },
  };
}
