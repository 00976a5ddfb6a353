/**
 * The product as the benchmark runs it: a fresh database (with the commit clock installed), the
 * scripted LLM in this process, and the local stack as a process of its own — the real
 * `deno task dev` entry (`supabase/local/stack.ts`) with its gateway, Realtime server, safety-net
 * schedule and one subprocess per worker function — so the gateway's memory and CPU are its own
 * and not mixed with the load generator's. Users call the orchestrator API over HTTP exactly as an
 * app does, and every call is timed.
 *
 * @example
 * ```ts
 * await using product = await startBenchProduct(plans);
 * const user = await product.newUser();
 * const runId = await product.runToEnd(user.token, plan.request);
 * ```
 */
import { fileURLToPath } from "node:url";
import { mintUserToken } from "../../shared/auth/mod.ts";
import { localWorkerSecret } from "../../supabase/local/worker_schedule.ts";
import { freshDatabase, type TestDatabase } from "../_support/db.ts";
import { type ScriptedLlm, startScriptedLlm } from "../_support/scripted_llm/mod.ts";
import { type BenchPlan, benchScripts } from "../fixtures/bench/mod.ts";
import { installCommitClock } from "./_probe.ts";

const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));

/** The task lease the workers run with (the product's default). */
export const TASK_LEASE_SECONDS = 30;

/** A timed API call's outcome. */
export interface Timed<T> {
  value: T;
  ms: number;
}

/** A run as the API returns it (the fields the benchmark reads). */
export interface RunView {
  id: string;
  status: string;
  error: unknown;
}

/** The product under load. */
export interface BenchProduct extends AsyncDisposable {
  db: TestDatabase;
  llm: ScriptedLlm;
  /** Pid of the stack process (the gateway). */
  stackPid: number;
  functionsUrl: string;
  /** The secret the worker functions accept (wake-ups). */
  workerSecret: string;
  /** Lines the stack and its functions logged that report a failure. */
  errorLines: string[];
  /** Hosted-limit misses the functions host logged (CPU over 2 s per request, memory over cap). */
  hostedLimitMisses: string[];
  newUser(): Promise<{ id: string; token: string }>;
  /** `POST /runs`; throws on anything but 202. */
  submit(token: string, request: string): Promise<Timed<RunView>>;
  /** `GET /runs/:id`; throws on anything but 200. */
  getRun(token: string, id: string): Promise<Timed<RunView>>;
  /** `POST /runs/:id/cancel`; returns the HTTP status. */
  cancel(token: string, id: string): Promise<number>;
  /** Submits and polls until the run ends; returns its id, or throws if it did not complete. */
  runToEnd(token: string, request: string, pollMs?: number): Promise<string>;
  close(): Promise<void>;
}

/** Large enough that no benchmark run meets its token budget. */
const RUN_OPTIONS = { token_budget: 2_000_000, max_parallel: 4 };

/** Starts database, scripted LLM and stack process for `plans`. */
export async function startBenchProduct(plans: readonly BenchPlan[]): Promise<BenchProduct> {
  const db = await freshDatabase();
  await installCommitClock(db.sql, db.name);
  const llm = await startScriptedLlm(await benchScripts(plans));
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "supabase/local/stack.ts"],
    cwd: REPO_ROOT,
    env: {
      DATABASE_URL: db.url,
      BT_API_PORT: "0",
      OPENAI_API_KEY: "scripted",
      OPENAI_BASE_URL: llm.url,
      OPENAI_MODEL: "scripted-model",
      OPENAI_MAX_RETRIES: "2",
      OPENAI_TIMEOUT_MS: "30000",
      NO_COLOR: "1",
      // The bench is one user submitting many runs at once: lift the per-user limits, which
      // protect a shared service from one tenant, not a load test from itself.
      BT_RATE_LIMIT_PER_MINUTE: "1000000",
      BT_RATE_LIMIT_BURST: "1000000",
      BT_MAX_RUNS_IN_FLIGHT: "100000",
      // Measured as deployed: 256 MB heap cap, no subprocesses, CPU per request recorded.
      BT_HOSTED_LIMITS: "1",
    },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();

  const errorLines: string[] = [];
  const hostedLimitMisses: string[] = [];
  const recent: string[] = [];
  const keep = (line: string) => {
    recent.push(line);
    if (
      /hosted limit missed|over the hosted memory/i.test(line) && hostedLimitMisses.length < 200
    ) {
      hostedLimitMisses.push(line);
    }
    if (recent.length > 200) recent.shift();
    if (/\[worker |wake .* failed|uncaught|panic|exited with code/i.test(line)) {
      if (errorLines.length < 200) errorLines.push(line);
    }
  };
  const printed = new Map<string, string>();
  const { promise: ready, resolve: onReady, reject: onFail } = Promise.withResolvers<void>();
  const pumps = Promise.all([
    readLines(child.stdout, (line) => {
      const m = /^\s*([A-Za-z_ ]+?): (\S+)$/.exec(line);
      if (m) printed.set(m[1].trim(), m[2]);
      if (line.startsWith("Press Ctrl-C")) onReady();
    }),
    readLines(child.stderr, keep),
  ]);
  child.status.then((s) => onFail(new Error(`stack exited (${s.code}):\n${recent.join("\n")}`)));
  const timer = setTimeout(() => onFail(new Error("stack did not start in 60 s")), 60_000);
  try {
    await ready;
  } catch (e) {
    await llm.close();
    await db.close();
    throw e;
  } finally {
    clearTimeout(timer);
  }

  const functionsUrl = printed.get("Functions URL")!;
  const anonKey = printed.get("anon key")!;
  const jwtSecret = printed.get("JWT secret")!;
  const api = async (token: string, path: string, init: RequestInit = {}) => {
    const started = performance.now();
    const res = await fetch(`${functionsUrl}/orchestrator${path}`, {
      ...init,
      headers: {
        Authorization: `Bearer ${token}`,
        apikey: anonKey,
        ...(init.body ? { "Content-Type": "application/json" } : {}),
      },
    });
    const text = await res.text();
    return { status: res.status, text, ms: performance.now() - started };
  };

  const product: BenchProduct = {
    db,
    llm,
    stackPid: child.pid,
    functionsUrl,
    workerSecret: await localWorkerSecret(jwtSecret),
    errorLines,
    hostedLimitMisses,
    async newUser() {
      const id = crypto.randomUUID();
      await db.sql`insert into auth.users (id, email) values (${id}, ${`${id}@bench.test`})`;
      return { id, token: await mintUserToken(jwtSecret, { sub: id, expiresIn: 7200 }) };
    },
    async submit(token, request) {
      const res = await api(token, "/runs", {
        method: "POST",
        body: JSON.stringify({ request, options: RUN_OPTIONS }),
      });
      if (res.status !== 202) throw new Error(`POST /runs: ${res.status} ${res.text}`);
      return { value: (JSON.parse(res.text) as { run: RunView }).run, ms: res.ms };
    },
    async getRun(token, id) {
      const res = await api(token, `/runs/${id}`);
      if (res.status !== 200) throw new Error(`GET /runs/${id}: ${res.status} ${res.text}`);
      return { value: (JSON.parse(res.text) as { run: RunView }).run, ms: res.ms };
    },
    async cancel(token, id) {
      return (await api(token, `/runs/${id}/cancel`, { method: "POST" })).status;
    },
    async runToEnd(token, request, pollMs = 50) {
      const { value: run } = await product.submit(token, request);
      const deadline = Date.now() + 180_000;
      for (;;) {
        await new Promise((r) => setTimeout(r, pollMs));
        const { value } = await product.getRun(token, run.id);
        if (value.status === "completed") return run.id;
        if (value.status === "failed" || value.status === "cancelled") {
          throw new Error(`run ${run.id} ${value.status}: ${JSON.stringify(value.error)}`);
        }
        if (Date.now() > deadline) throw new Error(`run ${run.id} still ${value.status}`);
      }
    },
    async close() {
      try {
        child.kill("SIGTERM");
      } catch {
        // already gone
      }
      const killer = setTimeout(() => {
        try {
          child.kill("SIGKILL");
        } catch {
          // already gone
        }
      }, 10_000);
      await child.status;
      clearTimeout(killer);
      await pumps.catch(() => {});
      await llm.close();
      await db.close();
    },
    [Symbol.asyncDispose]() {
      return product.close();
    },
  };
  return product;
}

async function readLines(
  stream: ReadableStream<Uint8Array>,
  onLine: (line: string) => void,
): Promise<void> {
  let buffer = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    buffer += chunk;
    let newline: number;
    while ((newline = buffer.indexOf("\n")) >= 0) {
      onLine(buffer.slice(0, newline));
      buffer = buffer.slice(newline + 1);
    }
  }
  if (buffer) onLine(buffer);
}
