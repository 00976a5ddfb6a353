/**
 * Builds the context package for one agent task: the system message (the agent's prompt plus the
 * project's conventions) and the user message (the task, its constraints, the part of the schema
 * it touches, the relevant parts of its dependencies' outputs, the retry findings if any, and the
 * output schema to answer with). Compression is what makes large runs affordable: the prior schema
 * shrinks to a DDL summary of the task's tables and their foreign-key neighbours, and dependency
 * outputs to their summaries plus the artifacts about those tables. Pure apart from using the WASM
 * Postgres parser; no I/O.
 */
import { AppError } from "../errors/mod.ts";
import type { ChatMessage } from "../llm/mod.ts";
import type { AgentName } from "../plan/schema.ts";
import type { Prompt } from "../prompts/mod.ts";
import {
  emptySchema,
  readSql,
  renderSchemaSummary,
  selectTables,
  tableKey,
} from "../schema_summary/mod.ts";
import {
  type DependencyDigest,
  type DependencyOutput,
  type DigestLimits,
  prepareDependencies,
  renderDependencies,
} from "./dependency_digest.ts";
import { AGENT_OUTPUT_SCHEMA_NAMES } from "./outputs.ts";
import {
  type ContractsContext,
  contractsText,
  type RetryContext,
  retryText,
  systemPromptText,
} from "./prompt_text.ts";
import { tableRelevance } from "./relevance.ts";
import { estimateMessageTokens } from "./tokens.ts";

/** The task fields the package uses (a `PlanTask` fits). */
export interface ContextTask {
  id: string;
  title: string;
  input: string;
  output: readonly string[];
  tables: readonly string[];
  depends_on: readonly string[];
}

/** Project-wide context of the run. */
export interface RunContextInput {
  /** The project's schema before this run (DDL), if any. */
  schema_sql?: string | null;
  /** Naming and structure conventions to follow. */
  conventions?: string | null;
  /** The stack, e.g. "Supabase, PostgreSQL 15, Edge Functions (Deno 2)". */
  stack?: string | null;
}

/** Everything a context package is built from. */
export interface ContextPackageRequest {
  agent: AgentName;
  /** The agent's loaded prompt (`loadPrompt("backend/<agent>")`). */
  prompt: Prompt;
  task: ContextTask;
  /** Outputs of the tasks in `task.depends_on`, in dependency (topological) order. */
  dependencyOutputs: readonly DependencyOutput[];
  runContext: RunContextInput;
  /** Task-specific constraints, one per line. */
  constraints: readonly string[];
  /** The run's goal, for orientation. */
  goal?: string | null;
  /** Set when validation sent the previous attempt back. */
  retry?: RetryContext | null;
  /** The plan's contracts the task consumes (and must honour) and produces. */
  contracts?: ContractsContext | null;
  limits?: Partial<DigestLimits>;
}

/** What made it into the package, for logs, events and tests. */
export interface IncludedContext {
  promptVersion: string;
  /** `schema.table` keys shown in full: named by the task or mentioned in its text. */
  tables: string[];
  /** The subset of `tables` found by mention in the task's title or input. */
  mentionedTables: string[];
  /** Tables shown as one line because a focus table references them. */
  fkNeighbours: string[];
  /** Tables the task names that do not exist yet. */
  newTables: string[];
  /** Referenced platform tables, e.g. `auth.users`. */
  externalTables: string[];
  /** Known tables left out. */
  omittedTables: number;
  /** Statements read from the prior schema and dependency migrations, and how many did not parse. */
  schemaStatements: { read: number; skipped: number };
  dependencies: DependencyDigest[];
  conventions: boolean;
  stack: boolean;
  retry: boolean;
  /** Names of the contracts shown: consumed and produced. */
  contracts: { consumes: string[]; produces: string[] };
}

/** The messages for the LLM call and what they cost. */
export interface ContextPackage {
  messages: ChatMessage[];
  /** Estimated tokens (see tokens.ts) of `messages` and of the same package uncompressed. */
  sizes: { tokens: number; uncompressedTokens: number };
  included: IncludedContext;
  /** The structured-output schema name, e.g. `DbArchitectOutput`. */
  schemaName: string;
}

const DEFAULT_LIMITS: DigestLimits = { maxArtifactChars: 1500, maxSummaryChars: 800, maxNotes: 6 };

/**
 * Builds the package for one task.
 *
 * @example
 * ```ts
 * const pkg = await buildContextPackage({
 *   agent: "security",
 *   prompt: await loadPrompt("backend/security"),
 *   task,
 *   dependencyOutputs: [{ key: "T1", agent: "db-architect", output: t1Output }],
 *   runContext: { schema_sql: priorSchema },
 *   constraints: [],
 * });
 * await llm.complete({ schema: AGENT_OUTPUT_SCHEMAS.security, schemaName: pkg.schemaName,
 *   messages: pkg.messages });
 * ```
 */
export async function buildContextPackage(request: ContextPackageRequest): Promise<ContextPackage> {
  const { agent, prompt, task, runContext } = request;
  if (prompt.meta.agent !== agent) {
    throw new AppError(
      "internal",
      `prompt ${prompt.name} is for agent ${prompt.meta.agent}, not ${agent}`,
    );
  }
  const schemaName = AGENT_OUTPUT_SCHEMA_NAMES[agent];
  const limits = { ...DEFAULT_LIMITS, ...request.limits };

  const model = emptySchema();
  if (runContext.schema_sql) await readSql(model, runContext.schema_sql);
  const prepared = await prepareDependencies(model, request.dependencyOutputs);
  const selection = selectTables(model, {
    tables: task.tables,
    text: `${task.title}\n${task.input}`,
  });
  const shown = new Set([...selection.focus, ...selection.neighbours]);
  const focus = [...selection.focus, ...selection.unknown];
  const others = [...model.tables.keys()].filter((k) => !shown.has(k));
  const relevance = tableRelevance(focus, others);

  const system = systemMessage(prompt, runContext);
  const head = [
    taskSection(task, request.constraints, request.goal ?? null),
    contractsText(request.contracts),
  ].filter((s) => s !== null).join("\n\n");
  const tail = closingSection(prompt, request.retry ?? null, schemaName);

  const schemaText = model.tables.size === 0 && model.skipped.length === 0
    ? "No prior schema: this project starts empty."
    : "```sql\n" + await renderSchemaSummary(model, selection) + "\n```";
  const deps = renderDependencies(prepared, relevance, focus, limits);
  const user = [
    head,
    `## Schema this task touches\n${schemaText}`,
    prepared.length > 0 ? `## Outputs of earlier tasks\n${deps.text}` : null,
    tail,
  ].filter((s) => s !== null).join("\n\n");
  const messages: ChatMessage[] = [
    { role: "system", content: system },
    { role: "user", content: user },
  ];

  const uncompressedUser = [
    head,
    `## Schema\n${runContext.schema_sql ?? ""}`,
    `## Outputs of earlier tasks\n${
      request.dependencyOutputs.map((d) =>
        `### ${d.key} (${d.agent})\n${JSON.stringify(d.output, null, 2)}`
      ).join("\n\n")
    }`,
    tail,
  ].join("\n\n");

  return {
    messages,
    sizes: {
      tokens: estimateMessageTokens(messages),
      uncompressedTokens: estimateMessageTokens([
        { content: system },
        { content: uncompressedUser },
      ]),
    },
    included: {
      promptVersion: prompt.version,
      tables: selection.focus,
      mentionedTables: selection.mentioned,
      fkNeighbours: selection.neighbours,
      newTables: selection.unknown,
      externalTables: selection.external,
      omittedTables: model.tables.size - shown.size,
      schemaStatements: { read: model.statementCount, skipped: model.skipped.length },
      dependencies: deps.digests,
      conventions: Boolean(runContext.conventions),
      stack: Boolean(runContext.stack),
      retry: Boolean(request.retry),
      contracts: {
        consumes: (request.contracts?.consumes ?? []).map((c) => c.name),
        produces: (request.contracts?.produces ?? []).map((c) => c.name),
      },
    },
    schemaName,
  };
}

function systemMessage(prompt: Prompt, run: RunContextInput): string {
  const parts = [systemPromptText(prompt)];
  if (run.stack) parts.push(`## Stack\n${run.stack.trim()}`);
  if (run.conventions) parts.push(`## Project conventions\n${run.conventions.trim()}`);
  return parts.join("\n\n");
}

function taskSection(task: ContextTask, constraints: readonly string[], goal: string | null) {
  const lines = [`# Task ${task.id}: ${task.title}`, "", task.input.trim(), ""];
  lines.push(`Expected output: ${task.output.join("; ")}`);
  lines.push(
    `Tables: ${task.tables.length ? task.tables.map(tableKey).join(", ") : "none named"}`,
  );
  if (task.depends_on.length) lines.push(`Depends on: ${task.depends_on.join(", ")}`);
  if (goal) lines.push(`Goal of the run: ${goal.trim()}`);
  if (constraints.length) {
    lines.push("", "## Constraints", ...constraints.map((c) => `- ${c.trim()}`));
  }
  return lines.join("\n");
}

function closingSection(prompt: Prompt, retry: RetryContext | null, schemaName: string) {
  const parts: string[] = [];
  if (retry) parts.push(`## Retry\n${retryText(prompt, retry)}`);
  parts.push(
    `Answer with one JSON object matching the \`${schemaName}\` schema. Put every artifact in ` +
      "its typed list; use empty lists and null where something does not apply.",
  );
  return parts.join("\n\n");
}
