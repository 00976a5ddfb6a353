/**
 * How long the shadow validator takes on a realistic deliverable (the seed trade journal: six
 * tables with RLS, owner policies, indexed foreign keys, two query checks, rollbacks), on each
 * backend, next to what a naive PGlite shadow would cost (a new PGlite plus the platform SQL per
 * validation). Prints p50/p95 over `--runs` validations after a warm-up, plus the one-time costs.
 * Targets from the performance issue: p50 ≤ 250 ms on PGlite, ≤ 150 ms on PostgreSQL.
 *
 * Beside it, on PostgreSQL, the per-task proof the benchmark's runs pay for every SQL task: one
 * owner-only table (the bench fixture's migration) validated over `--accepted` earlier tasks'
 * migrations, as the shadow validator does for a task of a run (issue 17: p50 ≤ 100 ms, p95 ≤
 * 200 ms).
 *
 *   deno run -A tests/bench/validate_bench.ts [--runs 30] [--backend pglite|postgres|task|all]
 */
import { PGlite } from "@electric-sql/pglite";
import { pgcrypto } from "@electric-sql/pglite/contrib/pgcrypto";
import { uuid_ossp } from "@electric-sql/pglite/contrib/uuid_ossp";
import { parseArgs } from "node:util";
import {
  createPgliteShadow,
  createPostgresShadow,
  shadowBootstrapScripts,
  type ShadowDatabase,
} from "../../shared/shadow/mod.ts";
import { validateMigrations } from "../../shared/validation/mod.ts";
import { shadowAdminUrl } from "../_support/db.ts";
import { loadSeedDeliverable } from "../fixtures/validate/seed/mod.ts";
import { benchMigration } from "../fixtures/bench/mod.ts";

const { values: args } = parseArgs({
  args: Deno.args,
  options: {
    runs: { type: "string", default: "30" },
    warmup: { type: "string", default: "5" },
    backend: { type: "string", default: "all" },
    naive: { type: "string", default: "5" },
    // How many earlier tasks' migrations the per-task case re-applies (as a run's accepted ones).
    accepted: { type: "string", default: "3" },
  },
});
const RUNS = Number(args.runs);
const WARMUP = Number(args.warmup);

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

function summary(times: number[]): string {
  const s = [...times].sort((a, b) => a - b);
  return `p50 ${percentile(s, 50).toFixed(0)} ms  p95 ${percentile(s, 95).toFixed(0)} ms  ` +
    `min ${s[0].toFixed(0)}  max ${s.at(-1)!.toFixed(0)}  (n=${s.length})`;
}

const seed = await loadSeedDeliverable();

type Case = Pick<
  Parameters<typeof validateMigrations>[0],
  "files" | "queries" | "baseline" | "benchmark"
>;

const seedCase: Case = { files: seed.files, queries: seed.queries };
// The same proof without the index measurement (EXPLAIN ANALYZE on 50 000 synthetic rows per
// index, reported on its own by proof_bench.ts): what every SQL task pays.
const seedNoIndexCase: Case = { ...seedCase, benchmark: false };

// The per-task case: task N's table over the migrations of the tasks before it.
function taskCase(n: number, accepted: number): Case {
  const m = (key: string) => benchMigration(key);
  const mine = m(`P${n}`);
  return {
    files: [{ name: `${mine.name}.sql`, sql: mine.up_sql, down: mine.down_sql }],
    queries: [],
    baseline: Array.from({ length: accepted }, (_, i) => m(`A${i + 1}`))
      .map((a) => ({ name: `${a.name}.sql`, sql: a.up_sql })),
  };
}

async function benchShadow(
  label: string,
  shadow: ShadowDatabase,
  caseOf: (i: number) => Case = () => seedCase,
): Promise<void> {
  for (let i = 0; i < WARMUP; i++) {
    const r = await validateMigrations({ ...caseOf(i), shadow });
    // Clean: no error. A warning from a timed measurement (an index that did not pay off on
    // synthetic rows) depends on the machine's load, not on the validator, and is only counted.
    if (!r.ok || r.findings.some((f) => f.level === "error")) {
      throw new Error(`${label}: the seed must validate clean: ${JSON.stringify(r.findings)}`);
    }
  }
  const times: number[] = [];
  const phases = new Map<string, number[]>();
  for (let i = 0; i < RUNS; i++) {
    const r = await validateMigrations({
      ...caseOf(WARMUP + i),
      shadow,
      trace: (phase, ms) => phases.set(phase, [...(phases.get(phase) ?? []), ms]),
    });
    times.push(r.durationMs);
  }
  console.log(`${label.padEnd(34)} ${summary(times)}`);
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const parts = [...phases].filter(([, xs]) => median(xs) >= 1)
    .map(([phase, xs]) => `${phase} ${median(xs).toFixed(0)}`);
  console.log(`${"".padEnd(34)} median by phase (ms): ${parts.join(", ")}`);
}

const load = Deno.readTextFileSync("/proc/loadavg").split(" ").slice(0, 3).join(" ");
console.log(
  `validate bench — seed trade journal (${seed.files.length} migrations + downs, ` +
    `${seed.queries.length} query checks); ${navigator.hardwareConcurrency} CPUs, load ${load}`,
);

if (args.backend === "all" || args.backend === "pglite") {
  const cacheDir = await Deno.makeTempDir({ prefix: "bt_bench_shadow_" });
  let t = performance.now();
  const shadow = await createPgliteShadow({ cacheDir });
  console.log(
    `${"pglite: bootstrap + first process".padEnd(34)} ${(performance.now() - t).toFixed(0)} ms ` +
      "(initdb + platform SQL + snapshot, once per content; then cached on disk)",
  );
  await shadow.close();
  t = performance.now();
  const warm = await createPgliteShadow({ cacheDir });
  console.log(
    `${"pglite: start from cached snapshot".padEnd(34)} ${(performance.now() - t).toFixed(0)} ms`,
  );
  try {
    await benchShadow("pglite: validate seed", warm);
    await benchShadow("pglite: seed without index measurement", warm, () => seedNoIndexCase);
    await benchShadow(
      `pglite: one SQL task (${args.accepted} accepted)`,
      warm,
      (i) => taskCase(i, Number(args.accepted)),
    );
  } finally {
    await warm.close();
  }
  // The raw cost of one fresh instance: in this process, opening right after a close waits for
  // the next instance to be restored from the snapshot.
  const inProcess = await createPgliteShadow({ cacheDir, inProcess: true });
  try {
    const restores: number[] = [];
    await (await inProcess.open()).close();
    for (let i = 0; i < 10; i++) {
      const t = performance.now();
      const session = await inProcess.open();
      restores.push(performance.now() - t);
      await session.close();
    }
    console.log(`${"pglite: restore from snapshot".padEnd(34)} ${summary(restores)}`);
  } finally {
    await inProcess.close();
    await Deno.remove(cacheDir, { recursive: true });
  }
}

if (args.backend === "all" || args.backend === "postgres") {
  const t = performance.now();
  const shadow = await createPostgresShadow({ adminUrl: await shadowAdminUrl() });
  console.log(
    `${"postgres: start (role, template)".padEnd(34)} ${(performance.now() - t).toFixed(0)} ms`,
  );
  try {
    await benchShadow("postgres: validate seed", shadow);
    await benchShadow("postgres: seed without index measurement", shadow, () => seedNoIndexCase);
  } finally {
    await shadow.close();
  }
}

if (args.backend === "all" || args.backend === "task") {
  const shadow = await createPostgresShadow({ adminUrl: await shadowAdminUrl() });
  try {
    await benchShadow(
      `postgres: one SQL task (${args.accepted} accepted)`,
      shadow,
      (i) => taskCase(i, Number(args.accepted)),
    );
  } finally {
    await shadow.close();
  }
}

if ((args.backend === "all" || args.backend === "pglite") && Number(args.naive) > 0) {
  // The naive way: a new PGlite and the platform SQL for every validation (no snapshot).
  const scripts = await shadowBootstrapScripts();
  const times: number[] = [];
  for (let i = 0; i < Number(args.naive); i++) {
    const t = performance.now();
    const db = new PGlite({ extensions: { pgcrypto, uuid_ossp } });
    await db.waitReady;
    await db.exec("create role bt_shadow_owner nologin");
    for (const s of scripts) await db.exec(s.sql);
    times.push(performance.now() - t);
    await db.close();
  }
  console.log(
    `${"naive: new PGlite + platform SQL".padEnd(34)} ${summary(times)} — before any check`,
  );
}
