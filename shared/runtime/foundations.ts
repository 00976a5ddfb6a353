/**
 * What every worker function is built on: its configuration, a pool, the LLM port (usage charged
 * to runs in the database) and the waker; and how it serves its wake-up endpoint.
 *
 * @example
 * ```ts
 * const { config, sql, llm, wake } = workerFoundations("security");
 * ```
 */
import { Hono } from "hono";
import { connect } from "../db/mod.ts";
import { createWaker, functionOf, isWorkerCaller, type WorkerName } from "../dispatch/mod.ts";
import { AppError } from "../errors/mod.ts";
import { errorHandler, notFoundHandler } from "../http/mod.ts";
import {
  createOpenAiLlm,
  llmConfigProblem,
  type LlmPort,
  loadLlmConfig,
  loadPriceTable,
} from "../llm/mod.ts";
import { DbUsageRecorder } from "../runs/usage_recorder.ts";
import { createWorkerApp, type QueueWorker } from "../worker/mod.ts";
import { loadWorkerConfig, type WorkerConfig } from "./config.ts";

/**
 * Configuration, pool, LLM and waker of a worker function. Without model settings the worker
 * still starts (a crash on boot would be retried by the platform for ever, a stack trace each):
 * `llmNotConfigured` says what is missing, logged once, and `llm` fails every call with
 * `llm_not_configured` and that text.
 */
export function workerFoundations(worker: WorkerName) {
  const config = loadWorkerConfig();
  const llmNotConfigured = llmConfigProblem();
  const sql = connect(config.dbUrl, {
    max: Math.min(10, config.concurrency + 2),
    applicationName: functionOf(worker),
  });
  let llm: LlmPort;
  if (llmNotConfigured) {
    console.warn(`[${functionOf(worker)}] ${llmNotConfigured}`);
    llm = unconfiguredLlm(llmNotConfigured);
  } else {
    // Prices are read once at boot: each call is costed at the table in force when it is made.
    llm = createOpenAiLlm(loadLlmConfig(), {
      usage: new DbUsageRecorder(sql),
      prices: loadPriceTable(),
    });
  }
  const wake = createWaker({ functionsUrl: config.functionsUrl, secret: config.wakeSecret });
  return { config, sql, llm, wake, llmNotConfigured };
}

/** An LLM port for a worker without model settings: every call is `llm_not_configured`. */
export function unconfiguredLlm(problem: string): LlmPort {
  return {
    complete: () => {
      const error = new AppError("llm_not_configured", problem);
      // An expected state, not a bug: whoever logs it gets one line, not a stack trace.
      error.stack = `AppError [llm_not_configured]: ${problem}`;
      return Promise.reject(error);
    },
  };
}

/**
 * Serves a worker that must not touch its queue (an agent without model settings): a wake from a
 * worker caller is answered 503 `llm_not_configured` with what is missing, and nothing is read, so
 * the queue's messages wait for a configured worker.
 */
export function serveUnconfiguredWorker(
  worker: WorkerName,
  config: WorkerConfig,
  problem: string,
): void {
  const app = new Hono().basePath(`/${functionOf(worker)}`);
  app.onError(errorHandler(() => {}));
  app.notFound(notFoundHandler);
  app.use("*", async (c, next) => {
    if (!isWorkerCaller(c.req.raw, config.acceptedSecrets)) {
      throw new AppError("unauthorized", "a worker secret is required");
    }
    await next();
  });
  app.post("/wake", () => {
    throw new AppError("llm_not_configured", problem);
  });
  Deno.serve(app.fetch);
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
