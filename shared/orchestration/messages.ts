/**
 * The conversations of the orchestrator's first phases, built from `prompts/orchestrator.md`: the
 * preamble plus the phase's section as system prompt, and the run's request, project context and
 * answers (and, for planning, the understanding) as the user message. Pure, so what the model is
 * told can be tested without a model.
 *
 * @example
 * ```ts
 * const prompt = await loadPrompt("orchestrator");
 * const messages = understandMessages(prompt, run);
 * ```
 */
import type { ChatMessage } from "../llm/mod.ts";
import type { Prompt } from "../prompts/mod.ts";
import type { Understanding } from "../plan/schema.ts";
import type { RunRecord } from "../runs/mod.ts";

/**
 * What the phases read of a run (its record's request and context, and — when the run was
 * clarified — the questions asked earlier and the user's answers).
 */
export type RunBrief =
  & Pick<RunRecord, "request" | "context">
  & Partial<Pick<RunRecord, "clarification">>;

// The project's schema can be long; the planner needs its shape, not every statement.
const MAX_SCHEMA_CHARS = 12_000;

function preamble(prompt: Prompt): string {
  return prompt.body.split(/^## /m, 1)[0].trim();
}

function section(prompt: Prompt, name: string): string {
  const text = prompt.sections[name];
  if (!text) throw new Error(`prompt ${prompt.name} has no "## ${name}" section`);
  return text;
}

function briefText(run: RunBrief): string {
  const parts = [`Request:\n${run.request}`];
  const { schema_sql, conventions, stack } = run.context;
  if (schema_sql) {
    const shown = schema_sql.length > MAX_SCHEMA_CHARS
      ? `${schema_sql.slice(0, MAX_SCHEMA_CHARS)}\n-- … (${
        schema_sql.length - MAX_SCHEMA_CHARS
      } more characters)`
      : schema_sql;
    parts.push(`Current schema (SQL):\n${shown}`);
  }
  if (conventions) parts.push(`Project conventions:\n${conventions}`);
  if (stack) parts.push(`Client stack: ${stack}`);
  const answers = run.clarification?.answers;
  if (answers && Object.keys(answers).length > 0) {
    const asked = new Map<string, string>();
    for (const q of run.clarification?.questions ?? []) {
      const { id, text } = (q ?? {}) as { id?: unknown; text?: unknown };
      if (typeof id === "string" && typeof text === "string") asked.set(id, text);
    }
    const lines = Object.entries(answers).map(([id, answer]) =>
      `- ${asked.get(id) ?? id}: ${JSON.stringify(answer)}`
    );
    parts.push(`The user answered your questions:\n${lines.join("\n")}`);
  }
  return parts.join("\n\n");
}

/** Phase 1: understand the request. */
export function understandMessages(prompt: Prompt, run: RunBrief): ChatMessage[] {
  return [
    {
      role: "system",
      content: `${preamble(prompt)}\n\n## Understand\n\n${section(prompt, "Understand")}`,
    },
    { role: "user", content: briefText(run) },
  ];
}

/** Phases 2–3: decompose and plan, given what was understood. */
export function planMessages(
  prompt: Prompt,
  run: RunBrief,
  understanding: Understanding,
): ChatMessage[] {
  return [
    { role: "system", content: `${preamble(prompt)}\n\n## Plan\n\n${section(prompt, "Plan")}` },
    {
      role: "user",
      content: `${briefText(run)}\n\nWhat you understood:\n${
        JSON.stringify(understanding, null, 2)
      }`,
    },
  ];
}

/** The follow-up when a plan was well-formed but not valid: the exact problems to fix. */
export function planFixMessages(planJson: string, problems: readonly string[]): ChatMessage[] {
  return [
    { role: "assistant", content: planJson },
    {
      role: "user",
      content: `That plan cannot run. Fix exactly these problems and answer with the whole ` +
        `corrected plan:\n${problems.map((p) => `- ${p}`).join("\n")}`,
    },
  ];
}
