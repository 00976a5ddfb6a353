/**
 * Compresses the outputs of a task's dependencies. Their migrations are folded into the schema
 * model (so they appear in the DDL summary, not twice); what remains is each dependency's summary
 * and notes without the sentences about unrelated tables, and only the artifacts that concern the
 * task's tables or no table at all, each cut to a short excerpt or a one-line pattern.
 */
import type { AgentName } from "../plan/schema.ts";
import { readSql, type SchemaModel } from "../schema_summary/mod.ts";
import { type ArtifactDraft, artifactsOf } from "./artifacts_of.ts";
import { AGENT_OUTPUT_SCHEMAS, type AgentOutputs } from "./outputs.ts";
import type { TableRelevance } from "./relevance.ts";

/** An earlier task's output as the lead hands it over. */
export interface DependencyOutput {
  /** Task key, e.g. `T1`. */
  key: string;
  agent: AgentName;
  /** The stored output; re-validated against the agent's schema here. */
  output: unknown;
}

/** A dependency after its migrations were read into the schema model. */
export interface PreparedDependency {
  key: string;
  agent: AgentName;
  /** False when `output` did not match the agent's schema (only a summary can be shown then). */
  valid: boolean;
  summary: string;
  notes: string[];
  assumptions: string[];
  drafts: ArtifactDraft[];
  /** Migration name → tables it touched. */
  migrationTables: Map<string, string[]>;
}

/** How much of each dependency is kept. */
export interface DigestLimits {
  /** Longest excerpt of one artifact (characters). */
  maxArtifactChars: number;
  /** Longest summary of one dependency (characters). */
  maxSummaryChars: number;
  /** Most notes / assumptions kept per dependency. */
  maxNotes: number;
}

/** What the digest kept, per dependency. */
export interface DependencyDigest {
  key: string;
  agent: AgentName;
  valid: boolean;
  artifactsIncluded: number;
  artifactsOmitted: number;
}

/** Validates each output and applies its migrations to `model`, in the order given. */
export async function prepareDependencies(
  model: SchemaModel,
  dependencies: readonly DependencyOutput[],
): Promise<PreparedDependency[]> {
  const out: PreparedDependency[] = [];
  for (const dep of dependencies) {
    const parsed = AGENT_OUTPUT_SCHEMAS[dep.agent].safeParse(dep.output);
    if (!parsed.success) {
      out.push({
        key: dep.key,
        agent: dep.agent,
        valid: false,
        summary: summaryOf(dep.output),
        notes: [],
        assumptions: [],
        drafts: [],
        migrationTables: new Map(),
      });
      continue;
    }
    const value = parsed.data as AgentOutputs[AgentName];
    const drafts = artifactsOf(dep.agent, value);
    const migrationTables = new Map<string, string[]>();
    for (const d of drafts.filter((d) => d.kind === "migration")) {
      const read = await readSql(model, d.content);
      migrationTables.set(String(d.meta.name ?? d.path), read.touched);
    }
    out.push({
      key: dep.key,
      agent: dep.agent,
      valid: true,
      summary: value.summary,
      notes: value.notes,
      assumptions: value.assumptions,
      drafts,
      migrationTables,
    });
  }
  return out;
}

function summaryOf(output: unknown): string {
  if (output && typeof output === "object" && "summary" in output) {
    const s = (output as { summary: unknown }).summary;
    if (typeof s === "string") return s;
  }
  return "";
}

/** Renders the kept parts of each dependency as Markdown, and counts what was kept. */
export function renderDependencies(
  prepared: readonly PreparedDependency[],
  relevance: TableRelevance,
  focusTables: readonly string[],
  limits: DigestLimits,
): { text: string; digests: DependencyDigest[] } {
  const blocks: string[] = [];
  const digests: DependencyDigest[] = [];
  for (const dep of prepared) {
    const lines = [`### ${dep.key} (${dep.agent})`];
    const summary = cut(relevance.filterSentences(dep.summary), limits.maxSummaryChars);
    if (summary) lines.push(summary);
    if (!dep.valid) lines.push("(its stored output did not match its schema; summary only)");
    let included = 0;
    let omitted = 0;
    const kept: string[] = [];
    for (const draft of dep.drafts) {
      const shown = renderDraft(draft, dep, relevance, focusTables, limits);
      if (shown === null) omitted++;
      else if (shown !== "") {
        included++;
        kept.push(shown);
      }
    }
    if (kept.length > 0) lines.push("", "Artifacts that concern this task:", ...kept);
    if (omitted > 0) lines.push(`(${omitted} artifact(s) about other tables omitted)`);
    const notes = [...dep.notes, ...dep.assumptions.map((a) => `assumed: ${a}`)]
      .map((n) => relevance.filterSentences(n)).filter((n) => n !== "").slice(0, limits.maxNotes);
    if (notes.length > 0) lines.push("", "Notes:", ...notes.map((n) => `- ${cut(n, 300)}`));
    blocks.push(lines.join("\n"));
    digests.push({
      key: dep.key,
      agent: dep.agent,
      valid: dep.valid,
      artifactsIncluded: included,
      artifactsOmitted: omitted,
    });
  }
  return { text: blocks.join("\n\n"), digests };
}

// null: omitted as unrelated; "": left out because the schema summary already shows it.
function renderDraft(
  d: ArtifactDraft,
  dep: PreparedDependency,
  relevance: TableRelevance,
  focusTables: readonly string[],
  limits: DigestLimits,
): string | null {
  // Prose written about several tables keeps only its sentences about the task's tables.
  const prose = (value: unknown) => relevance.filterSentences(String(value ?? ""));
  if (d.kind === "policy") return "";
  if (d.kind === "migration") {
    const name = String(d.meta.name ?? d.path);
    const touched = dep.migrationTables.get(name) ?? [];
    if (!touched.some((t) => focusTables.includes(t))) return null;
    return `- migration \`${name}\` (already in the schema above): ${prose(d.meta.description)}`
      .trimEnd();
  }
  const verdict = relevance.classify(`${d.path}\n${d.content}\n${JSON.stringify(d.meta)}`);
  if (verdict === "unrelated") return null;
  if (d.kind === "index") {
    return `- index \`${d.meta.name}\` on ${d.meta.table} serves: ${
      cut(String(d.meta.serves_query ?? ""), 300)
    }`;
  }
  const head = d.kind === "edge_function"
    ? `- \`${d.path}\` (verify_jwt: ${d.meta.verify_jwt}): ${prose(d.meta.description)}`
    : `- ${d.kind} \`${d.path}\`:`;
  const lang = CODE_LANGUAGES[d.path.split(".").pop() ?? ""];
  const body = lang === undefined
    ? indent(cutLines(d.content, limits.maxArtifactChars), "  ")
    : excerpt(d.content, relevance, limits.maxArtifactChars, lang);
  return `${head}\n${body}`;
}

const CODE_LANGUAGES: Record<string, string> = {
  ts: "ts",
  js: "js",
  sql: "sql",
  toml: "toml",
  yml: "yaml",
  yaml: "yaml",
  json: "json",
};

/**
 * Short content in full; long content as a pattern: the lines that concern the focus tables first,
 * then the opening lines as far as the budget allows, with a note of what was left out.
 */
function excerpt(content: string, relevance: TableRelevance, max: number, lang: string): string {
  const body = content.length <= max ? content.trim() : patternOf(content, relevance, max);
  return indent(`\`\`\`${lang}\n${body}\n\`\`\``, "  ");
}

function patternOf(content: string, relevance: TableRelevance, max: number): string {
  const lines = content.split("\n");
  const wanted = [
    ...lines.map((line, i) => relevance.classify(line) === "relevant" ? i : -1).filter((i) =>
      i >= 0
    ),
    ...lines.slice(0, 6).map((_, i) => i),
  ];
  const keep = new Set<number>();
  let used = 0;
  for (const i of wanted) {
    if (keep.has(i) || used + lines[i].length + 1 > max) continue;
    keep.add(i);
    used += lines[i].length + 1;
  }
  const out: string[] = [];
  let last = -1;
  for (const i of [...keep].sort((a, b) => a - b)) {
    if (i !== last + 1) out.push("// …");
    out.push(lines[i]);
    last = i;
  }
  out.push(`// … (${content.length} characters in full; showing the lines that concern this task)`);
  return out.join("\n");
}

function cutLines(text: string, max: number): string {
  const t = text.trim();
  return t.length <= max ? t : `${t.slice(0, max)}\n… (truncated; ${t.length} characters in full)`;
}

function cut(text: string, max: number): string {
  const flat = text.replace(/\s+/g, " ").trim();
  return flat.length <= max ? flat : `${flat.slice(0, max - 1)}…`;
}

function indent(text: string, prefix: string): string {
  return text.split("\n").map((l) => prefix + l).join("\n");
}
