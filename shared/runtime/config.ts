/**
 * The worker functions' configuration: the platform's variables, the LLM endpoint, and how they
 * lease, retry and wake. Parsed once at start-up so a missing variable stops the function with its
 * name. Defaults suit Edge Functions (a 30 s lease renewed while the LLM works, well inside the
 * 150 s wall clock); tests shorten them.
 *
 * @example
 * ```ts
 * const config = loadWorkerConfig();
 * ```
 */
import { z } from "zod";
import { FunctionEnv, loadConfig } from "../config/mod.ts";
import { workerSecretsFromEnv } from "../dispatch/mod.ts";

/** The variables a worker function reads besides the LLM's (see `loadLlmConfig`). */
export const WorkerEnv = FunctionEnv.extend({
  /** Shared secret of the worker functions (what cron sends); else the service key is used. */
  BT_WORKER_SECRET: z.string().min(16).optional(),
  /** Lease (visibility timeout) of a task message in seconds, renewed while the task runs. */
  BT_TASK_LEASE_SECONDS: z.coerce.number().int().min(1).max(600).default(30),
  /** Lease of an orchestrator message in seconds. */
  BT_RUN_LEASE_SECONDS: z.coerce.number().int().min(1).max(600).default(60),
  /** Messages one worker process handles at once. */
  BT_WORKER_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(8),
  /**
   * Run deliveries one orchestrator-worker process runs at once (its heaviest step: the run's
   * artifacts, parse trees, a shadow session and the assembled files); the rest wait for a slot.
   */
  BT_DELIVERIES_PER_WORKER: z.coerce.number().int().min(1).max(64).default(1),
  /** Deliveries of one message before it is dead-lettered. */
  BT_MAX_DELIVERIES: z.coerce.number().int().min(1).max(50).default(5),
  /** Base of the exponential retry backoff, in seconds. */
  BT_RETRY_BASE_SECONDS: z.coerce.number().int().min(0).max(300).default(1),
  /** Wall-clock budget of one drain in ms (Edge Functions stop at 150 s). */
  BT_DRAIN_BUDGET_MS: z.coerce.number().int().min(1000).default(120_000),
  /** Test hook for crash tests: exit the process right after an LLM answer while this file exists. */
  BT_CHAOS_EXIT_AFTER_LLM_FILE: z.string().optional(),
});

/** What the worker functions are built from. */
export interface WorkerConfig {
  dbUrl: string;
  functionsUrl: string;
  /** Sent on wake-ups. */
  wakeSecret: string;
  /** Accepted from callers. */
  acceptedSecrets: string[];
  taskLeaseSeconds: number;
  runLeaseSeconds: number;
  concurrency: number;
  /** Run deliveries at once in one orchestrator-worker process. */
  deliveriesAtOnce: number;
  maxDeliveries: number;
  retryBaseSeconds: number;
  drainBudgetMs: number;
  chaosExitAfterLlmFile?: string;
}

/** Reads and checks the environment (default: the process's). */
export function loadWorkerConfig(
  env: Record<string, string | undefined> = Deno.env.toObject(),
): WorkerConfig {
  const parsed = loadConfig(WorkerEnv, env);
  return {
    dbUrl: parsed.SUPABASE_DB_URL,
    functionsUrl: `${parsed.SUPABASE_URL.replace(/\/$/, "")}/functions/v1`,
    wakeSecret: parsed.BT_WORKER_SECRET ?? parsed.SUPABASE_SERVICE_ROLE_KEY,
    acceptedSecrets: workerSecretsFromEnv(env),
    taskLeaseSeconds: parsed.BT_TASK_LEASE_SECONDS,
    runLeaseSeconds: parsed.BT_RUN_LEASE_SECONDS,
    concurrency: parsed.BT_WORKER_CONCURRENCY,
    deliveriesAtOnce: parsed.BT_DELIVERIES_PER_WORKER,
    maxDeliveries: parsed.BT_MAX_DELIVERIES,
    retryBaseSeconds: parsed.BT_RETRY_BASE_SECONDS,
    drainBudgetMs: parsed.BT_DRAIN_BUDGET_MS,
    chaosExitAfterLlmFile: parsed.BT_CHAOS_EXIT_AFTER_LLM_FILE,
  };
}
