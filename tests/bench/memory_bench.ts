/**
 * Memory of every edge function, as deployed: the local stack in hosted-limits mode (256 MB heap
 * cap, no subprocesses) with the scripted LLM, each function in its own process. Prints, per
 * function, the resident memory once booted (one unauthenticated request starts its process and
 * loads its module graph) and its peak after real work: `--runs N` (default 2) runs of the
 * nine-agent plan with SQL (every agent proves a migration on a shadow database) and of the seed
 * example (`--parallel K`: K of each in flight at once), then one `POST /validate` and an MCP
 * `initialize`. `--detail` logs each process's anonymous and file-backed RSS. Linux only
 * (`/proc`).
 *
 * ```sh
 * deno run -A tests/bench/memory_bench.ts            # table on stdout
 * deno run -A tests/bench/memory_bench.ts --json     # the same as JSON
 * deno run -A tests/bench/memory_bench.ts --runs 1 --parallel 8   # under load
 * ```
 */
import { nineAgentPlan, seedPlan } from "../fixtures/bench/mod.ts";
import { type ProcessMemory, stackMemory } from "./_memory.ts";
import { startBenchProduct } from "./_product.ts";

/** Every function in functions/, in the order the table prints them. */
const FUNCTIONS = [...Deno.readDirSync(new URL("../../functions/", import.meta.url))]
  .filter((e) => e.isDirectory).map((e) => e.name).sort();

const args = { json: Deno.args.includes("--json") };
const runsAt = Deno.args.indexOf("--runs");
const runs = runsAt >= 0 ? Number(Deno.args[runsAt + 1]) : 2;
// Runs of each plan in flight at once (the full bench keeps 50 runs in flight).
const parallelAt = Deno.args.indexOf("--parallel");
const parallel = parallelAt >= 0 ? Number(Deno.args[parallelAt + 1]) : 1;
const log = (text: string) => console.error(`[memory] ${text}`);

const plans = { nine: await nineAgentPlan("full"), seed: await seedPlan("full") };
log("starting the product (fresh database, scripted LLM, stack in hosted-limits mode)");
const product = await startBenchProduct(Object.values(plans));
try {
  // Boot: one request per function starts its process; 401/404 is fine, the module is loaded.
  await Promise.all(FUNCTIONS.map(async (name) => {
    const res = await fetch(`${product.functionsUrl}/${name}/`, { method: "GET" });
    await res.body?.cancel();
  }));
  await new Promise((r) => setTimeout(r, 1500));
  const boot = byName((await stackMemory(product.stackPid)).functions);

  log(
    `work: ${runs} × (${parallel} nine-agent plans with SQL and ${parallel} seed examples at ` +
      "once), one validate, one mcp",
  );
  const user = await product.newUser();
  for (let i = 0; i < runs; i++) {
    await Promise.all(
      Array.from({ length: parallel }, () => [
        product.runToEnd(user.token, plans.nine.request, 250),
        product.runToEnd(user.token, plans.seed.request, 250),
      ]).flat(),
    );
  }
  await callValidate(product.functionsUrl, user.token);
  await callMcp(product.functionsUrl, user.token);
  await new Promise((r) => setTimeout(r, 500));
  const after = byName((await stackMemory(product.stackPid)).functions);
  if (Deno.args.includes("--detail")) {
    for (const [name, m] of after) {
      const status = await Deno.readTextFile(`/proc/${m.pid}/status`).catch(() => "");
      const pick = (k: string) => new RegExp(`${k}:\\s+(\\d+)`).exec(status)?.[1];
      log(`${name}: RssAnon ${pick("RssAnon")} kB, RssFile ${pick("RssFile")} kB`);
    }
  }

  const rows = FUNCTIONS.map((name) => ({
    function: name,
    bootRssMb: boot.get(name)?.rssMb,
    bootPeakMb: boot.get(name)?.peakRssMb,
    peakRssMb: after.get(name)?.peakRssMb,
  }));
  const peaks = rows.map((r) => r.peakRssMb ?? 0);
  const summary = {
    largestPeakMb: Math.max(...peaks),
    sumPeakMb: Math.round(peaks.reduce((a, b) => a + b, 0) * 10) / 10,
    sumBootMb: Math.round(rows.reduce((a, r) => a + (r.bootPeakMb ?? 0), 0) * 10) / 10,
    errorLines: product.errorLines.length,
    hostedLimitMisses: product.hostedLimitMisses,
  };
  if (args.json) {
    console.log(JSON.stringify({ runs, parallel, rows, summary }, null, 2));
  } else {
    console.log("| function | boot RSS MiB | boot peak MiB | peak after work MiB |");
    console.log("| --- | ---: | ---: | ---: |");
    for (const r of rows) {
      console.log(
        `| ${r.function} | ${r.bootRssMb ?? "–"} | ${r.bootPeakMb ?? "–"} | ${
          r.peakRssMb ?? "–"
        } |`,
      );
    }
    console.log(
      `\nlargest peak ${summary.largestPeakMb} MiB; sum of peaks ${summary.sumPeakMb} MiB ` +
        `(${rows.length} functions); sum at boot ${summary.sumBootMb} MiB; ` +
        `${summary.errorLines} error lines; ${summary.hostedLimitMisses.length} hosted-limit misses`,
    );
  }
  if (product.errorLines.length) log(product.errorLines.slice(0, 5).join("\n"));
} finally {
  await product.close();
}

function byName(list: ProcessMemory[]): Map<string, ProcessMemory> {
  return new Map(list.map((m) => [m.name, m]));
}

/** One `POST /validate` of a small migration: loads the validator's parser and shadow path. */
async function callValidate(functionsUrl: string, token: string): Promise<void> {
  const res = await fetch(`${functionsUrl}/validate`, {
    method: "POST",
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
    body: JSON.stringify({
      files: [{
        name: "20260101000000_notes.sql",
        sql: "create table public.notes (id bigint primary key, body text not null);\n" +
          "alter table public.notes enable row level security;",
      }],
    }),
  });
  log(`validate: ${res.status}`);
  await res.body?.cancel();
}

/** An MCP `initialize` then `tools/list`: loads the MCP server's protocol code. */
async function callMcp(functionsUrl: string, token: string): Promise<void> {
  for (
    const body of [
      {
        jsonrpc: "2.0",
        id: 1,
        method: "initialize",
        params: {
          protocolVersion: "2025-03-26",
          capabilities: {},
          clientInfo: { name: "memory-bench", version: "1" },
        },
      },
      { jsonrpc: "2.0", id: 2, method: "tools/list", params: {} },
    ]
  ) {
    const res = await fetch(`${functionsUrl}/mcp`, {
      method: "POST",
      headers: {
        Authorization: `Bearer ${token}`,
        "Content-Type": "application/json",
        Accept: "application/json, text/event-stream",
      },
      body: JSON.stringify(body),
    });
    log(`mcp ${body.method}: ${res.status}`);
    await res.body?.cancel();
  }
}
