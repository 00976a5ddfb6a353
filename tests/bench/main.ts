/**
 * `deno task bench`: the performance figures of the issue "Performance", all in one run on this
 * machine — the local stack (its own process, real worker functions) with the scripted LLM
 * answering instantly. Phases: the bare queue round trip; dispatch latency over ≥ 1,000 tasks;
 * per-task overhead for 3, 9 and 30 tasks (with and without SQL to validate); 60 s of sustained
 * load with 50 runs in flight from 10 users (documentation-only plan and the full seed example),
 * with CPU and memory of every process; LangGraph.js on the same six-node DAG; the shadow
 * database's set-up cost; the validator's own bench when present; the proof each layer adds
 * (function run, index measured at 50 000 rows, channel joined). Prints one table with targets
 * and writes everything to `tests/bench/results.json` (and, on a full run, `tests/bench/RESULTS.md`).
 *
 * Run: `deno task bench` (about 5–6 minutes) or `deno task bench --quick` (shorter windows, for
 * trying it out; its figures are not the reported ones).
 */
import { adminUrl, shadowAdminUrl } from "../_support/db.ts";
import {
  type BenchPlan,
  chainPlan,
  independentTasksPlan,
  nineAgentPlan,
  seedPlan,
  sixNodePlan,
  thirtyTaskPlan,
} from "../fixtures/bench/mod.ts";
import { bareRoundTrips } from "./_bare.ts";
import { productDispatch, productWakePath } from "./_dispatch.ts";
import { langGraphPerStep, type LangGraphResult } from "./_langgraph.ts";
import { ownMemory } from "./_memory.ts";
import { functionTimes, resetFunctionTimes } from "./_probe.ts";
import { type BenchProduct, startBenchProduct } from "./_product.ts";
import { ms, p50p99, renderTable, type Row } from "./_report.ts";
import { type RunMetrics, runMetrics } from "./_run_metrics.ts";
import { shadowSetupCost } from "./_shadow_cost.ts";
import { median, summarize, type Summary } from "./_stats.ts";
import { type LoadResult, sustainedLoad } from "./_throughput.ts";
import { runValidatorBench } from "./_validator_bench.ts";
import { runProofBench } from "./_proof_bench.ts";

const QUICK = Deno.args.includes("--quick");
const S = QUICK
  ? {
    bare: 300,
    chainRuns: 3,
    dispatchRuns: 6,
    wakePath: 100,
    reps: { seed: 1, nine: 1, thirty: 1, six: 3 },
    loadWindowS: 15,
    loadWarmupS: 5,
    langgraph: 10,
    validatorRuns: 5,
    proofRuns: 3,
  }
  : {
    bare: 1000,
    chainRuns: 8,
    dispatchRuns: 34,
    wakePath: 300,
    reps: { seed: 3, nine: 2, thirty: 1, six: 6 },
    loadWindowS: 60,
    loadWarmupS: 10,
    langgraph: 30,
    validatorRuns: 20,
    proofRuns: 10,
  };

const log = (text: string) =>
  console.error(`[bench ${new Date().toISOString().slice(11, 19)}] ${text}`);
const started = performance.now();
const loadAvg = async () =>
  (await Deno.readTextFile("/proc/loadavg")).split(" ").slice(0, 3).join(" ");
const meta = {
  date: new Date().toISOString(),
  quick: QUICK,
  cpus: navigator.hardwareConcurrency,
  loadBefore: await loadAvg(),
  deno: Deno.version.deno,
  machine: Deno.build.target,
};

// The plans -----------------------------------------------------------------------------------
const plans = {
  seedFull: await seedPlan("full"),
  seedDocs: await seedPlan("docs"),
  nineFull: await nineAgentPlan("full"),
  nineDocs: await nineAgentPlan("docs"),
  thirtyFull: thirtyTaskPlan("full"),
  thirtyDocs: thirtyTaskPlan("docs"),
  sixFull: sixNodePlan("full"),
  sixDocs: sixNodePlan("docs"),
  chain: chainPlan(),
  independent: independentTasksPlan(),
};

/** Per-task overhead of one plan: medians over its runs. */
interface OverheadRow {
  plan: string;
  kind: string;
  tasks: number;
  runs: number;
  wallMs: number;
  llmMs: number;
  perTaskOverheadMs: number;
  planningMs: number;
  executionMs: number;
  deliveryMs: number;
  perStepMs: number;
  validationMsPerTask: number;
  /** Shadow validation of each SQL task of these runs (the per-task proof), ms. */
  validationSamples: number[];
  eventsPerTask: number;
  workMsPerTaskExclLlmAndValidation: number;
  dispatch: Summary;
}

async function overheadOf(
  product: BenchProduct,
  token: string,
  plan: BenchPlan,
  reps: number,
): Promise<{ row: OverheadRow; metrics: RunMetrics[] }> {
  const metrics: RunMetrics[] = [];
  for (let i = 0; i < reps; i++) {
    metrics.push(await runMetrics(product.db.sql, await product.runToEnd(token, plan.request)));
  }
  const med = (f: (m: RunMetrics) => number) => Math.round(median(metrics.map(f)) * 10) / 10;
  const tasks = metrics.flatMap((m) => m.taskTimings);
  return {
    metrics,
    row: {
      plan: plan.name,
      kind: plan.kind,
      tasks: metrics[0].tasks,
      runs: reps,
      wallMs: med((m) => m.wallMs),
      llmMs: med((m) => m.llmMs),
      perTaskOverheadMs: med((m) => m.perTaskOverheadMs),
      planningMs: med((m) => m.planningMs),
      executionMs: med((m) => m.executionMs),
      deliveryMs: med((m) => m.deliveryMs),
      perStepMs: med((m) => m.perStepMs),
      validationMsPerTask: Math.round(
        tasks.reduce((s, t) => s + t.validationMs, 0) / tasks.length * 10,
      ) / 10,
      validationSamples: tasks.filter((t) => t.validationMs > 0).map((t) => t.validationMs),
      eventsPerTask: med((m) => m.events / m.tasks),
      workMsPerTaskExclLlmAndValidation: Math.round(
        tasks.reduce((s, t) => s + t.workMs - t.llmMs - t.validationMs, 0) / tasks.length * 10,
      ) / 10,
      dispatch: summarize(tasks.flatMap((t) => t.dispatchMs ?? [])),
    },
  };
}

// Least squares of a SQL task's validation time on the migrations its validation re-applies.
function validationGrowth(metrics: RunMetrics[]) {
  const points = metrics.flatMap((m) => m.taskTimings).filter((t) => t.validationMs > 0)
    .map((t) => [t.acceptedBefore, t.validationMs] as const);
  const n = points.length;
  const mx = points.reduce((s, [x]) => s + x, 0) / n;
  const my = points.reduce((s, [, y]) => s + y, 0) / n;
  const sxx = points.reduce((s, [x]) => s + (x - mx) ** 2, 0);
  const slope = sxx === 0 ? 0 : points.reduce((s, [x, y]) => s + (x - mx) * (y - my), 0) / sxx;
  return {
    points: n,
    interceptMs: Math.round(my - slope * mx),
    msPerAcceptedMigration: Math.round(slope * 10) / 10,
  };
}

/**
 * Writes to the runs table against events appended: row updates from the statistics collector
 * (flushed by each backend at least every second), events and `run.status` events from the log.
 */
async function runRowWrites(sql: BenchProduct["db"]["sql"]) {
  const [row] = await sql<{ run_updates: string; events: string; status_events: string }[]>`
    select (select n_tup_upd from pg_stat_user_tables
             where schemaname = 'backend_team' and relname = 'runs') as run_updates,
           (select count(*) from backend_team.run_events) as events,
           (select count(*) from backend_team.run_events where type = 'run.status') as status_events`;
  return {
    runUpdates: Number(row.run_updates),
    events: Number(row.events),
    statusEvents: Number(row.status_events),
  };
}

// The run -------------------------------------------------------------------------------------
log(`starting the product (fresh database, scripted LLM, stack process)${QUICK ? " — quick" : ""}`);
const product = await startBenchProduct(Object.values(plans));
let results: Record<string, unknown> = {};
let loads: LoadResult[] = [];
let overhead: OverheadRow[] = [];
try {
  log(`bare round trip: ${S.bare} back to back, ${Math.round(S.bare / 3)} with 15 ms idle gaps`);
  const bareHot = await bareRoundTrips(product.db, S.bare);
  const bareIdle = await bareRoundTrips(product.db, Math.round(S.bare / 3), { gapMs: 15 });

  log("warm-up (boots every worker function)");
  const user = await product.newUser();
  await Promise.all(
    [plans.nineDocs, plans.seedFull, plans.sixDocs].map((p) =>
      product.runToEnd(user.token, p.request)
    ),
  );

  log(`dispatch: ${S.chainRuns} chain runs, ${S.dispatchRuns} runs of 30 independent tasks`);
  const chain = await productDispatch(product, [user.token], plans.chain, {
    runs: S.chainRuns,
    inFlight: 1,
  });
  const dispatch = await productDispatch(product, [user.token], plans.independent, {
    runs: S.dispatchRuns,
    inFlight: 1,
  });
  const wakePath = await productWakePath(product, "deployment", S.wakePath);

  log("per-task overhead: 3, 9, 30 tasks, with and without SQL; the six-node DAG");
  const thirtyFull = await overheadOf(product, user.token, plans.thirtyFull, S.reps.thirty);
  const sets = [
    await overheadOf(product, user.token, plans.seedFull, S.reps.seed),
    await overheadOf(product, user.token, plans.nineFull, S.reps.nine),
    thirtyFull,
    await overheadOf(product, user.token, plans.seedDocs, S.reps.seed),
    await overheadOf(product, user.token, plans.nineDocs, S.reps.nine + 1),
    await overheadOf(product, user.token, plans.thirtyDocs, S.reps.seed),
    await overheadOf(product, user.token, plans.sixDocs, S.reps.six),
    await overheadOf(product, user.token, plans.sixFull, 2),
  ];
  overhead = sets.map((s) => s.row);
  // Within one plan, so every SQL task's migration is the same size and only n varies.
  const growth = validationGrowth(thirtyFull.metrics);

  const loadOptions = {
    concurrency: 50,
    users: 10,
    warmupS: S.loadWarmupS,
    windowS: S.loadWindowS,
    drainS: 10,
    pollMs: 1000,
  };
  log(`sustained load (docs-only nine-agent plan): 50 runs in flight, ${S.loadWindowS} s window`);
  await resetFunctionTimes(product.db.sql);
  const writesBefore = await runRowWrites(product.db.sql);
  const docsLoad = await sustainedLoad(product, plans.nineDocs, loadOptions);
  await new Promise((r) => setTimeout(r, 1500)); // let backends flush their function statistics
  const sqlFunctionsUnderLoad = await functionTimes(product.db.sql);
  const writesAfter = await runRowWrites(product.db.sql);
  const runRowWritesUnderDocsLoad = {
    runUpdates: writesAfter.runUpdates - writesBefore.runUpdates,
    events: writesAfter.events - writesBefore.events,
    statusEvents: writesAfter.statusEvents - writesBefore.statusEvents,
  };
  log(`sustained load (full seed example): 50 runs in flight, ${S.loadWindowS} s window`);
  const fullLoad = await sustainedLoad(product, plans.seedFull, {
    ...loadOptions,
    warmupS: S.loadWarmupS + 5,
  });
  loads = [docsLoad, fullLoad];

  log("profile: shadow database set-up");
  const shadowCost = await shadowSetupCost(await shadowAdminUrl(), QUICK ? 3 : 8);

  results = {
    bare: {
      backToBack: summarize(bareHot.map((s) => s.ms)),
      backToBackToRead: summarize(bareHot.flatMap((s) => s.toReadMs ?? [])),
      idleGaps: summarize(bareIdle.map((s) => s.ms)),
      idleGapsToRead: summarize(bareIdle.flatMap((s) => s.toReadMs ?? [])),
    },
    dispatch: {
      plan: "30 independent docs-only tasks per run, max_parallel 4, one run at a time",
      runs: dispatch.runIds.length,
      all: summarize(dispatch.samples.map((s) => s.ms)),
      toRead: summarize(dispatch.samples.flatMap((s) => s.toReadMs ?? [])),
      readToStart: summarize(
        dispatch.samples.flatMap((s) => s.toReadMs === null ? [] : [s.ms - s.toReadMs]),
      ),
      naiveFromEventCreatedAt: summarize(dispatch.samples.map((s) => s.fromEventMs)),
      chain: summarize(chain.samples.map((s) => s.ms)),
      chainToRead: summarize(chain.samples.flatMap((s) => s.toReadMs ?? [])),
      receivingHalfToRead: summarize(wakePath),
    },
    overhead,
    validationGrowth: growth,
    thirtyFullTasks: thirtyFull.metrics.flatMap((m) =>
      m.taskTimings.map((t) => ({
        key: t.key,
        acceptedBefore: t.acceptedBefore,
        validationMs: t.validationMs,
        dispatchMs: t.dispatchMs,
        workMs: t.workMs,
        llmMs: t.llmMs,
      }))
    ),
    load: loads,
    sqlFunctionsUnderDocsLoad: sqlFunctionsUnderLoad,
    runRowWritesUnderDocsLoad,
    shadowSetupCost: shadowCost,
    benchProcessMemory: await ownMemory(),
    hostedLimitMisses: [...product.hostedLimitMisses],
  };
} finally {
  log("stopping the product");
  await product.close();
}

log(`LangGraph.js ${S.langgraph} invocations per durability mode`);
const langgraph: LangGraphResult = await langGraphPerStep(await adminUrl(), S.langgraph);
log("validator bench (validate_bench.ts), if present");
const validator = await runValidatorBench(S.validatorRuns);
log("proof per layer (proof_bench.ts): functions run, indexes measured, channels joined");
const proof = await runProofBench(S.proofRuns);

// The table -----------------------------------------------------------------------------------
const r = results as {
  bare: Record<string, Summary>;
  dispatch: Record<string, Summary> & { runs: number };
  validationGrowth: ReturnType<typeof validationGrowth>;
  shadowSetupCost: Awaited<ReturnType<typeof shadowSetupCost>>;
};
const row = (name: string) => overhead.find((o) => o.plan === name)!;
const perTask = (name: string) => row(name).perTaskOverheadMs;
const flatness = (kind: string) => {
  const values = ["seed", "nine", "thirty"].map((p) => perTask(`${p}-${kind}`));
  return Math.max(...values) / Math.min(...values);
};
const six = row("six-docs");
const sixFull = row("six-full");
const lgAsync = langgraph.modes.find((m) => m.durability === "async")!;
const lgSync = langgraph.modes.find((m) => m.durability === "sync")!;
const ratio = six.perStepMs / lgAsync.perStepMs;
const [docsLoad, fullLoad] = loads;
const errorsOf = (l: LoadResult) => l.httpErrors + l.failedRuns + l.logErrors.length;
const dispatchRatio = r.dispatch.all.p50 / r.bare.backToBack.p50;

const sqlProofs = summarize(
  overhead.filter((o) => o.kind === "full").flatMap((o) => o.validationSamples),
);
const pgliteTask = validator?.rows.find((v) => /^pglite: one SQL task/.test(v.label));
const postgresTask = validator?.rows.find((v) => /^postgres: one SQL task/.test(v.label));
const writes = (results as {
  runRowWritesUnderDocsLoad: { runUpdates: number; events: number; statusEvents: number };
}).runRowWritesUnderDocsLoad;
const docsEventsPerTask = Math.max(
  ...["seed", "nine", "thirty"].map((p) => row(`${p}-docs`).eventsPerTask),
);
// Run-row updates beyond the run's own status changes, per event appended.
const runUpdatesPerEvent = Math.max(0, writes.runUpdates - writes.statusEvents) /
  Math.max(1, writes.events);
const largestWorker = Math.max(...fullLoad.memory.functions.map((f) => f.peakRssMb));
const hostedMisses = (results as { hostedLimitMisses: string[] }).hostedLimitMisses;

const rows: Row[] = [
  {
    measure: "1. Proof of one SQL task (per-task shadow: clone, role, apply, lints, probes, drop)",
  },
  {
    measure: "PostgreSQL, one task's table over 3 accepted migrations (validate_bench) p50 / p95",
    result: postgresTask ? `${ms(postgresTask.p50Ms)} / ${ms(postgresTask.p95Ms)}` : "n/a",
    target: "p50 ≤ 100 ms, p95 ≤ 200 ms",
    pass: postgresTask ? postgresTask.p50Ms <= 100 && postgresTask.p95Ms <= 200 : false,
  },
  {
    measure: "PGlite, the same task p50 / p95",
    result: pgliteTask ? `${ms(pgliteTask.p50Ms)} / ${ms(pgliteTask.p95Ms)}` : "n/a",
    target: "p50 ≤ 250 ms",
    pass: pgliteTask ? pgliteTask.p50Ms <= 250 : false,
  },
  {
    measure:
      `  in the runs below, every SQL task (${sqlProofs.n}; index measurement and functions incl.)`,
    result: `${ms(sqlProofs.p50)} / ${ms(sqlProofs.p95)}`,
  },
  { measure: "2. Dispatch (commit that queues a task → its start_attempt reaches the DB)" },
  {
    measure: `dispatch p50 / p99, ${r.dispatch.all.n} tasks (4 in parallel per run)`,
    result: p50p99(r.dispatch.all),
  },
  {
    measure: "  of which commit → worker's read / read → first statement (p50)",
    result: `${ms(r.dispatch.toRead.p50)} / ${ms(r.dispatch.readToStart.p50)}`,
  },
  {
    measure: `bare pgmq.send → HTTP wake → read, back to back (${r.bare.backToBack.n})`,
    result: p50p99(r.bare.backToBack),
  },
  {
    measure: "dispatch p50 ÷ bare p50 (same run)",
    result: `${dispatchRatio.toFixed(1)}×`,
    target: "≤ 3×",
    pass: dispatchRatio <= 3,
  },
  {
    measure: `bare with 15 ms idle gaps (${r.bare.idleGaps.n})`,
    result: p50p99(r.bare.idleGaps),
  },
  {
    measure: `dispatch, one hand-over at a time (chain, ${r.dispatch.chain.n} tasks)`,
    result: p50p99(r.dispatch.chain),
  },
  {
    measure: "product gateway + worker function, commit → read (bench as sender)",
    result: p50p99(r.dispatch.receivingHalfToRead),
  },
  { measure: "3. Per-task overhead = (run wall − Σ llm_ms) / tasks, median of runs" },
  ...["seed", "nine", "thirty"].flatMap((p) =>
    ["full", "docs"].map((k) => {
      const o = row(`${p}-${k}`);
      return {
        measure: `${o.tasks} tasks, ${
          k === "full" ? "SQL validated" : "no SQL (docs only)"
        } (${o.runs} runs)`,
        result: `${ms(o.perTaskOverheadMs)}  (wall ${ms(o.wallMs)}, delivery ${ms(o.deliveryMs)}, ${
          o.eventsPerTask.toFixed(1)
        } events/task)`,
      };
    })
  ),
  ...["full", "docs"].map((k) => ({
    measure: `flat from 3 to 30 tasks (${k === "full" ? "SQL" : "docs-only"}): max ÷ min`,
    result: `${flatness(k).toFixed(2)}×`,
    target: "≤ 1.25×",
    pass: flatness(k) <= 1.25,
  })),
  {
    measure: "events per task, docs-only plans (largest of 3, 9, 30 tasks)",
    result: docsEventsPerTask.toFixed(1),
    target: "≤ 4",
    pass: docsEventsPerTask <= 4,
  },
  {
    measure: "run-row updates per event appended, docs-only load (beyond status changes)",
    result: `${
      runUpdatesPerEvent.toFixed(2)
    } (${writes.runUpdates} updates, ${writes.events} events)`,
    target: "0 (none per event)",
    pass: runUpdatesPerEvent < 0.05,
  },
  ...["seed", "nine", "thirty"].map((p) => {
    const o = row(`${p}-docs`);
    return {
      measure: `  orchestration only: (execution − critical-path LLM) / tasks, ${o.tasks} docs`,
      result: ms(o.perStepMs),
    };
  }),
  {
    measure: "  30 tasks: shadow validation per SQL task = a + b × migrations accepted before it",
    result: `${ms(r.validationGrowth.interceptMs)} + ${
      ms(r.validationGrowth.msPerAcceptedMigration)
    } × n`,
  },
  {
    measure: `4. Throughput: 50 runs in flight, 10 users, ${S.loadWindowS} s window, GET every 1 s`,
  },
  ...[docsLoad, fullLoad].flatMap((l) => {
    const docs = l.kind === "docs";
    const label = docs
      ? `docs-only ${l.tasksPerRun}-task plan (orchestration)`
      : `full seed example (${l.tasksPerRun} tasks, SQL validated)`;
    return [
      {
        measure: `${label}: tasks/s`,
        result: `${l.tasksPerS} tasks/s, ${l.runsPerMin} runs/min`,
        target: docs ? "≥ 200 tasks/s" : "≥ 20 tasks/s",
        pass: l.tasksPerS >= (docs ? 200 : 20),
      },
      {
        measure: "  errors (HTTP, failed runs, failure log lines)",
        result: `${
          errorsOf(l)
        } (${l.completed} completed, ${l.cancelledAfterWindow} cancelled after)`,
        target: "0",
        pass: errorsOf(l) === 0,
      },
      {
        measure: "  POST /runs p50 / p99",
        result: p50p99(l.post),
        target: docs ? "p99 ≤ 250 ms" : undefined,
        pass: docs ? l.post.p99 <= 250 : undefined,
      },
      {
        measure: "  GET /runs/:id p50 / p99",
        result: p50p99(l.get),
        target: docs ? "p99 ≤ 250 ms" : undefined,
        pass: docs ? l.get.p99 <= 250 : undefined,
      },
      { measure: "  dispatch under this load p50 / p99", result: p50p99(l.dispatch) },
      {
        measure: "  CPU busy (2 cores) / of it other work on the machine",
        result: l.cpu
          ? `${Math.round(l.cpu.utilization * 100)} % / ${
            Math.round(
              (l.cpu.groups.find((g) => g.name.startsWith("other"))?.ms ?? 0) / l.cpu.busyMs * 100,
            )
          } %`
          : "n/a",
      },
    ];
  }),
  { measure: "5. Peer: LangGraph.js 1.7.3 + Postgres checkpointer, same six-node DAG" },
  {
    measure: "ours: (execution − critical-path LLM) / 6, docs only",
    result: `${ms(six.perStepMs)}  (end to end ${ms(six.perTaskOverheadMs)}/task)`,
  },
  {
    measure: "ours with SQL validation",
    result: `${ms(sixFull.perStepMs)}  (end to end ${ms(sixFull.perTaskOverheadMs)}/task)`,
  },
  {
    measure: "LangGraph.js per step (durability async / sync)",
    result: `${ms(lgAsync.perStepMs)} / ${ms(lgSync.perStepMs)}`,
  },
  {
    measure: "ours ÷ LangGraph.js (docs, vs async)",
    result: `${ratio.toFixed(2)}×`,
    target: "≤ 1×",
    pass: ratio <= 1,
  },
  { measure: "6. Memory during the full load (peak RSS, VmHWM)" },
  {
    measure: "gateway (stack process)",
    result: `${Math.max(docsLoad.memory.gatewayPeakRssMb, fullLoad.memory.gatewayPeakRssMb)} MiB`,
  },
  {
    measure: `worker functions (${fullLoad.memory.functions.length} processes): largest / sum`,
    result: `${largestWorker} MiB / ${fullLoad.memory.functionsPeakTotalMb} MiB`,
    target: "largest ≤ 150 MiB",
    pass: largestWorker <= 150,
  },
  {
    measure: "hosted-limit misses (hosted-limits mode: CPU > 2 s per request, RSS > 256 MiB)",
    result: `${hostedMisses.length}`,
    target: "0",
    pass: hostedMisses.length === 0,
  },
];
if (validator) {
  rows.push({ measure: "7. Shadow validation of the seed example (validate_bench.ts)" });
  for (const v of validator.rows) {
    rows.push({ measure: v.label, result: `p50 ${ms(v.p50Ms)}, p95 ${ms(v.p95Ms)}` });
  }
  if (validator.error) rows.push({ measure: "validate_bench.ts failed", result: validator.error });
}
rows.push({
  measure: "8. Proof per layer, added to a validation (proof_bench.ts, PostgreSQL shadow)",
});
for (const p of proof.rows) {
  rows.push({
    measure: p.label,
    result: `p50 ${ms(p.p50Ms)}, p95 ${ms(p.p95Ms)}`,
    target: `p50 ≤ ${p.budgetMs} ms`,
    pass: p.pass,
  });
}
if (proof.error) rows.push({ measure: "proof_bench.ts failed", result: proof.error });

const table = renderTable(rows);
const cpuLines = (l: LoadResult, top: number) =>
  (l.cpu?.groups ?? []).slice(0, top).map((g) =>
    `  ${g.name.padEnd(48)} ${String(g.ms).padStart(6)} ms  ${
      (g.ms / Math.max(1, l.tasksInWindow)).toFixed(1).padStart(5)
    } ms/task`
  );
const setup = r.shadowSetupCost;
const setupLine = (label: string, c: { wall: Summary; cpuMsEach: number }) =>
  `  ${label.padEnd(46)} p50 ${ms(c.wall.p50).padStart(7)}, ${c.cpuMsEach} ms machine CPU`;
const profile = [
  `Profile, docs-only load (CPU in the ${docsLoad.windowS} s window by process group; ` +
  `${docsLoad.tasksInWindow} tasks, ${docsLoad.runsInWindow} runs):`,
  ...cpuLines(docsLoad, 9),
  `Profile, full load (${fullLoad.tasksInWindow} tasks, ${fullLoad.runsInWindow} runs):`,
  ...cpuLines(fullLoad, 5),
  "Shadow database set-up, paid by every agent validation and every delivery before any check:",
  setupLine("shadow session: clone + role + login + drop (today)", setup.current),
  setupLine("bare create database + drop", setup.createOnly),
  setupLine("clone of a prepared template + drop", setup.fromTemplate),
  "Product database time by SQL function under the docs-only load (self time incl. lock waits):",
  ...(results.sqlFunctionsUnderDocsLoad as { name: string; calls: number; selfMs: number }[])
    .slice(0, 8).map((f) =>
      `  ${f.name.padEnd(36)} ${String(f.selfMs).padStart(6)} ms self, ${f.calls} calls`
    ),
].join("\n");

const totalS = Math.round((performance.now() - started) / 1000);
console.log(
  `\nBackend Team performance — ${meta.cpus} CPUs, load before ${meta.loadBefore}, Deno ${meta.deno}` +
    `${QUICK ? " (quick run: not the reported figures)" : ""}\n`,
);
console.log(table);
console.log(`\n${profile}\n\nTotal ${totalS} s. Details: tests/bench/results.json`);

// A full run is the record: RESULTS.md (committed) says what was measured, where and under what
// load. A quick run writes results.json only.
if (!QUICK) {
  const loadAfter = await loadAvg();
  const misses = rows.filter((x) => x.pass === false).map((x) =>
    `- ${x.measure.trim()}: ${x.result}`
  );
  await Deno.writeTextFile(
    new URL("./RESULTS.md", import.meta.url),
    [
      "# Benchmark results (last full run)",
      "",
      "Written by `deno task bench` (a full run, not `--quick`); details in `results.json`.",
      "",
      `- Date: ${meta.date}`,
      `- Machine: ${meta.machine}, ${meta.cpus} CPUs, Deno ${meta.deno}`,
      `- Load average before / after: ${meta.loadBefore} / ${loadAfter}`,
      `- Duration: ${Math.round((performance.now() - started) / 1000)} s`,
      "",
      "```text",
      table,
      "```",
      "",
      "```text",
      profile,
      "```",
      "",
      `Targets missed: ${misses.length}${misses.length ? "" : " (none)"}`,
      ...misses,
      "",
    ].join("\n"),
  );
}

await Deno.writeTextFile(
  new URL("./results.json", import.meta.url),
  JSON.stringify(
    {
      meta: { ...meta, loadAfter: await loadAvg(), totalS },
      table: rows,
      ...results,
      langgraph,
      validator,
      proof,
    },
    null,
    2,
  ) + "\n",
);
// realtime-js / pg pools may leave timers behind; everything of ours is closed.
Deno.exit(0);
