/**
 * The agent worker's handler for one task message: start the attempt (a stale or duplicate
 * delivery stops here), build the task's context package, ask the agent's model for its output
 * schema, turn the output into artifacts, validate them on a shadow database on top of what the
 * run already accepted, pass the plan's gates (the checkpoints placed after the task run on the
 * run's accumulated output, the contracts it consumes are checked; shared/checkpoints), and finish
 * the attempt — accepted (dependents released), or, when it
 * failed, as shared/recovery decides: retried with the findings, rerouted to a specialist as a new
 * task in the plan, redelivered with backoff after an LLM failure, or escalated to the user with
 * typed questions (see recovery_step.ts). Every finish is conditional on the attempt, so a late or duplicate worker is a no-op.
 * A failure is stored — and shown to the run's owner — as the safe code and message of
 * `publicError`; the raw error (driver text, hosts, stacks) goes to the log with the run and task.
 *
 * @example
 * ```ts
 * const worker = new QueueWorker({ queue, vtSeconds: 30, concurrency: 4,
 *   handle: (m, lease) => handleTaskMessage(deps, m, lease) });
 * ```
 */
import type { z } from "zod";
import type { Sql } from "../db/mod.ts";
import type { Waker } from "../dispatch/mod.ts";
import { isAppError, publicError } from "../errors/mod.ts";
import type { ChatMessage, LlmPort } from "../llm/mod.ts";
import type { QueueMessage } from "../queue/mod.ts";
import type { Lease } from "../worker/mod.ts";
import {
  type AcceptedMigration,
  type AttemptResult,
  beginValidation,
  completeAttempt,
  failAttempt,
  loadTaskWork,
  recoverAttempt,
  startAttempt,
  type TaskWork,
} from "./task_store.ts";
import { recoveryAfterError, recoveryAfterValidation } from "./recovery_step.ts";
import {
  announceGateResults,
  checkTaskGates,
  gateFailureText,
  gateStage,
  recoverAtCause,
  withGates,
} from "../checkpoints/mod.ts";

/** A file an agent's output turns into. */
export interface ArtifactDraft {
  kind: string;
  path: string;
  content: string;
  meta: Record<string, unknown>;
}

/** The context package of an attempt. */
export interface ContextPackage {
  messages: ChatMessage[];
  /** Estimated tokens of the package sent. */
  tokens: number;
  /** Estimated tokens had nothing been compressed. */
  uncompressedTokens: number;
}

/** What an agent is made of: its context, its output schema and how its output becomes files. */
export interface AgentKit {
  contextFor(work: TaskWork): Promise<ContextPackage>;
  outputSchema(agent: string): z.ZodType;
  artifactsOf(agent: string, output: unknown): ArtifactDraft[];
}

/** A validation verdict on an attempt's artifacts. */
export interface ValidationSummary {
  ok: boolean;
  errors: number;
  warnings: number;
  findings: unknown[];
  durationMs?: number;
  /** The resulting schema's keys (`column:public.t.c`, …), when asked for and everything applied. */
  schema?: string[];
}

/** Checks an attempt's artifacts on a shadow database, on top of the run's accepted migrations. */
export interface ArtifactValidator {
  validate(input: {
    agent: string;
    artifacts: ArtifactDraft[];
    accepted: AcceptedMigration[];
    /** The project's schema before the run (`runs.context.schema_sql`), applied first. */
    baseSql?: string | null;
    /** Also return the resulting schema (checkpoints and plan contracts read it). */
    schema?: boolean;
    /**
     * The outputs of the tasks this one depends on (e.g. the api-data agent's documented endpoints
     * a function is held to, the edge-functions agent's functions a config deploys).
     */
    dependencies?: readonly { agent: string; output: unknown }[];
    signal?: AbortSignal;
    /**
     * Called once before the first statement reaches a shadow database (or a function starts):
     * the worker marks the task `validating` then. A validation that needs neither (documents,
     * config) never calls it, and the worker logs validating and its verdict in one transaction.
     */
    beforeShadow?: () => Promise<void>;
  }): Promise<ValidationSummary>;
}

/** Thrown out of a validation when the attempt was superseded before its shadow work began. */
class AttemptSuperseded extends Error {}

/** What the agent worker needs. */
export interface TaskWorkerDeps {
  sql: Sql;
  llm: LlmPort;
  kit: AgentKit;
  validator: ArtifactValidator;
  wake: Waker;
  /** Deliveries of one message before it is dead-lettered (default 5). */
  maxDeliveries?: number;
  /** Validation retries before escalating to the user (default 2). */
  maxValidationRetries?: number;
  /** Base of the exponential retry backoff in seconds (default 1). */
  retryBaseSeconds?: number;
  /** Test hook: called after the LLM answered, before anything is stored (crash tests). */
  afterLlm?(work: TaskWork): void | Promise<void>;
}

/**
 * Codes of failures worth redelivering (the model or its endpoint misbehaved, a database or the
 * network failed); errors nobody anticipated are redelivered too. What happens when deliveries run
 * out is shared/recovery's decision (an escalation to the user).
 */
const RETRYABLE = new Set<string>([
  "llm_unavailable",
  "llm_invalid_output",
  "upstream_unavailable",
  "infrastructure_error",
]);

/** Handles one task message; see the module doc. */
export async function handleTaskMessage(
  deps: TaskWorkerDeps,
  message: QueueMessage,
  lease: Lease,
): Promise<void> {
  const { sql } = deps;
  const taskId = String((message.message as { task_id?: unknown }).task_id ?? "");
  if (!/^[0-9a-f-]{36}$/i.test(taskId)) {
    console.error(`[worker] message ${message.msg_id} has no task id; leaving it to dead-letter`);
    return;
  }
  const maxDeliveries = deps.maxDeliveries ?? 5;
  const started = await startAttempt(sql, taskId, message, maxDeliveries);
  if (!started.applied) return;
  const { attempt } = started;
  const t0 = performance.now();
  const work = await loadTaskWork(sql, taskId);
  const agent = work.task.agent;
  let usage = { prompt_tokens: 0, completion_tokens: 0 };
  // US dollars of the attempt's answers; null when the model has no price (unknown, not 0).
  let costUsd: number | null = 0;
  let contextTokens: number | undefined;
  let uncompressedTokens: number | undefined;
  let llmMs = 0;
  try {
    const context = await deps.kit.contextFor(work);
    contextTokens = context.tokens;
    uncompressedTokens = context.uncompressedTokens;
    const llmStart = performance.now();
    const answer = await deps.llm.complete({
      schema: deps.kit.outputSchema(agent),
      schemaName: agent.replaceAll("-", "_") + "_output",
      messages: context.messages,
      agent,
      phase: work.previous?.status === "invalid" ? "retry" : "execute",
      runId: work.task.run_id,
      // The user chose another model for this agent when a recovery question asked.
      model: work.run.options?.agent_models?.[agent],
      signal: lease.signal,
    });
    llmMs = performance.now() - llmStart;
    usage = answer.usage;
    costUsd = answer.cost_usd ?? null;
    await deps.afterLlm?.(work);
    const artifacts = deps.kit.artifactsOf(agent, answer.value);
    // `validating` is logged when shadow work starts; validation done in this process (no
    // migration, function or channel to prove) is logged with its verdict, in one transaction.
    let validating = false;
    const beforeShadow = async () => {
      if (validating) return;
      if (!(await beginValidation(sql, taskId, attempt))) throw new AttemptSuperseded();
      validating = true;
    };
    const own = await deps.validator.validate({
      agent,
      artifacts,
      accepted: work.acceptedMigrations,
      baseSql: work.run.context.schema_sql ?? null,
      dependencies: work.dependencies,
      signal: lease.signal,
      beforeShadow,
    });
    // The plan's checkpoints after this task and the contracts it consumes (shared/checkpoints).
    const gates = own.ok
      ? await checkTaskGates(
        { sql, validator: deps.validator, beforeShadow },
        work,
        artifacts,
        answer.value,
        lease.signal,
      )
      : null;
    const validation = withGates(own, gates);
    const result: AttemptResult = {
      output: answer.value,
      artifacts: artifacts.map((a) => ({
        ...a,
        meta: { ...a.meta, validation: { ok: validation.ok, errors: validation.errors } },
      })),
      ...usage,
      cost_usd: costUsd,
      context_tokens: contextTokens,
      context_tokens_uncompressed: uncompressedTokens,
      duration_ms: Math.round(performance.now() - t0),
      llm_ms: Math.round(llmMs),
      validation,
    };
    if (validation.ok) {
      // Gate verdicts are announced in the transaction that accepts the attempt.
      const done = await sql.begin(async (tx) => {
        if (!validating && !(await beginValidation(tx, taskId, attempt))) {
          return { applied: false, wake: [] };
        }
        if (gates) await announceGateResults(tx, taskId, attempt, gates.events);
        return await completeAttempt(tx, taskId, attempt, result);
      });
      if (done.applied) deps.wake(done.wake);
      return;
    }
    // Recovery decides: retry the agent, reroute to a specialist, or ask the user. A failed gate
    // is recovered from its own findings, the decision saying which checkpoint or contract.
    const gateFailed = gates !== null && !gates.ok;
    if (gateFailed) {
      if (!validating && !(await beginValidation(sql, taskId, attempt))) return;
      validating = true;
      // A checkpoint failure caused by an earlier task's accepted output is retried there.
      const atCause = await recoverAtCause(
        sql,
        work,
        gates,
        result,
        attempt,
        { ...usage, cost_usd: costUsd },
        deps.maxValidationRetries ?? 2,
      );
      if (atCause) {
        deps.wake(atCause.wake);
        return;
      }
    }
    const step = await recoveryAfterValidation(
      sql,
      work,
      (gateFailed ? gates.findings : validation.findings) as { rule?: string; level?: string }[],
      { ...usage, cost_usd: costUsd },
      deps.maxValidationRetries ?? 2,
    );
    const gateText = gateFailed ? gateFailureText(gates, work.task.key) : "";
    const decision = gateFailed
      ? { ...step.decision, reason: `${gateText}; ${step.decision.reason}` }
      : step.decision;
    const recovered = await sql.begin(async (tx) => {
      if (!validating && !(await beginValidation(tx, taskId, attempt))) {
        return { applied: false, wake: [] };
      }
      await announceGateResults(tx, taskId, attempt, gates?.events ?? []);
      return await recoverAttempt(
        tx,
        taskId,
        attempt,
        {
          ...result,
          error: gateFailed
            ? { code: `${gateStage(gates)}_failed`, message: gateText.slice(0, 1000) }
            : {
              code: "validation_failed",
              message: `${validation.errors} validation error(s) in the output`,
            },
        },
        decision,
        step.amendment,
        step.clarification,
      );
    });
    if (recovered.applied) deps.wake(recovered.wake);
  } catch (e) {
    if (e instanceof AttemptSuperseded) return; // a late or duplicate worker: nothing to do
    if (lease.signal.aborted) return; // the lease is gone: whoever holds the message now decides
    if (isAppError(e, "budget_exceeded")) return; // the run was failed when it went over budget
    const error = publicError(e);
    console.error(
      `[worker ${agent}] run ${work.task.run_id} task ${work.task.key} (${taskId}) attempt ` +
        `${attempt} failed, shown as ${error.code}:`,
      e,
    );
    const retryable = RETRYABLE.has(error.code) || !isAppError(e);
    const step = await recoveryAfterError(
      sql,
      work,
      error.code,
      retryable && message.read_ct < maxDeliveries,
      { ...usage, cost_usd: costUsd },
    );
    await failAttempt(
      sql,
      taskId,
      attempt,
      {
        ...usage,
        cost_usd: costUsd,
        context_tokens: contextTokens,
        duration_ms: Math.round(performance.now() - t0),
        llm_ms: Math.round(llmMs),
        error,
        retryable,
        recovery: step.clarification
          ? { decision: step.decision, clarification: step.clarification }
          : undefined,
      },
      message,
      {
        maxDeliveries,
        retryDelaySeconds: Math.min(60, (deps.retryBaseSeconds ?? 1) * 2 ** (message.read_ct - 1)),
      },
    );
  }
}
