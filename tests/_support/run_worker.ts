/**
 * The orchestrator worker as tests drive it, in-process or as a child process: the real
 * `handleRunMessage` behind a real `QueueWorker` on `bt_orchestrator`, the real `openai` adapter
 * talking to the scripted LLM, tokens charged to runs by `DbUsageRecorder`. Only the two outward
 * effects are recorded instead of performed: wake-ups of agent workers (fire-and-forget HTTP in
 * production) and delivery (another phase). Also the few user actions a planning test needs —
 * a user in `auth.users`, submitting and answering as that user — through the same SQL functions
 * the API calls.
 *
 * @example
 * ```ts
 * await using worker = await startRunWorker({ sql: db.sql, llmUrl: llm.url });
 * const user = await newUser(db.sql);
 * const run = await submitAs(db.sql, user, "Design the schema for a trade journal …");
 * await worker.drain();
 * ```
 */
import { asCaller, type Sql } from "../../shared/db/mod.ts";
import type { WorkerName } from "../../shared/dispatch/mod.ts";
import { createOpenAiLlm, loadLlmConfig } from "../../shared/llm/mod.ts";
import { handleRunMessage } from "../../shared/orchestration/mod.ts";
import type { RunRecord } from "../../shared/runs/mod.ts";
import { loadPrompt, type Prompt } from "../../shared/prompts/mod.ts";
import { pgmqQueue } from "../../shared/queue/mod.ts";
import { DbUsageRecorder } from "../../shared/runs/usage_recorder.ts";
import { QueueWorker } from "../../shared/worker/mod.ts";

/** How to start the worker. */
export interface RunWorkerOptions {
  /** Pool on the database under test (a superuser: the service side). */
  sql: Sql;
  /** The scripted LLM's base URL (ends in `/v1`). */
  llmUrl: string;
  /** Lease of an orchestrator message in seconds (default 30). */
  vtSeconds?: number;
  /** Extra LLM environment, e.g. `{ OPENAI_TIMEOUT_MS: "500" }`. */
  llmEnv?: Record<string, string>;
  /** Called with every wake-up as it happens (the child process prints them). */
  onWake?(workers: WorkerName[]): void;
  /** Where worker errors go besides `errors` (default: nowhere). */
  onError?(error: unknown): void;
}

/** A running orchestrator worker and what it did. */
export interface RunWorker extends AsyncDisposable {
  readonly queueWorker: QueueWorker;
  /** The loaded orchestrator prompt (its `version` is what runs store). */
  readonly prompt: Prompt;
  /** Each wake-up the worker asked for, in order. */
  readonly wakes: WorkerName[][];
  /** Runs handed to delivery. */
  readonly delivered: RunRecord[];
  /** Errors the queue worker reported (handlers that threw, failed reads). */
  readonly errors: unknown[];
  /** Drains `bt_orchestrator` until it has no visible message. */
  drain(): Promise<void>;
  stop(): Promise<void>;
}

/** The LLM environment tests use against the scripted server. */
export function scriptedLlmEnv(
  llmUrl: string,
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    OPENAI_API_KEY: "scripted",
    OPENAI_BASE_URL: llmUrl,
    OPENAI_MODEL: "scripted-model",
    OPENAI_MAX_RETRIES: "2",
    OPENAI_TIMEOUT_MS: "10000",
    ...extra,
  };
}

/** Starts the orchestrator worker on `options.sql` (idle until {@link RunWorker.drain}). */
export async function startRunWorker(options: RunWorkerOptions): Promise<RunWorker> {
  const { sql } = options;
  const llm = createOpenAiLlm(loadLlmConfig(scriptedLlmEnv(options.llmUrl, options.llmEnv)), {
    usage: new DbUsageRecorder(sql),
  });
  const prompt = await loadPrompt("orchestrator");
  const wakes: WorkerName[][] = [];
  const delivered: RunRecord[] = [];
  const errors: unknown[] = [];
  const queueWorker = new QueueWorker({
    queue: pgmqQueue(sql, "bt_orchestrator"),
    vtSeconds: options.vtSeconds ?? 30,
    concurrency: 4,
    onError: (e) => {
      errors.push(e);
      options.onError?.(e);
    },
    handle: (message, lease) =>
      handleRunMessage(
        {
          sql,
          llm,
          prompt,
          wake: (workers) => {
            const list = [...workers];
            wakes.push(list);
            options.onWake?.(list);
          },
          // Delivery is another phase; these tests only see that it was asked for.
          deliver: (run) => {
            delivered.push(run);
            return Promise.resolve();
          },
        },
        message,
        lease,
      ),
  });
  const stop = () => queueWorker.stop();
  return {
    queueWorker,
    prompt,
    wakes,
    delivered,
    errors,
    drain: () => queueWorker.wake(),
    stop,
    [Symbol.asyncDispose]: stop,
  };
}

/** A new user in `auth.users`; returns its id. */
export async function newUser(sql: Sql): Promise<string> {
  const id = crypto.randomUUID();
  await sql`insert into auth.users (id, email) values (${id}, ${`${id}@example.test`})`;
  return id;
}

/** Submits a run as `userId` (role `authenticated`), as the API does; returns the run's id. */
export async function submitAs(
  sql: Sql,
  userId: string,
  request: string,
  options: Record<string, unknown> = {},
): Promise<string> {
  const [row] = await asCaller(
    sql,
    { role: "authenticated", sub: userId },
    (tx) =>
      tx<{ id: string }[]>`
        select id from backend_team.submit_run(${request}, '{}'::jsonb, ${
        tx.json(options as never)
      }::jsonb)`,
  );
  return row.id;
}

/** Answers the run's questions as `userId`, as the API does (after its own answer checks). */
export async function answerAs(
  sql: Sql,
  userId: string,
  runId: string,
  answers: Record<string, string | boolean>,
): Promise<void> {
  await asCaller(
    sql,
    { role: "authenticated", sub: userId },
    (tx) =>
      tx`select backend_team.answer_clarification(${runId}::uuid, ${
        tx.json(answers as never)
      }::jsonb)`,
  );
}
