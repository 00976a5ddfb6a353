/**
 * What every worker function is built on: its configuration, a pool, the LLM port (usage charged
 * to runs in the database) and the waker; and how it serves its wake-up endpoint.
 *
 * @example
 * ```ts
 * const { config, sql, llm, wake } = workerFoundations("security");
 * ```
 */
import { connect } from "../db/mod.ts";
import { createWaker, functionOf, type WorkerName } from "../dispatch/mod.ts";
import { createOpenAiLlm, loadLlmConfig } from "../llm/mod.ts";
import { DbUsageRecorder } from "../runs/usage_recorder.ts";
import { createWorkerApp, type QueueWorker } from "../worker/mod.ts";
import { loadWorkerConfig, type WorkerConfig } from "./config.ts";

/** Configuration, pool, LLM and waker of a worker function. */
export function workerFoundations(worker: WorkerName) {
  const config = loadWorkerConfig();
  const llmConfig = loadLlmConfig();
  const sql = connect(config.dbUrl, {
    max: Math.min(10, config.concurrency + 2),
    applicationName: functionOf(worker),
  });
  const llm = createOpenAiLlm(llmConfig, { usage: new DbUsageRecorder(sql) });
  const wake = createWaker({ functionsUrl: config.functionsUrl, secret: config.wakeSecret });
  return { config, sql, llm, wake };
}

/** Serves the worker's wake-up endpoint. */
export function serveWorker(
  worker: WorkerName,
  config: WorkerConfig,
  queueWorker: QueueWorker,
): void {
  const app = createWorkerApp({
    functionName: functionOf(worker),
    secrets: config.acceptedSecrets,
    worker: queueWorker,
  });
  Deno.serve(app.fetch);
}
