/**
 * The typed pieces agents deliver (migrations with their policies, indexes with the query they
 * serve, edge function files, API endpoints, deploy files, diagnoses, monitoring checks, security
 * findings, realtime channels), shared by the nine output contracts. They are LLM structured-output
 * schemas: every key is required (`.nullable()` stands for "absent"), SQL and code are plain
 * strings, and constraints the JSON schema cannot carry portably (relative paths, integers) are zod
 * refinements checked after the answer arrives.
 */
import { z } from "zod";

/** A snake_case name: migrations, queries, checks. */
export const SnakeName = z.string().regex(/^[a-z][a-z0-9_]*$/);

/** A path relative to the project root (or function folder): no leading `/`, no `..`. */
export const RelativePath = z.string().regex(/^[A-Za-z0-9._][A-Za-z0-9._/-]*$/).refine(
  (p) => !p.split("/").includes(".."),
  "must not contain '..'",
);

/** A policy the migration's `up_sql` creates, restated for documentation and review. */
export const PolicyDoc = z.object({
  name: z.string().describe("Policy name exactly as in the SQL."),
  table: z.string().describe("Schema-qualified table, e.g. public.tasks."),
  command: z.enum(["select", "insert", "update", "delete", "all"]),
  roles: z.array(z.string()).describe("Roles in the `to` clause, e.g. ['authenticated']."),
  using: z.string().nullable().describe("The USING expression, or null (insert policies)."),
  with_check: z.string().nullable().describe("The WITH CHECK expression, or null."),
});
export type PolicyDoc = z.infer<typeof PolicyDoc>;

/** One migration: a coherent change with its exact inverse. */
export const Migration = z.object({
  name: SnakeName.describe(
    "snake_case, without a timestamp (assigned at assembly), e.g. create_tasks.",
  ),
  description: z.string().describe("One or two sentences: what the migration changes and why."),
  up_sql: z.string().describe("The migration, lowercase SQL, statements ending in ';'."),
  down_sql: z.string().describe("SQL that restores the schema exactly as it was before up_sql."),
  policies: z.array(PolicyDoc).describe("Every policy up_sql creates; empty when none."),
});
export type Migration = z.infer<typeof Migration>;

/** An index and the query it exists for. */
export const IndexRecommendation = z.object({
  name: z.string().describe("Index name as in the statement."),
  table: z.string().describe("Schema-qualified table."),
  statement: z.string().describe("The full `create index ...` statement (also in a migration)."),
  serves_query: z.string().describe("The query text this index makes fast, with $1-style params."),
  expected_plan: z.string().describe("What EXPLAIN should show, e.g. 'Index Scan using ...'."),
});
export type IndexRecommendation = z.infer<typeof IndexRecommendation>;

/** A query shape an agent wrote or rewrote. */
export const QueryPattern = z.object({
  name: SnakeName,
  description: z.string(),
  sql: z.string().describe("The query, with $1-style parameters."),
  uses_indexes: z.array(z.string()).describe("Index names the plan should use."),
});
export type QueryPattern = z.infer<typeof QueryPattern>;

/** A file inside one edge function's folder. */
export const EdgeFunctionFile = z.object({
  path: RelativePath.describe("Path inside the function folder, e.g. index.ts or deno.json."),
  content: z.string(),
});

/** One Supabase Edge Function (`supabase/functions/<function_name>/`). */
export const EdgeFunction = z.object({
  function_name: z.string().regex(/^_?[a-z][a-z0-9_-]*$/).describe(
    "Folder name; `_shared` holds code imported by several functions and is not deployed.",
  ),
  description: z.string(),
  verify_jwt: z.boolean().describe("config.toml verify_jwt: true unless called by cron/webhooks."),
  env_vars: z.array(z.string()).describe("Environment variables the function reads."),
  files: z.array(EdgeFunctionFile).describe("index.ts first; deno.json when it imports packages."),
});
export type EdgeFunction = z.infer<typeof EdgeFunction>;

/** One endpoint of the API contract. */
export const ApiEndpoint = z.object({
  method: z.enum(["GET", "POST", "PUT", "PATCH", "DELETE"]),
  path: z.string().describe(
    "e.g. /rest/v1/tasks, /rest/v1/rpc/complete_task, /functions/v1/export.",
  ),
  kind: z.enum(["postgrest", "rpc", "edge_function"]),
  description: z.string(),
  auth: z.string().describe("Who may call it and what RLS lets them see."),
  request: z.string().nullable().describe(
    "JSON Schema (as text) of the body or query; null if none.",
  ),
  response: z.string().describe("JSON Schema (as text) of a successful response body."),
  errors: z.array(z.object({
    status: z.number().refine(Number.isInteger, "must be an integer").describe("HTTP status."),
    code: z.string(),
    when: z.string(),
  })),
});
export type ApiEndpoint = z.infer<typeof ApiEndpoint>;

/** A whole file (deploy config, shared types, client snippet, patched source). */
export const FileArtifact = z.object({
  path: RelativePath.describe("Path from the project root, e.g. supabase/config.toml."),
  content: z.string(),
  description: z.string(),
});
export type FileArtifact = z.infer<typeof FileArtifact>;

/** An environment variable the result needs. */
export const EnvVar = z.object({
  name: z.string().regex(/^[A-Z][A-Z0-9_]*$/),
  description: z.string(),
  secret: z.boolean().describe("True for keys and passwords (set with `supabase secrets set`)."),
  example: z.string().nullable().describe("A non-secret example value, or null."),
});
export type EnvVar = z.infer<typeof EnvVar>;

/** What went wrong, why, and the fix. */
export const Diagnosis = z.object({
  problem: z.string().describe("The symptom as observed (error text, slow query, failed build)."),
  cause: z.string().describe("The root cause, with the evidence that shows it."),
  fix: z.string().describe("The change that removes the cause."),
  sql: z.string().nullable().describe("SQL that applies or verifies the fix, or null."),
  severity: z.enum(["critical", "high", "medium", "low"]),
});
export type Diagnosis = z.infer<typeof Diagnosis>;

/** A monitoring query and the alert built on it. */
export const MonitoringCheck = z.object({
  name: SnakeName,
  purpose: z.string(),
  sql: z.string().describe("A read-only query returning the measured value(s)."),
  alert_condition: z.string().nullable().describe("When to alert, e.g. 'p95_ms > 500'; or null."),
  severity: z.enum(["info", "warning", "critical"]),
  schedule: z.string().nullable().describe("pg_cron schedule, e.g. '*/5 * * * *'; or null."),
});
export type MonitoringCheck = z.infer<typeof MonitoringCheck>;

/** A security problem found in the schema, policies or code. */
export const SecurityFinding = z.object({
  severity: z.enum(["critical", "high", "medium", "low", "info"]),
  table: z.string().nullable().describe("Schema-qualified table concerned, or null."),
  issue: z.string(),
  risk: z.string().describe("What an attacker or another tenant could do."),
  fix: z.string(),
  sql: z.string().nullable().describe("SQL of the fix (also in a migration), or null."),
});
export type SecurityFinding = z.infer<typeof SecurityFinding>;

/** One Realtime channel and the messages on it. */
export const RealtimeChannel = z.object({
  topic: z.string().describe("Topic pattern, e.g. project:<project_id>."),
  private: z.boolean().describe("Private channels are authorized by RLS on realtime.messages."),
  events: z.array(z.object({
    name: z.string(),
    kind: z.enum(["broadcast", "presence", "postgres_changes"]),
    direction: z.enum(["server_to_client", "client_to_server", "both"]),
    payload: z.string().describe("JSON Schema (as text) of the payload."),
  })),
  authorization: z.string().describe("Who may join and send, and which policy enforces it."),
});
export type RealtimeChannel = z.infer<typeof RealtimeChannel>;
