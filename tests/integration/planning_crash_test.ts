/**
 * Crash safety of planning with real processes: the orchestrator worker runs as a child process
 * (`tests/_support/run_worker_main.ts`) on a 2-second lease, the scripted LLM holds the plan
 * answer back so the test can kill or freeze the process while it plans, and a second process
 * takes over once the lease runs out. Whatever happens to the first process, the run ends up
 * `executing` with the plan's tasks exactly once.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import type { Sql } from "../../shared/db/mod.ts";
import { freshDatabase } from "../_support/db.ts";
import { newUser, submitAs } from "../_support/run_worker.ts";
import { type ScriptedLlm, startScriptedLlm } from "../_support/scripted_llm/mod.ts";
import { runChanges } from "../_support/events.ts";

const TRADE_JOURNAL = new URL("../fixtures/llm/trade_journal_plan.json", import.meta.url);
const SEED_REQUEST = "Design the schema for a trade journal with positions, trades, and tags";
const MAIN = fileURLToPath(new URL("../_support/run_worker_main.ts", import.meta.url));
const CONFIG = fileURLToPath(new URL("../../deno.json", import.meta.url));
const LEASE_SECONDS = 2;

/** A worker process and the JSON lines it printed. */
interface WorkerProcess {
  child: Deno.ChildProcess;
  lines: Record<string, unknown>[];
  stderr: string[];
  /** Sends `signal` and waits for the process to end. */
  end(signal: Deno.Signal): Promise<Deno.CommandStatus>;
}

function spawnWorker(dbUrl: string, llmUrl: string): WorkerProcess {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--config", CONFIG, MAIN],
    env: {
      SUPABASE_DB_URL: dbUrl,
      OPENAI_BASE_URL: llmUrl,
      BT_RUN_LEASE_SECONDS: String(LEASE_SECONDS),
    },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const lines: Record<string, unknown>[] = [];
  const stderr: string[] = [];
  const read = async (stream: ReadableStream<Uint8Array>, onLine: (line: string) => void) => {
    let rest = "";
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      const parts = (rest + chunk).split("\n");
      rest = parts.pop() ?? "";
      for (const line of parts) if (line.trim()) onLine(line);
    }
  };
  const reading = Promise.all([
    read(child.stdout, (line) => lines.push(JSON.parse(line))),
    read(child.stderr, (line) => stderr.push(line)),
  ]);
  return {
    child,
    lines,
    stderr,
    async end(signal) {
      try {
        child.kill(signal);
      } catch {
        // Already gone.
      }
      const status = await child.status;
      await reading;
      return status;
    },
  };
}

async function until(what: string, check: () => Promise<boolean> | boolean, ms = 20_000) {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function status(sql: Sql, runId: string): Promise<string> {
  const [row] = await sql<{ status: string }[]>`
    select status from backend_team.runs where id = ${runId}`;
  return row.status;
}

/** Asserts the run is executing with the seed plan's three tasks, each created once. */
async function assertPlannedOnce(sql: Sql, runId: string, llm: ScriptedLlm) {
  assert.equal(await status(sql, runId), "executing");
  const tasks = await sql<{ key: string; agent: string; status: string }[]>`
    select key, agent, status from backend_team.tasks where run_id = ${runId} order by key`;
  assert.deepEqual(tasks.map((t) => [t.key, t.agent, t.status]), [
    ["T1", "db-architect", "queued"],
    ["T2", "security", "pending"],
    ["T3", "query-optimizer", "pending"],
  ]);
  const events = (await runChanges(sql, runId)).map((e) => ({
    type: e.type,
    status: e.payload.status as string | undefined,
    key: e.payload.key as string | undefined,
  }));
  assert.deepEqual(events.map((e) => [e.type, e.status, e.key].filter(Boolean).join(" ")), [
    "run.status received",
    "run.status understanding",
    "run.status planning",
    "task.status pending T1",
    "task.status pending T2",
    "task.status pending T3",
    "run.status executing",
    "task.status queued T1",
  ]);
  const [queues] = await sql<{ orchestrator: number; db_architect: number }[]>`
    select (select count(*)::int from pgmq.q_bt_orchestrator) as orchestrator,
           (select count(*)::int from pgmq.q_bt_db_architect) as db_architect`;
  assert.deepEqual(queues, { orchestrator: 0, db_architect: 1 });
  assert.equal(
    llm.requests.filter((r) => r.phase === "understand").length,
    1,
    "understanding is not redone: it was stored before planning began",
  );
}

/** The scripted LLM with the seed plan, whose first plan answer takes `latencyMs`. */
async function llmWithSlowFirstPlan(latencyMs: number): Promise<ScriptedLlm> {
  const plan = JSON.parse(await Deno.readTextFile(TRADE_JOURNAL)).rules[1].answers[0].value;
  return await startScriptedLlm({
    scenarios: [{
      rules: [{
        name: "slow first plan",
        match: { phase: "plan" },
        answers: [{ kind: "json", value: plan, latency_ms: latencyMs }],
        exhausted: "fall_through",
      }],
    }],
    scenarioFiles: [TRADE_JOURNAL],
  });
}

const planRequests = (llm: ScriptedLlm) => llm.requests.filter((r) => r.phase === "plan").length;

Deno.test("a worker killed while planning is replaced and the run is planned exactly once", async () => {
  await using db = await freshDatabase();
  await using llm = await llmWithSlowFirstPlan(30_000);
  const user = await newUser(db.sql);
  const runId = await submitAs(db.sql, user, SEED_REQUEST);

  const first = spawnWorker(db.url, llm.url);
  try {
    await until("the first worker to ask for the plan", () => planRequests(llm) === 1);
    assert.equal(await status(db.sql, runId), "planning");
  } finally {
    const killed = await first.end("SIGKILL");
    assert.equal(killed.signal, "SIGKILL", first.stderr.join("\n"));
  }

  const second = spawnWorker(db.url, llm.url);
  try {
    await until("the run to be planned", async () => await status(db.sql, runId) === "executing");
  } finally {
    await second.end("SIGTERM");
  }
  await assertPlannedOnce(db.sql, runId, llm);
  assert.equal(planRequests(llm), 2, "the second worker planned again");
  assert.deepEqual(second.lines.filter((l) => "wake" in l), [{ wake: ["db-architect"] }]);
  assert.deepEqual(second.lines.filter((l) => "error" in l), []);
});

Deno.test("a worker frozen past its lease while planning changes nothing when it wakes up", async () => {
  await using db = await freshDatabase();
  // The first plan answer arrives while the first worker is frozen; it reads it on waking.
  await using llm = await llmWithSlowFirstPlan(LEASE_SECONDS * 1000);
  const user = await newUser(db.sql);
  const runId = await submitAs(db.sql, user, SEED_REQUEST);

  const first = spawnWorker(db.url, llm.url);
  let second: WorkerProcess | undefined;
  try {
    await until("the first worker to ask for the plan", () => planRequests(llm) === 1);
    first.child.kill("SIGSTOP"); // no lease renewals from now on
    second = spawnWorker(db.url, llm.url);
    await until("the run to be planned", async () => await status(db.sql, runId) === "executing");
    first.child.kill("SIGCONT");
    // The first worker wakes up holding a plan for a run that is already executing.
    await new Promise((r) => setTimeout(r, 1500));
  } finally {
    await first.end("SIGTERM");
    await second?.end("SIGTERM");
  }
  await assertPlannedOnce(db.sql, runId, llm);
  assert.deepEqual(second?.lines.filter((l) => "wake" in l), [{ wake: ["db-architect"] }]);
  assert.deepEqual(first.lines.filter((l) => "wake" in l), [], "the stale worker wakes nobody");
});
