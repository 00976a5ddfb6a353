/**
 * Artifacts (the files a run produces: migrations, policies, functions, docs) and the deliverable
 * that bundles them once a run is completed. The deliverable is stored in two places the dashboard
 * can read: its files as artifact rows without a task under the `deliverable/` folder (the
 * Supabase project as delivered: timestamped migrations, functions, pgTAP tests, docs, README) and
 * its sections index as the run's `result` ({@link DeliveryResult}): summary, migrations in order
 * with their policies, indexes with the queries they serve, functions, setup, notes and the
 * validation evidence of every file.
 *
 * @example
 * ```ts
 * const artifact = Artifact.parse(rowToJson(row));
 * ```
 */
import { z } from "zod";
import { Id, JsonObject, Timestamp } from "./scalars.ts";

/** What an artifact is. */
export const ArtifactKind = z.enum([
  "migration",
  "policy",
  "index",
  "query",
  "edge_function",
  "api_doc",
  "deploy_config",
  "diagnosis",
  "test",
  "doc",
  "types",
  "other",
]).meta({ id: "ArtifactKind" });
export type ArtifactKind = z.infer<typeof ArtifactKind>;

/** A file a run produced. */
export const Artifact = z.object({
  id: Id,
  task_id: Id.nullable().meta({ description: "Null for artifacts made when assembling." }),
  kind: ArtifactKind,
  path: z.string(),
  content: z.string(),
  meta: JsonObject,
  ordinal: z.int(),
  created_at: Timestamp,
}).meta({ id: "Artifact" });
export type Artifact = z.infer<typeof Artifact>;

/** Folder of the artifact rows that hold the assembled deliverable's files. */
export const DELIVERABLE_FOLDER = "deliverable/";

/** One file of the delivered Supabase project, at its path in the project. */
export const DeliverableFile = z.object({
  path: z.string().meta({ description: "Path in the project, e.g. supabase/migrations/…sql." }),
  kind: ArtifactKind,
  content: z.string(),
  meta: JsonObject.meta({ description: "Where it came from: task_key, agent, source paths." }),
}).meta({ id: "DeliverableFile" });
export type DeliverableFile = z.infer<typeof DeliverableFile>;

/** A policy as a migration creates it. */
export const DeliveredPolicy = z.object({
  name: z.string(),
  table: z.string(),
  command: z.string(),
  roles: z.array(z.string()),
  using: z.string().nullable(),
  with_check: z.string().nullable(),
});
export type DeliveredPolicy = z.infer<typeof DeliveredPolicy>;

/** One migration of the deliverable, in apply order. */
export const DeliveredMigration = z.object({
  path: z.string().meta({ description: "supabase/migrations/<14-digit version>_<name>.sql" }),
  version: z.string(),
  name: z.string(),
  description: z.string().nullable(),
  task_key: z.string().nullable(),
  agent: z.string().nullable(),
  source_path: z.string().meta({ description: "The task artifact's path." }),
  rollback_path: z.string().nullable().meta({ description: "Its down migration, if any." }),
  policies: z.array(DeliveredPolicy),
  indexes: z.array(z.string()).meta({ description: "Names of the indexes it creates." }),
});
export type DeliveredMigration = z.infer<typeof DeliveredMigration>;

/** One side of an index measurement: `EXPLAIN (ANALYZE, BUFFERS)` of the query it serves. */
export const IndexPlanRun = z.object({
  execution_ms: z.number(),
  buffers: z.number().meta({ description: "Shared buffers hit + read by the plan." }),
  plan: z.string().meta({ description: "The plan, one node per line." }),
  uses_index: z.boolean(),
});

/** The query an index serves, measured on synthetic rows without (before) and with it (after). */
export const IndexMeasurement = z.object({
  rows: z.record(z.string(), z.number()).meta({ description: "Synthetic rows per table." }),
  before: IndexPlanRun,
  after: IndexPlanRun,
  improved: z.boolean().meta({
    description: "False: the validator flagged it `index_no_improvement`.",
  }),
});
export type IndexMeasurement = z.infer<typeof IndexMeasurement>;

/** An index and the query it serves. */
export const DeliveredIndex = z.object({
  name: z.string(),
  table: z.string().nullable(),
  statement: z.string(),
  serves_query: z.string().nullable(),
  expected_plan: z.string().nullable(),
  migration_path: z.string().nullable(),
  /** Before/after `EXPLAIN (ANALYZE, BUFFERS)`, when the producing task's validation measured it. */
  measured: IndexMeasurement.optional(),
});
export type DeliveredIndex = z.infer<typeof DeliveredIndex>;

/** An edge function and its files. */
export const DeliveredFunction = z.object({
  name: z.string(),
  description: z.string().nullable(),
  entrypoint: z.string().nullable(),
  files: z.array(z.string()),
  verify_jwt: z.boolean(),
  env_vars: z.array(z.string()),
  task_key: z.string().nullable(),
});
export type DeliveredFunction = z.infer<typeof DeliveredFunction>;

/** An environment variable the result needs. */
export const DeliveredEnvVar = z.object({
  name: z.string(),
  description: z.string().nullable(),
  secret: z.boolean(),
  provided_by_supabase: z.boolean().meta({
    description: "Set by the platform in every function (SUPABASE_URL, …); nothing to do.",
  }),
  used_by: z.array(z.string()),
});
export type DeliveredEnvVar = z.infer<typeof DeliveredEnvVar>;

/** One setup step: what to do and, where there is one, the command. */
export const SetupStep = z.object({ title: z.string(), command: z.string().nullable() });
export type SetupStep = z.infer<typeof SetupStep>;

/** One step of undoing the deliverable (down migrations, newest first). */
export const RollbackStep = z.object({
  migration_path: z.string(),
  rollback_path: z.string().nullable(),
});
export type RollbackStep = z.infer<typeof RollbackStep>;

/**
 * Something that failed during the run and what recovered it: one recovery decision (stored in
 * `backend_team.recovery_decisions`), with the agents of the tasks it names.
 */
export const RecoveryNote = z.object({
  class: z.string().meta({ description: "Failure class, e.g. integration, security, schema." }),
  strategy: z.string().meta({ description: "retry, reroute, decompose, rollback or escalate." }),
  from_task: z.string().nullable().meta({ description: "The failing task's key." }),
  from_agent: z.string().nullable(),
  to_task: z.string().nullable().meta({
    description: "The task that carried the recovery; null when the user was asked.",
  }),
  to_agent: z.string().nullable(),
  reason: z.string().meta({ description: "What failed and what was done about it." }),
}).meta({ id: "RecoveryNote" });
export type RecoveryNote = z.infer<typeof RecoveryNote>;

/** A task's shadow-database verdict, as evidence for the files it produced. */
export const TaskEvidence = z.object({
  ok: z.boolean(),
  errors: z.int(),
  warnings: z.int(),
  findings: z.array(z.string()).meta({ description: "The findings, one line each." }),
});
export type TaskEvidence = z.infer<typeof TaskEvidence>;

/** One migration applied from scratch on the shadow database. */
export const MigrationRunEvidence = z.object({
  path: z.string(),
  ok: z.boolean(),
  duration_ms: z.number(),
  error: z.string().nullable(),
});

/** One pgTAP file run on the shadow database. */
export const TestRunEvidence = z.object({
  path: z.string(),
  ok: z.boolean(),
  planned: z.int(),
  passed: z.int(),
  failed: z.int(),
  failures: z.array(z.string()).meta({
    description: "Each failing test: number, name, diagnostics.",
  }),
  error: z.string().nullable().meta({ description: "Why the file stopped, if it did." }),
});

/** Whether the down migrations, applied newest first, restore the schema the run started from. */
export const RollbackEvidence = z.object({
  ok: z.boolean(),
  detail: z.string(),
});

/**
 * A finding of the config-agrees check on the merged result (`config.toml` names delivered
 * functions, every env var a function reads is declared, `verify_jwt` matches the code), on the
 * delivered file it concerns.
 */
export const ConfigCheckEvidence = z.object({
  rule: z.string(),
  level: z.enum(["error", "warn", "info"]),
  file: z.string().meta({ description: "The delivered file, e.g. supabase/config.toml." }),
  line: z.int().nullable(),
  message: z.string(),
});
export type ConfigCheckEvidence = z.infer<typeof ConfigCheckEvidence>;

/** The merged result validated on a shadow database. */
export const IntegrationReport = z.object({
  ok: z.boolean().meta({
    description: "Every migration applied from scratch, every pgTAP test passed and the " +
      "deployment configuration agrees with the functions (no error in `config`).",
  }),
  backend: z.string(),
  duration_ms: z.number(),
  migrations: z.array(MigrationRunEvidence),
  tests: z.array(TestRunEvidence),
  fixtures: z.array(z.object({ table: z.string(), ok: z.boolean(), detail: z.string() })).meta({
    description:
      "Rows the behavioural tests insert, per table; a table without one gets structural tests only.",
  }),
  rollback: RollbackEvidence.nullable(),
  config: z.array(ConfigCheckEvidence).optional().meta({
    description: "Findings of the config-agrees check on the merged result (absent: none, or " +
      "a report made before it existed).",
  }),
}).meta({ id: "IntegrationReport" });
export type IntegrationReport = z.infer<typeof IntegrationReport>;

/** The validation evidence of one delivered file. */
export const FileEvidence = z.object({
  path: z.string(),
  task_key: z.string().nullable(),
  agent: z.string().nullable(),
  task: TaskEvidence.nullable().meta({ description: "The producing task's shadow validation." }),
  integration: z.string().nullable().meta({ description: "What the integration run showed." }),
});
export type FileEvidence = z.infer<typeof FileEvidence>;

/** What was built and by whom. */
export const DeliverySummary = z.object({
  title: z.string(),
  text: z.string(),
  request: z.string(),
  agents: z.array(z.object({
    agent: z.string(),
    tasks: z.array(
      z.object({ key: z.string(), title: z.string(), summary: z.string().nullable() }),
    ),
  })),
  counts: z.record(z.string(), z.int()),
  usage: z.object({
    prompt_tokens: z.int(),
    completion_tokens: z.int(),
    cost_usd: z.number().nullable().meta({
      description: "US dollars of the run's LLM answers up to delivery; null when unknown.",
    }),
  }).optional().meta({ description: "What the run spent on the model, as of delivery." }),
});
export type DeliverySummary = z.infer<typeof DeliverySummary>;

/** Every section of the deliverable, files named by their path in {@link Deliverable.files}. */
export const DeliverySections = z.object({
  migrations: z.array(DeliveredMigration),
  indexes: z.array(DeliveredIndex),
  edge_functions: z.array(DeliveredFunction),
  api_docs: z.array(z.string()),
  deployment: z.array(z.string()),
  tests: z.array(z.string()),
  other_files: z.array(z.string()),
  setup: z.object({ env_vars: z.array(DeliveredEnvVar), steps: z.array(SetupStep) }),
  notes: z.object({
    assumptions: z.array(z.string()),
    rollback: z.array(RollbackStep),
    future_improvements: z.array(z.string()),
    recovery: z.array(RecoveryNote).optional().meta({
      description: "What failed during the run and what recovered it, in order (absent in " +
        "deliverables assembled before recovery was recorded).",
    }),
  }),
});
export type DeliverySections = z.infer<typeof DeliverySections>;

/** The run's `result` once delivered: summary, sections index, file count, validation. */
export const DeliveryResult = z.object({
  format: z.literal("backend-team.deliverable/1"),
  summary: DeliverySummary,
  sections: DeliverySections,
  files: z.int().meta({ description: "How many files the deliverable has." }),
  validation: z.object({
    integration: IntegrationReport.nullable().meta({
      description: "Null when no shadow database was available at delivery.",
    }),
    evidence: z.array(FileEvidence),
  }),
}).meta({ id: "DeliveryResult" });
export type DeliveryResult = z.infer<typeof DeliveryResult>;

/**
 * What `GET /runs/{id}/deliverable` returns for a completed run: the `result` (a
 * {@link DeliveryResult} when the run was delivered by the orchestrator), the assembled project's
 * files, and the artifacts the agents produced, in order.
 */
export const Deliverable = z.object({
  run_id: Id,
  status: z.literal("completed"),
  result: z.union([DeliveryResult, JsonObject]).nullable().meta({
    description: "A DeliveryResult for runs the orchestrator delivered.",
  }),
  files: z.array(DeliverableFile).meta({ description: "The delivered Supabase project." }),
  artifacts: z.array(Artifact).meta({ description: "What each task produced." }),
}).meta({ id: "Deliverable" });
export type Deliverable = z.infer<typeof Deliverable>;
