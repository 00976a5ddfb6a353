/**
 * An agent worker's composition root: drains the agent's queue when woken, each task through its
 * context package, the LLM, the shadow-database validator and the state machine.
 *
 * @example
 * ```ts
 * await serveAgentWorker("db-architect");
 * ```
 */
import { queueOf } from "../dispatch/mod.ts";
import { handleTaskMessage } from "../execution/mod.ts";
import type { AgentName } from "../plan/schema.ts";
import { pgmqQueue } from "../queue/mod.ts";
import { QueueWorker } from "../worker/mod.ts";
import { createAgentKit } from "./agent_kit.ts";
import { serveUnconfiguredWorker, serveWorker, workerFoundations } from "./foundations.ts";
import { createShadowValidator } from "./shadow_validator.ts";
import { refuseSharedShadowServer } from "../shadow/mod.ts";
import { channelProbeFromEnv } from "../validation/channel_probe_remote.ts";

/** Serves the worker of one agent; refuses to start on a shadow server that is the product's. */
export async function serveAgentWorker(agent: AgentName): Promise<void> {
  await refuseSharedShadowServer();
  const { config, sql, llm, wake, llmNotConfigured } = workerFoundations(agent);
  // Tasks exist only after a configured orchestrator worker planned them; without a model this
  // worker leaves them queued instead of failing each for a setting.
  if (llmNotConfigured) return serveUnconfiguredWorker(agent, config, llmNotConfigured);
  const kit = createAgentKit();
  // The local stack serves a channel probe (BT_CHANNEL_PROBE_URL); hosted has none, and the
  // validator then says the channels were not joined.
  const env = Deno.env.toObject();
  const validator = createShadowValidator(env, { channelProbe: channelProbeFromEnv(env) });
  const chaosFile = config.chaosExitAfterLlmFile;
  const queueWorker = new QueueWorker({
    queue: pgmqQueue(sql, queueOf(agent)),
    vtSeconds: config.taskLeaseSeconds,
    concurrency: config.concurrency,
    drainBudgetMs: config.drainBudgetMs,
    handle: (message, lease) =>
      handleTaskMessage(
        {
          sql,
          llm,
          kit,
          validator,
          wake,
          maxDeliveries: config.maxDeliveries,
          retryBaseSeconds: config.retryBaseSeconds,
          afterLlm: chaosFile ? () => exitIfFileExists(chaosFile) : undefined,
        },
        message,
        lease,
      ),
  });
  serveWorker(agent, config, queueWorker);
}

// Crash tests: the first worker to get an LLM answer while the file exists dies on the spot, as
// a process killed between the LLM call and storing its result would.
function exitIfFileExists(path: string): void {
  try {
    Deno.removeSync(path);
  } catch {
    return;
  }
  console.error("[chaos] exiting after the LLM answered, before storing the result");
  Deno.exit(137);
}
