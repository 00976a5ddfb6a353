/**
 * The output contract of each of the nine agents: one envelope
 * `{ summary, artifacts, notes, assumptions }` whose `artifacts` object holds only the typed lists
 * that agent produces. The schema is sent as the structured-output schema of the agent's LLM call,
 * so it is also what the model is held to; the prompts name these schemas in their front matter.
 */
import { z } from "zod";
import type { AgentName } from "../plan/schema.ts";
import {
  ApiEndpoint,
  Diagnosis,
  EdgeFunction,
  EnvVar,
  FileArtifact,
  IndexRecommendation,
  Migration,
  MonitoringCheck,
  QueryPattern,
  RealtimeChannel,
  SecurityFinding,
} from "./artifact_schemas.ts";

function envelope<A extends z.ZodRawShape>(artifacts: A) {
  return z.object({
    summary: z.string().describe("What you delivered, in two to five sentences."),
    artifacts: z.object(artifacts),
    notes: z.array(z.string()).describe("Caveats, rollback steps, follow-ups for the user."),
    assumptions: z.array(z.string()).describe("What you assumed where the task was silent."),
  });
}

const migrations = z.array(Migration).describe("Migrations in the order they must be applied.");

/** db-architect: tables, relationships, constraints — as migrations. */
export const DbArchitectOutput = envelope({ migrations });
export type DbArchitectOutput = z.infer<typeof DbArchitectOutput>;

/** query-optimizer: indexes with the queries they serve, the rewritten queries, their migration. */
export const QueryOptimizerOutput = envelope({
  migrations,
  indexes: z.array(IndexRecommendation),
  queries: z.array(QueryPattern),
});
export type QueryOptimizerOutput = z.infer<typeof QueryOptimizerOutput>;

/** edge-functions: Deno functions and the environment they need. */
export const EdgeFunctionsOutput = envelope({
  functions: z.array(EdgeFunction),
  env_vars: z.array(EnvVar),
});
export type EdgeFunctionsOutput = z.infer<typeof EdgeFunctionsOutput>;

/** websocket: channels, their authorization (migrations on realtime.messages), client snippets. */
export const WebsocketOutput = envelope({
  migrations,
  channels: z.array(RealtimeChannel),
  files: z.array(FileArtifact).describe("Client snippets, e.g. docs/realtime/subscribe.ts."),
});
export type WebsocketOutput = z.infer<typeof WebsocketOutput>;

/** api-data: the API contract, SQL behind RPC endpoints, shared types. */
export const ApiDataOutput = envelope({
  endpoints: z.array(ApiEndpoint),
  migrations: migrations.describe("Views and RPC functions the endpoints need; empty if none."),
  files: z.array(FileArtifact).describe("Shared types, e.g. supabase/functions/_shared/types.ts."),
});
export type ApiDataOutput = z.infer<typeof ApiDataOutput>;

/** deployment: configuration files, environment, ordered setup steps. */
export const DeploymentOutput = envelope({
  files: z.array(FileArtifact).describe("supabase/config.toml, CI workflows, Dockerfiles, ..."),
  env_vars: z.array(EnvVar),
  steps: z.array(z.string()).describe("Setup and deploy steps in order, as commands or actions."),
});
export type DeploymentOutput = z.infer<typeof DeploymentOutput>;

/** debugger: diagnoses with fixes, as migrations or patched files. */
export const DebuggerOutput = envelope({
  diagnoses: z.array(Diagnosis),
  migrations: migrations.describe("Schema fixes; empty if the fix is not in SQL."),
  files: z.array(FileArtifact).describe("Patched files, whole; empty if none."),
});
export type DebuggerOutput = z.infer<typeof DebuggerOutput>;

/** monitor: checks with alerts, findings, and the SQL that installs them. */
export const MonitorOutput = envelope({
  checks: z.array(MonitoringCheck),
  diagnoses: z.array(Diagnosis).describe("Problems the current figures already show."),
  migrations: migrations.describe("Views, pg_cron jobs or extensions the checks need."),
});
export type MonitorOutput = z.infer<typeof MonitorOutput>;

/** security: RLS, grants and auth fixes as migrations, plus the findings behind them. */
export const SecurityOutput = envelope({
  migrations,
  findings: z.array(SecurityFinding),
});
export type SecurityOutput = z.infer<typeof SecurityOutput>;

/** Each agent's output type. */
export interface AgentOutputs {
  "db-architect": DbArchitectOutput;
  "query-optimizer": QueryOptimizerOutput;
  "edge-functions": EdgeFunctionsOutput;
  websocket: WebsocketOutput;
  "api-data": ApiDataOutput;
  deployment: DeploymentOutput;
  debugger: DebuggerOutput;
  monitor: MonitorOutput;
  security: SecurityOutput;
}

/** Any agent's output. */
export type AgentOutput = AgentOutputs[AgentName];

/** The output schema of each agent, for the LLM call and for re-reading stored outputs. */
export const AGENT_OUTPUT_SCHEMAS = {
  "db-architect": DbArchitectOutput,
  "query-optimizer": QueryOptimizerOutput,
  "edge-functions": EdgeFunctionsOutput,
  websocket: WebsocketOutput,
  "api-data": ApiDataOutput,
  deployment: DeploymentOutput,
  debugger: DebuggerOutput,
  monitor: MonitorOutput,
  security: SecurityOutput,
} as const satisfies Record<AgentName, z.ZodType>;

/** The schema names, as the prompts' front matter `output:` gives them. */
export const AGENT_OUTPUT_SCHEMA_NAMES: Record<AgentName, string> = {
  "db-architect": "DbArchitectOutput",
  "query-optimizer": "QueryOptimizerOutput",
  "edge-functions": "EdgeFunctionsOutput",
  websocket: "WebsocketOutput",
  "api-data": "ApiDataOutput",
  deployment: "DeploymentOutput",
  debugger: "DebuggerOutput",
  monitor: "MonitorOutput",
  security: "SecurityOutput",
};
