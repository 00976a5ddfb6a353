/**
 * The whole product for end-to-end tests: a fresh database (platform SQL + migrations), the local
 * stack on a free port (functions gateway with the real orchestrator and worker functions,
 * Realtime, the safety-net schedule) and the scripted LLM on loopback, plus users with tokens and
 * supabase-js clients. Everything is torn down by `await using`.
 *
 * Functions run in the gateway's hosted-limits mode (`--deny-run`, 256 MB heap, no Web Workers,
 * CPU per request and peak RSS checked against Supabase's limits), so end-to-end tests exercise
 * what runs hosted; `BT_HOSTED_LIMITS=0` turns it off. Each function's usage is printed when the
 * product stops (`BT_USAGE_REPORT=0` to keep quiet).
 *
 * @example
 * ```ts
 * await using app = await startProduct({ scenarioFiles: [TRADE_JOURNAL] });
 * const alice = await app.newUser();
 * const run = await app.submit(alice.token, "Design the schema for a trade journal …");
 * await app.waitForRun(alice.token, run.id, (r) => r.status === "completed");
 * ```
 */
import { createClient, type SupabaseClient } from "@supabase/supabase-js";
import { mintUserToken } from "../../shared/auth/mod.ts";
import type { Run, Task } from "../../shared/runs/mod.ts";
import type { FunctionSpec } from "../../supabase/local/functions_config.ts";
import { type LocalStack, startLocalStack } from "../../supabase/local/stack.ts";
import { formatUsage, HOSTED_LIMITS } from "../../supabase/local/hosted_limits.ts";
import { freshDatabase, type TestDatabase } from "./db.ts";
import {
  type Responder,
  type ScenarioInput,
  type ScriptedLlm,
  startScriptedLlm,
} from "./scripted_llm/mod.ts";

/** Options of {@link startProduct}. */
export interface ProductOptions {
  scenarios?: ScenarioInput[];
  scenarioFiles?: (string | URL)[];
  respond?: Responder;
  /** Extra environment for the functions (e.g. `BT_TASK_LEASE_SECONDS`). */
  env?: Record<string, string>;
  /** Safety-net interval (default 500 ms). */
  scheduleIntervalMs?: number;
  /** The functions to serve (default: those of `supabase/config.toml`). */
  functions?: FunctionSpec[];
  /** Print each function's usage when the product stops (default true). */
  reportUsage?: boolean;
}

/** A running product. */
export interface Product extends AsyncDisposable {
  db: TestDatabase;
  stack: LocalStack;
  llm: ScriptedLlm;
  newUser(): Promise<{ id: string; token: string }>;
  client(token: string): SupabaseClient;
  /** `POST /runs`; returns the created run. */
  submit(token: string, request: string, body?: Record<string, unknown>): Promise<Run>;
  /** `GET /runs/:id`. */
  getRun(token: string, id: string): Promise<{ run: Run; tasks: Task[] }>;
  /** Polls `GET /runs/:id` until `until` holds (or throws after `timeoutMs`, default 60 s). */
  waitForRun(
    token: string,
    id: string,
    until: (detail: { run: Run; tasks: Task[] }) => boolean,
    timeoutMs?: number,
  ): Promise<{ run: Run; tasks: Task[] }>;
  /** Calls the orchestrator API with a user's token. */
  api(token: string, path: string, init?: RequestInit): Promise<Response>;
}

/** Starts database, stack and scripted LLM. */
export async function startProduct(options: ProductOptions = {}): Promise<Product> {
  const db = await freshDatabase();
  const llm = await startScriptedLlm({
    scenarios: options.scenarios,
    scenarioFiles: options.scenarioFiles,
    respond: options.respond,
  });
  let stack: LocalStack;
  try {
    stack = await startLocalStack({
      port: 0,
      databaseUrl: db.url,
      migrate: false,
      scheduleIntervalMs: options.scheduleIntervalMs ?? 500,
      functions: options.functions,
      env: {
        OPENAI_API_KEY: "scripted",
        OPENAI_BASE_URL: llm.url,
        OPENAI_MODEL: "scripted-model",
        OPENAI_MAX_RETRIES: "2",
        OPENAI_TIMEOUT_MS: "5000",
        BT_RETRY_BASE_SECONDS: "0",
        BT_HOSTED_LIMITS: Deno.env.get("BT_HOSTED_LIMITS") ?? "1",
        ...options.env,
      },
    });
  } catch (e) {
    await llm.close();
    await db.close();
    throw e;
  }
  const clients: SupabaseClient[] = [];
  const api = (token: string, path: string, init: RequestInit = {}) =>
    fetch(`${stack.functionsUrl}/orchestrator${path}`, {
      ...init,
      headers: {
        Authorization: `Bearer ${token}`,
        apikey: stack.anonKey,
        ...(init.body ? { "Content-Type": "application/json" } : {}),
        ...(init.headers ?? {}),
      },
    });
  const getRun = async (token: string, id: string) => {
    const res = await api(token, `/runs/${id}`);
    if (!res.ok) throw new Error(`GET /runs/${id}: ${res.status} ${await res.text()}`);
    return await res.json() as { run: Run; tasks: Task[] };
  };
  return {
    db,
    stack,
    llm,
    async newUser() {
      const id = crypto.randomUUID();
      await db.sql`insert into auth.users (id, email) values (${id}, ${`${id}@example.test`})`;
      return { id, token: await mintUserToken(stack.jwtSecret, { sub: id, expiresIn: 3600 }) };
    },
    client(token: string) {
      // `accessToken` (not realtime.setAuth, which supabase-js overrides with the anon key on
      // connect) is how a client carries a token minted outside Supabase Auth.
      const client = createClient(stack.apiUrl, stack.anonKey, {
        accessToken: () => Promise.resolve(token),
      });
      clients.push(client);
      return client;
    },
    async submit(token, request, body = {}) {
      const res = await api(token, "/runs", {
        method: "POST",
        body: JSON.stringify({ request, ...body }),
      });
      if (res.status !== 202) throw new Error(`POST /runs: ${res.status} ${await res.text()}`);
      return (await res.json()).run as Run;
    },
    getRun,
    async waitForRun(token, id, until, timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      let last = await getRun(token, id);
      while (!until(last)) {
        if (Date.now() > deadline) {
          throw new Error(
            `run ${id} did not get there in ${timeoutMs} ms; last: ${last.run.status} ` +
              JSON.stringify(last.run.error) + " tasks: " +
              last.tasks.map((t) => `${t.key}:${t.agent}:${t.status}`).join(", "),
          );
        }
        await new Promise((r) => setTimeout(r, 100));
        last = await getRun(token, id);
      }
      return last;
    },
    api,
    async [Symbol.asyncDispose]() {
      for (const client of clients) await client.removeAllChannels();
      await stack.stop();
      if (options.reportUsage ?? true) reportUsage(stack);
      await llm.close();
      await db.close();
    },
  };
}

// What each function used, for the test log: the hosted limits' figures of this product's run.
function reportUsage(stack: LocalStack): void {
  const usage = stack.functions.usage();
  if (Deno.env.get("BT_USAGE_REPORT") === "0" || usage.length === 0) return;
  const limits = stack.functions.hostedLimits ?? HOSTED_LIMITS;
  const mode = stack.functions.hostedLimits ? "hosted-limits mode" : "default mode";
  console.error(`[usage] functions in ${mode}:\n${formatUsage(usage, limits)}`);
}
