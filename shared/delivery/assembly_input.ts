/**
 * What the assembler reads of a finished run: the run (its request, understanding and creation
 * time), its tasks with their accepted outputs and validation reports, the artifacts the tasks
 * stored, and what recovery decided along the way. Structural types, so rows read by the worker and fixtures built in tests both fit.
 */

/** The run being delivered. */
export interface DeliveryRun {
  id: string;
  request: string;
  /** When the run was created: the migration timestamps count from here. */
  created_at: string | Date;
  understanding: unknown;
  /** What the run spent on the model so far (cost `null`: a model without a price answered). */
  usage?: { prompt_tokens: number; completion_tokens: number; cost_usd: number | null };
}

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
  /** Recovery decisions in order (absent: none recorded); the Notes say what failed and what recovered it. */
  recovery?: DeliveryDecision[];
}
