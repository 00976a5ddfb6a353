/**
 * The HTTP face of a worker function (`agent-<name>`, `orchestrator-worker`): `POST /<fn>/wake`
 * from a caller holding a worker secret starts a drain in the background (`EdgeRuntime.waitUntil`)
 * and answers 202 at once, so whoever enqueued work never waits for it. Anyone else gets a 401 and
 * nothing runs. The runtime's `beforeunload` stops the worker; unfinished messages come back
 * after their lease.
 *
 * @example
 * ```ts
 * const app = createWorkerApp({ functionName: "agent-security", secrets, worker });
 * Deno.serve(app.fetch);
 * ```
 */
import { Hono } from "hono";
import { isWorkerCaller } from "../dispatch/mod.ts";
import { AppError } from "../errors/mod.ts";
import { errorHandler, notFoundHandler } from "../http/mod.ts";
import type { QueueWorker } from "./queue_worker.ts";

/** What a worker function is built from. */
export interface WorkerAppOptions {
  /** The function's name (its path prefix). */
  functionName: string;
  /** Secrets a caller may present (see `workerSecretsFromEnv`). */
  secrets: readonly string[];
  worker: QueueWorker;
  /** Keeps the drain alive after the response (default: `EdgeRuntime.waitUntil` if present). */
  waitUntil?: (work: Promise<unknown>) => void;
}

interface EdgeRuntimeGlobal {
  EdgeRuntime?: { waitUntil?: (work: Promise<unknown>) => void };
}

/** Builds the worker function's app and hooks its shutdown to the runtime's `beforeunload`. */
export function createWorkerApp(options: WorkerAppOptions): Hono {
  const runtime = (globalThis as EdgeRuntimeGlobal).EdgeRuntime;
  const waitUntil = options.waitUntil ??
    (runtime?.waitUntil ? (w: Promise<unknown>) => runtime.waitUntil!(w) : () => {});
  globalThis.addEventListener("beforeunload", () => void options.worker.stop());

  const app = new Hono().basePath(`/${options.functionName}`);
  app.onError(errorHandler());
  app.notFound(notFoundHandler);
  app.use("*", async (c, next) => {
    if (!isWorkerCaller(c.req.raw, options.secrets)) {
      throw new AppError("unauthorized", "a worker secret is required");
    }
    await next();
  });
  app.post("/wake", (c) => {
    const busy = options.worker.busy;
    waitUntil(options.worker.wake());
    return c.json({ status: busy ? "already draining" : "draining" }, 202);
  });
  return app;
}
