/**
 * What the assembler reads of a finished run: the run (its request, understanding and creation
 * time), its tasks with their accepted outputs and validation reports, the artifacts the tasks
 * stored, and what recovery decided along the way. Structural types, so rows read by the worker
 * and fixtures built in tests both fit.
 */
import type { RunRecord } from "../runs/mod.ts";

/**
 * The run being delivered: the fields of the one run record (shared/runs `RunRecord`) the assembly
 * reads — request, understanding, creation time (the migration versions count from it) and, when
 * known, what the run spent on the model (`cost_usd` null: a model without a price answered).
 */
export type DeliveryRun =
  & Pick<RunRecord, "id" | "request" | "created_at" | "understanding">
  & Partial<Pick<RunRecord, "prompt_tokens" | "completion_tokens" | "cost_usd">>;

/** A task of the run. */
export interface DeliveryTask {
  id: string;
  key: string;
  agent: string;
  title: string;
  depends_on: string[];
  status: string;
  /** The agent's accepted output (its contract's envelope: summary, artifacts, notes, assumptions). */
  output: unknown;
  /** The accepted attempt's shadow validation report. */
  validation: unknown;
}

/** An artifact a task stored. */
export interface DeliveryArtifact {
  task_id: string | null;
  kind: string;
  path: string;
  content: string;
  meta: Record<string, unknown>;
  ordinal: number;
}

/** A recovery decision of the run (`backend_team.recovery_decisions`), in order. */
export interface DeliveryDecision {
  class: string;
  strategy: string;
  from_task: string | null;
  to_task: string | null;
  to_agent: string | null;
  reason: string;
}

/** Everything {@link assembleDeliverable} reads. */
export interface AssemblyInput {
  run: DeliveryRun;
  tasks: DeliveryTask[];
  artifacts: DeliveryArtifact[];
  /** Recovery decisions in order (absent: none); Notes say what failed and what recovered it. */
  recovery?: DeliveryDecision[];
}
