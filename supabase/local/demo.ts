/**
 * `npm run demo` / `deno task demo`: the product end to end on one machine. It starts the local
 * stack (on port 54321, or a free port when that one is taken), and an LLM: the scripted one with
 * the seed example's answers when `OPENAI_API_KEY` is not set (the offline demo), else the real
 * model at `OPENAI_BASE_URL` / `OPENAI_MODEL`. It creates a demo user, submits the seed request
 * (or the user's own, `--request`, which needs a model: offline only the recorded trade-journal
 * example can run), follows the run live with the CLI's own follower, writes the deliverable as a
 * Supabase project folder, says where, and stops everything it started.
 *
 * ```sh
 * npm run demo
 * npm run demo -- --request "A todo API with per-user lists" --out ./todo
 * deno task demo --out /tmp/journal --port 0
 * ```
 */
import { parseArgs } from "node:util";
import { resolve } from "node:path";
import {
  createRunsApi,
  denoIo,
  EXIT,
  type ExitCode,
  followRun,
  localUser,
  reportError,
  UsageError,
} from "../../shared/cli/mod.ts";
import { type ScriptedLlm, startScriptedLlm } from "../../tests/_support/scripted_llm/mod.ts";
import { tradeJournalAgentScenario } from "../../tests/fixtures/trade_journal/scenario.ts";
import { stopCluster, stopShadowCluster } from "./postgres_cluster.ts";
import { type LocalStack, startLocalStack } from "./stack.ts";

/** The seed example the demo submits. */
export const SEED_REQUEST =
  "Design the schema for a trade journal with positions, trades, and tags, with RLS";

/** The demo user (an email maps to a stable id, so reruns reuse the same user). */
export const DEMO_USER = "demo@backend-team.local";

/** What the offline demo prints when it uses the scripted LLM. */
export const OFFLINE_NOTICE = "No OPENAI_API_KEY: using the scripted LLM (offline demo)";

/** Why the offline demo cannot run another request. */
export const OFFLINE_REQUEST_REFUSAL =
  "without OPENAI_API_KEY the demo replays the recorded trade-journal example only; set " +
  "OPENAI_API_KEY (and OPENAI_BASE_URL, OPENAI_MODEL for another endpoint) to run your own request";

const DEFAULT_PORT = 54321;
const DEFAULT_MODEL = "gpt-4.1-mini";
const DEFAULT_BASE_URL = "https://api.openai.com/v1";

const USAGE = `usage: deno task demo [--request TEXT] [--out DIR] [--port N]
       npm run demo -- --request "A todo API with per-user lists"

  --request  your own request (needs a model: OPENAI_API_KEY); default the seed example
             "${SEED_REQUEST}"
  --out      where to write the deliverable (default ./out/trade-journal, or ./out/demo for
             your own request)
  --port     API port of the local stack (default ${DEFAULT_PORT}, or a free one if it is taken;
             0 picks a free one)

Without OPENAI_API_KEY the demo runs offline against a scripted LLM that replays the recorded
trade-journal example (only that request). With it, it uses OPENAI_MODEL (default
${DEFAULT_MODEL}) at OPENAI_BASE_URL (default ${DEFAULT_BASE_URL}).`;

/** Demo options. */
export interface DemoOptions {
  out: string;
  /** The request to submit (default {@link SEED_REQUEST}). */
  request?: string;
  /** API port; `undefined` means 54321 or a free one. */
  port?: number;
}

/** Parses the demo's arguments; throws `UsageError`. */
export function parseDemoArgs(args: readonly string[]): DemoOptions | "help" {
  let values: { out?: string; port?: string; help?: boolean; request?: string };
  try {
    ({ values } = parseArgs({
      args: [...args],
      options: {
        out: { type: "string", short: "o" },
        request: { type: "string", short: "r" },
        port: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  if (values.help) return "help";
  let port: number | undefined;
  if (values.port !== undefined) {
    port = Number(values.port);
    if (!/^[0-9]+$/.test(values.port) || port > 65535) {
      throw new UsageError("--port must be a port number (0 picks a free one)");
    }
  }
  if (values.out !== undefined && values.out.trim() === "") {
    throw new UsageError("--out must not be empty");
  }
  if (values.request !== undefined && values.request.trim() === "") {
    throw new UsageError("--request must not be empty");
  }
  const own = values.request !== undefined && values.request.trim() !== SEED_REQUEST;
  return {
    out: values.out ?? (own ? "out/demo" : "out/trade-journal"),
    port,
    ...(own ? { request: values.request!.trim() } : {}),
  };
}

/** Runs the demo; returns the exit status (the CLI's: 0 ok, 1 failed, 3 waiting for answers). */
export async function runDemo(options: DemoOptions): Promise<ExitCode> {
  const io = denoIo();
  const started: { llm?: ScriptedLlm; stack?: LocalStack } = {};
  const stopAll = async () => {
    const stack = started.stack;
    started.stack = undefined;
    await stack?.stop();
    if (stack?.startedDatabase) await stopCluster();
    if (stack?.startedShadowDatabase) await stopShadowCluster();
    await started.llm?.close();
    started.llm = undefined;
  };
  const onSignal = () => {
    io.err("\ninterrupted: stopping what the demo started…");
    stopAll().finally(() => Deno.exit(130));
  };
  Deno.addSignalListener("SIGINT", onSignal);
  const request = options.request ?? SEED_REQUEST;
  try {
    if (request !== SEED_REQUEST && !io.env.OPENAI_API_KEY) {
      io.err(`error: ${OFFLINE_REQUEST_REFUSAL}`);
      return EXIT.usage;
    }
    const env = await llmEnvironment(io, started);
    io.out("Starting the local stack (PostgreSQL, edge functions, Realtime)…");
    started.stack = await startStack(options.port, env, io.out);
    const stack = started.stack;
    io.out(`Local stack at ${stack.apiUrl}`);

    const user = await localUser({
      user: DEMO_USER,
      dbUrl: stack.dbUrl,
      jwtSecret: stack.jwtSecret,
    });
    io.out(`Signed in as ${DEMO_USER} (user ${user.id})`);
    const api = createRunsApi({ url: stack.apiUrl, anonKey: stack.anonKey, token: user.token });

    io.out(`\nRequest: "${request}"`);
    const run = await api.submit({ request });
    io.out(`Submitted run ${run.id}; following it live over Realtime:\n`);
    const result = await followRun({ api, runId: run.id, io, out: options.out });
    if (result.written) {
      io.out(`\nThe deliverable is in ${result.written.dir}`);
      io.out("Apply it to a Supabase project with: supabase link && supabase db push");
    }
    return result.code;
  } catch (e) {
    return reportError(e, io);
  } finally {
    Deno.removeSignalListener("SIGINT", onSignal);
    await stopAll();
  }
}

/** The LLM settings for the functions; starts the scripted LLM when there is no API key. */
async function llmEnvironment(
  io: ReturnType<typeof denoIo>,
  started: { llm?: ScriptedLlm },
): Promise<Record<string, string>> {
  const key = io.env.OPENAI_API_KEY;
  if (!key) {
    io.out(OFFLINE_NOTICE);
    io.out(
      "It replays the recorded trade-journal example; to run your own request, set " +
        'OPENAI_API_KEY and use: npm run demo -- --request "…"',
    );
    started.llm = await startScriptedLlm({
      scenarios: [await tradeJournalAgentScenario()],
      scenarioFiles: [new URL("../../tests/fixtures/llm/trade_journal_plan.json", import.meta.url)],
    });
    return {
      OPENAI_API_KEY: "scripted",
      OPENAI_BASE_URL: started.llm.url,
      OPENAI_MODEL: "scripted-model",
    };
  }
  const baseUrl = io.env.OPENAI_BASE_URL || DEFAULT_BASE_URL;
  const model = io.env.OPENAI_MODEL || DEFAULT_MODEL;
  io.out(`Using the model ${model} at ${baseUrl}`);
  return { OPENAI_API_KEY: key, OPENAI_BASE_URL: baseUrl, OPENAI_MODEL: model };
}

/** Starts the stack on `port`, or on 54321 falling back to a free port when it is taken. */
async function startStack(
  port: number | undefined,
  env: Record<string, string>,
  say: (line: string) => void,
) {
  if (port !== undefined) return await startLocalStack({ port, env });
  if (!portIsFree(DEFAULT_PORT)) {
    say(`Port ${DEFAULT_PORT} is taken; using a free port instead.`);
    return await startLocalStack({ port: 0, env });
  }
  try {
    return await startLocalStack({ port: DEFAULT_PORT, env });
  } catch (e) {
    if (!(e instanceof Deno.errors.AddrInUse)) throw e;
    return await startLocalStack({ port: 0, env });
  }
}

function portIsFree(port: number): boolean {
  try {
    Deno.listen({ hostname: "127.0.0.1", port }).close();
    return true;
  } catch {
    return false;
  }
}

if (import.meta.main) {
  let code: ExitCode;
  try {
    const parsed = parseDemoArgs(Deno.args);
    if (parsed === "help") {
      console.log(USAGE);
      code = EXIT.ok;
    } else {
      code = await runDemo({ ...parsed, out: resolve(parsed.out) });
    }
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    console.error(`error: usage: ${e.message}\n\n${USAGE}`);
    code = EXIT.usage;
  }
  // Exit explicitly: realtime-js leaves a reconnect timer behind after disconnecting.
  Deno.exit(code);
}
