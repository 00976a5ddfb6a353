/**
 * Turns an agent's structured output into artifact rows — what the run stores and the deliverable
 * assembles — with Supabase CLI paths: `supabase/migrations/<name>.sql` (the timestamp prefix is
 * added at assembly, when the order across tasks is known), `supabase/functions/<fn>/<file>`, and
 * Markdown documents under `docs/`. Several artifacts may be sections of one document
 * (`meta.section = true`, e.g. each endpoint of `docs/api.md`): the assembler concatenates those in
 * order. Pure: same output in, same rows out.
 */
import type { ArtifactKind } from "../runs/artifact.ts";
import type { AgentName } from "../plan/schema.ts";
import type {
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
import type { AgentOutputs } from "./outputs.ts";

/** An artifact row before it has ids and an ordinal. */
export interface ArtifactDraft {
  kind: ArtifactKind;
  path: string;
  content: string;
  /** JSON-serialisable details; always has `agent` and `section` (see the module doc). */
  meta: Record<string, unknown>;
}

/** Every artifact list any agent output can carry. */
interface AnyArtifacts {
  migrations?: Migration[];
  indexes?: IndexRecommendation[];
  queries?: QueryPattern[];
  functions?: EdgeFunction[];
  env_vars?: EnvVar[];
  channels?: RealtimeChannel[];
  files?: FileArtifact[];
  endpoints?: ApiEndpoint[];
  steps?: string[];
  diagnoses?: Diagnosis[];
  checks?: MonitoringCheck[];
  findings?: SecurityFinding[];
}

/** Paths of the shared documents. */
export const DOC_PATHS = {
  policies: "docs/policies.md",
  indexes: "docs/indexes.md",
  queries: "docs/queries.md",
  api: "docs/api.md",
  realtime: "docs/realtime.md",
  setup: "docs/setup.md",
  diagnosis: "docs/diagnosis.md",
  security: "docs/security.md",
} as const;

/**
 * The artifact rows of one agent output, migrations first.
 *
 * @example
 * ```ts
 * const rows = artifactsOf("db-architect", output);
 * rows[0].path; // "supabase/migrations/create_tasks.sql"
 * ```
 */
export function artifactsOf<A extends AgentName>(
  agent: A,
  output: AgentOutputs[A],
): ArtifactDraft[] {
  const a = output.artifacts as AnyArtifacts;
  const out: ArtifactDraft[] = [];
  const file = (kind: ArtifactKind, path: string, content: string, meta: Record<string, unknown>) =>
    out.push({ kind, path, content, meta: { agent, section: false, ...meta } });
  const section = (
    kind: ArtifactKind,
    path: string,
    content: string,
    meta: Record<string, unknown>,
  ) => out.push({ kind, path, content, meta: { agent, section: true, ...meta } });

  for (const m of a.migrations ?? []) {
    file("migration", `supabase/migrations/${m.name}.sql`, m.up_sql, {
      name: m.name,
      description: m.description,
      down_sql: m.down_sql,
    });
  }
  for (const m of a.migrations ?? []) {
    for (const p of m.policies) {
      section("policy", DOC_PATHS.policies, policyMarkdown(p), { migration: m.name, ...p });
    }
  }
  for (const i of a.indexes ?? []) {
    const migration = (a.migrations ?? []).find((m) => m.up_sql.includes(i.name))?.name ?? null;
    section("index", DOC_PATHS.indexes, indexMarkdown(i), { ...i, migration });
  }
  for (const q of a.queries ?? []) {
    section("query", DOC_PATHS.queries, queryMarkdown(q), {
      name: q.name,
      uses_indexes: q.uses_indexes,
    });
  }
  for (const f of a.functions ?? []) {
    // The entry point is index.ts, else the first file; `_shared` is never deployed, so has none.
    const entry = f.function_name.startsWith("_")
      ? null
      : (f.files.find((x) => x.path === "index.ts") ?? f.files[0])?.path;
    for (const part of f.files) {
      file("edge_function", `supabase/functions/${f.function_name}/${part.path}`, part.content, {
        function_name: f.function_name,
        description: f.description,
        verify_jwt: f.verify_jwt,
        env_vars: f.env_vars,
        entrypoint: part.path === entry,
      });
    }
  }
  for (const e of a.endpoints ?? []) {
    section("api_doc", DOC_PATHS.api, endpointMarkdown(e), {
      method: e.method,
      path: e.path,
      kind: e.kind,
    });
  }
  for (const c of a.channels ?? []) {
    section("api_doc", DOC_PATHS.realtime, channelMarkdown(c), {
      topic: c.topic,
      private: c.private,
    });
  }
  for (const f of a.files ?? []) {
    file(fileKind(agent, f.path), f.path, f.content, { description: f.description });
  }
  if ((a.env_vars ?? []).length > 0) {
    section("doc", DOC_PATHS.setup, envMarkdown(a.env_vars ?? []), {
      env_vars: (a.env_vars ?? []).map((v) => ({ name: v.name, secret: v.secret })),
    });
  }
  if ((a.steps ?? []).length > 0) {
    section("doc", DOC_PATHS.setup, stepsMarkdown(a.steps ?? []), { steps: a.steps?.length });
  }
  for (const d of a.diagnoses ?? []) {
    section("diagnosis", DOC_PATHS.diagnosis, diagnosisMarkdown(d), {
      severity: d.severity,
      problem: d.problem,
    });
  }
  for (const c of a.checks ?? []) {
    file("query", `monitoring/${c.name}.sql`, checkSql(c), {
      name: c.name,
      purpose: c.purpose,
      alert_condition: c.alert_condition,
      severity: c.severity,
      schedule: c.schedule,
    });
  }
  for (const f of a.findings ?? []) {
    section("doc", DOC_PATHS.security, findingMarkdown(f), {
      severity: f.severity,
      table: f.table,
    });
  }
  return out;
}

/** The kind of a whole file an agent delivered, by where it lives and who wrote it. */
export function fileKind(agent: AgentName, path: string): ArtifactKind {
  if (/(^|\/)tests?\//.test(path) || /[._-]test\.(ts|sql)$/.test(path)) return "test";
  if (agent === "api-data" && path.endsWith(".ts")) return "types";
  if (path.startsWith("supabase/functions/")) return "edge_function";
  if (path.startsWith("supabase/migrations/")) return "migration";
  if (path.endsWith(".md")) return "doc";
  if (agent === "deployment") return "deploy_config";
  return "other";
}

const fence = (lang: string, text: string) => `\`\`\`${lang}\n${text.trim()}\n\`\`\``;

function policyMarkdown(p: Migration["policies"][number]): string {
  return [
    `### Policy "${p.name}" on ${p.table}`,
    `- command: ${p.command}`,
    `- roles: ${p.roles.join(", ") || "public"}`,
    `- using: ${p.using === null ? "—" : `\`${p.using}\``}`,
    `- with check: ${p.with_check === null ? "—" : `\`${p.with_check}\``}`,
  ].join("\n");
}

function indexMarkdown(i: IndexRecommendation): string {
  return [
    `### Index ${i.name} on ${i.table}`,
    fence("sql", i.statement),
    "Serves:",
    fence("sql", i.serves_query),
    `Expected plan: ${i.expected_plan}`,
  ].join("\n");
}

function queryMarkdown(q: QueryPattern): string {
  const uses = q.uses_indexes.length ? `\nUses: ${q.uses_indexes.join(", ")}` : "";
  return `### ${q.name}\n${q.description}\n${fence("sql", q.sql)}${uses}`;
}

function endpointMarkdown(e: ApiEndpoint): string {
  const errors = e.errors.length === 0
    ? ""
    : "\n\n| status | code | when |\n| --- | --- | --- |\n" +
      e.errors.map((x) => `| ${x.status} | ${x.code} | ${x.when} |`).join("\n");
  return [
    `### ${e.method} ${e.path}`,
    e.description,
    `- kind: ${e.kind}`,
    `- auth: ${e.auth}`,
    "",
    "Request:",
    e.request === null ? "none" : fence("json", e.request),
    "",
    "Response:",
    fence("json", e.response),
  ].join("\n") + errors;
}

function channelMarkdown(c: RealtimeChannel): string {
  const events = c.events.map((e) => `| ${e.name} | ${e.kind} | ${e.direction} |`).join("\n");
  const payloads = c.events.map((e) => `Payload of \`${e.name}\`:\n${fence("json", e.payload)}`);
  return [
    `### Channel \`${c.topic}\` (${c.private ? "private" : "public"})`,
    c.authorization,
    "",
    "| event | kind | direction |\n| --- | --- | --- |",
    events,
    "",
    ...payloads,
  ].join("\n");
}

function envMarkdown(vars: EnvVar[]): string {
  const lines = vars.map((v) =>
    `- \`${v.name}\`${v.secret ? " (secret)" : ""}: ${v.description}` +
    (v.example === null ? "" : ` Example: \`${v.example}\``)
  );
  return `### Environment\n${lines.join("\n")}`;
}

function stepsMarkdown(steps: string[]): string {
  return `### Steps\n${steps.map((s, i) => `${i + 1}. ${s}`).join("\n")}`;
}

function diagnosisMarkdown(d: Diagnosis): string {
  return [
    `### ${d.problem}`,
    `- severity: ${d.severity}`,
    `- cause: ${d.cause}`,
    `- fix: ${d.fix}`,
    d.sql === null ? "" : fence("sql", d.sql),
  ].filter((x) => x !== "").join("\n");
}

function checkSql(c: MonitoringCheck): string {
  const header = [
    `-- ${c.purpose}`,
    `-- severity: ${c.severity}`,
    c.alert_condition === null ? null : `-- alert when: ${c.alert_condition}`,
    c.schedule === null ? null : `-- schedule: ${c.schedule}`,
  ].filter((x) => x !== null);
  return `${header.join("\n")}\n${c.sql.trim()}\n`;
}

function findingMarkdown(f: SecurityFinding): string {
  return [
    `### [${f.severity}] ${f.issue}`,
    f.table === null ? "" : `- table: ${f.table}`,
    `- risk: ${f.risk}`,
    `- fix: ${f.fix}`,
    f.sql === null ? "" : fence("sql", f.sql),
  ].filter((x) => x !== "").join("\n");
}
