/**
 * Who does background work: the orchestrator worker (understand, plan, resume, deliver) and one
 * worker per agent, each an Edge Function fed by its own pgmq queue. This file names them once so
 * SQL queue names, function names and wake-ups cannot drift apart.
 *
 * @example
 * ```ts
 * functionOf("db-architect"); // "agent-db-architect"
 * queueOf("db-architect");    // "bt_db_architect"
 * ```
 */
import { type AgentName, AGENTS } from "../plan/schema.ts";

/** A background worker: the orchestrator's or an agent's. */
export type WorkerName = "orchestrator" | AgentName;

/** Every worker. */
export const WORKERS: readonly WorkerName[] = ["orchestrator", ...AGENTS];

/** The Edge Function that runs `worker`. */
export function functionOf(worker: WorkerName): string {
  return worker === "orchestrator" ? "orchestrator-worker" : `agent-${worker}`;
}

/** The pgmq queue that feeds `worker` (the SQL function backend_team.queue_of agrees). */
export function queueOf(worker: WorkerName): string {
  return `bt_${worker.replaceAll("-", "_")}`;
}

/** The worker a queue feeds, if it is one of ours. */
export function workerOfQueue(queue: string): WorkerName | undefined {
  return WORKERS.find((w) => queueOf(w) === queue);
}
