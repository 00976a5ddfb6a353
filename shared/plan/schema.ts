/**
 * The orchestrator's contracts for its first three phases: what it understood of a request, the
 * questions it asks when the request is ambiguous, and the plan — a DAG of agent tasks. One zod
 * schema per concept, used for the LLM's structured output, for the HTTP API and for the rows that
 * store them. Optional fields are `.nullable()` because strict structured outputs require every key.
 */
import { z } from "zod";

/** The nine specialist agents. */
export const AGENTS = [
  "db-architect",
  "query-optimizer",
  "edge-functions",
  "websocket",
  "api-data",
  "deployment",
  "debugger",
  "monitor",
  "security",
] as const;
export const AgentName = z.enum(AGENTS, {
  error: (issue) =>
    `unknown agent ${JSON.stringify(issue.input)}; use one of: ${
      AGENTS.map((a) => JSON.stringify(a)).join(", ")
    }`,
});
export type AgentName = z.infer<typeof AgentName>;

/** How complex a request is; `ambiguous` means the user must answer questions first. */
export const Complexity = z.enum(["simple", "moderate", "complex", "ambiguous"]);
export type Complexity = z.infer<typeof Complexity>;

/** Areas a request touches, each owned by one or more agents. */
export const ScopeCategory = z.enum([
  "schema",
  "queries",
  "serverless",
  "realtime",
  "api",
  "deployment",
  "errors",
  "monitoring",
  "security",
]);

/** A question for the user, typed so answers can be validated. */
export const ClarificationQuestion = z.object({
  id: z.string().regex(/^[a-z][a-z0-9_]{0,39}$/),
  text: z.string().min(1).max(1000),
  kind: z.enum(["text", "choice", "boolean"]),
  choices: z.array(z.string().min(1).max(200)).max(20).nullable(),
  required: z.boolean(),
});
export type ClarificationQuestion = z.infer<typeof ClarificationQuestion>;

/** Phase 1's result. */
export const Understanding = z.object({
  goal: z.string().min(1).max(2000),
  requirements: z.array(z.string().max(1000)).max(50),
  assumptions: z.array(z.string().max(1000)).max(50),
  ambiguities: z.array(z.string().max(1000)).max(20),
  complexity: Complexity,
  scope: z.array(ScopeCategory).max(9),
  questions: z.array(ClarificationQuestion).max(10),
});
export type Understanding = z.infer<typeof Understanding>;

/** Identifier of a task inside a plan, e.g. `T1`. */
export const TaskKey = z.string().regex(/^T[0-9]{1,3}$/, "task ids look like T1, T2, …");

/** One atomic task for one agent. */
export const PlanTask = z.object({
  id: TaskKey,
  agent: AgentName,
  title: z.string().min(1).max(200),
  input: z.string().min(1).max(4000),
  output: z.array(z.string().min(1).max(200)).min(1).max(20),
  depends_on: z.array(TaskKey).max(30),
  tables: z.array(z.string().max(63)).max(50),
});
export type PlanTask = z.infer<typeof PlanTask>;

/**
 * The validator suites a checkpoint can run, each a group of validator rules (the mapping is in
 * shared/checkpoints/suites.ts): `schema` (parses, applies, rolls back, PL/pgSQL compiles), `rls`
 * (row level security on, isolation probes, no exposed auth data), `indexes` (foreign keys
 * indexed, no duplicates, queries use their indexes), `safety` (migration-safety rules), `types`
 * (column types, edge function type-check), `functions` (delivered functions start and answer),
 * `realtime` (private channels isolate users).
 */
export const CHECKPOINT_SUITES = [
  "schema",
  "rls",
  "indexes",
  "safety",
  "types",
  "functions",
  "realtime",
] as const;
export const CheckpointSuite = z.enum(CHECKPOINT_SUITES);
export type CheckpointSuite = z.infer<typeof CheckpointSuite>;

/**
 * Something to validate after a task: when `after` (and so every task before it) has succeeded,
 * the suites named in `validate` run on the run's accumulated output, before any dependent starts.
 * Each item is a suite name (`rls`, `indexes`, …) or a sentence; a sentence selects the suites it
 * names as words, and one naming none selects `schema`.
 */
export const Checkpoint = z.object({
  after: TaskKey,
  validate: z.array(z.string().min(1).max(300)).min(1).max(20),
});
export type Checkpoint = z.infer<typeof Checkpoint>;

/** An agreement between tasks, e.g. the table and columns an API relies on. */
export const Contract = z.object({
  name: z.string().min(1).max(100),
  producer: TaskKey,
  consumers: z.array(TaskKey).min(1),
  description: z.string().min(1).max(2000),
});
export type Contract = z.infer<typeof Contract>;

/** Where outputs are merged. */
export const Integration = z.object({
  merge: z.array(TaskKey).min(1),
  into: z.string().min(1).max(300),
});

/** How a plan's tasks are scheduled; must match the dependency graph's shape. */
export const Strategy = z.enum(["sequential", "parallel", "hybrid"]);
export type Strategy = z.infer<typeof Strategy>;

/** Phases 2–3's result: the DAG to execute. */
export const Plan = z.object({
  goal: z.string().min(1).max(2000),
  strategy: Strategy,
  tasks: z.array(PlanTask).min(1).max(30),
  checkpoints: z.array(Checkpoint).max(30),
  contracts: z.array(Contract).max(30),
  integration: z.array(Integration).max(10),
});
export type Plan = z.infer<typeof Plan>;
