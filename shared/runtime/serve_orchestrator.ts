/**
 * The orchestrator worker's composition root: understand, plan, resume and deliver runs when woken.
 *
 * @example
 * ```ts
 * await serveOrchestratorWorker();
 * ```
 */
import { queueOf } from "../dispatch/mod.ts";
import { handleRunMessage } from "../orchestration/mod.ts";
import { loadPrompt } from "../prompts/mod.ts";
import { pgmqQueue } from "../queue/mod.ts";
import { QueueWorker } from "../worker/mod.ts";
import { createDeliverer } from "./deliverer.ts";
import { serveWorker, workerFoundations } from "./foundations.ts";
import { refuseSharedShadowServer } from "../shadow/mod.ts";

/** Serves the orchestrator worker. */
export async function serveOrchestratorWorker(): Promise<void> {
  await refuseSharedShadowServer();
  const { config, sql, llm, wake } = workerFoundations("orchestrator");
  const prompt = await loadPrompt("orchestrator");
  const deliver = createDeliverer(sql, Deno.env.toObject(), {
    deliveriesAtOnce: config.deliveriesAtOnce,
  });
  const queueWorker = new QueueWorker({
    queue: pgmqQueue(sql, queueOf("orchestrator")),
    vtSeconds: config.runLeaseSeconds,
    concurrency: config.concurrency,
    drainBudgetMs: config.drainBudgetMs,
    handle: (message, lease) =>
      handleRunMessage(
        { sql, llm, prompt, wake, deliver, maxDeliveries: config.maxDeliveries },
        message,
        lease,
      ),
  });
  serveWorker("orchestrator", config, queueWorker);
}
