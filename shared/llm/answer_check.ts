/**
 * Decides whether a model's answer is usable and, when it is not, says exactly why in words the
 * model can act on. Endpoints differ in how well they enforce a JSON schema (some ignore it), so
 * every answer is parsed here with zod whatever the endpoint promised; the reason for a rejection
 * becomes the follow-up message of the re-ask.
 *
 * @example
 * ```ts
 * const check = checkAnswer(Plan, { content, refusal: null, finishReason: "stop" });
 * if (!check.ok) messages.push(...reaskMessages(check, "plan"));
 * ```
 */
import type { z } from "zod";
import { renderTemplate } from "../prompts/mod.ts";
import type { ChatMessage } from "./port.ts";

/** The parts of a chat completion choice that decide whether it is usable. */
export interface ModelAnswer {
  content: string | null;
  refusal: string | null;
  finishReason: string | null;
}

/** Why an answer was rejected. */
export type RejectionKind =
  | "refusal"
  | "empty"
  | "truncated"
  | "malformed_json"
  | "schema_mismatch";

/** A rejected answer: what was wrong, and what the model said (echoed back when re-asking). */
export interface RejectedAnswer {
  ok: false;
  kind: RejectionKind;
  /** One line, or a list of schema issues, naming exactly what is wrong. */
  problem: string;
  /** The model's own text (content or refusal), empty when it said nothing. */
  said: string;
}

/** The outcome of {@link checkAnswer}. */
export type AnswerCheck<T> = { ok: true; value: T } | RejectedAnswer;

/** At most this many schema issues are listed, so a re-ask prompt stays bounded. */
const MAX_LISTED_ISSUES = 20;

/** Parses and validates an answer against `schema`. Pure. */
export function checkAnswer<S extends z.ZodType>(
  schema: S,
  answer: ModelAnswer,
): AnswerCheck<z.output<S>> {
  if (answer.refusal) {
    return reject("refusal", `you refused to answer: "${answer.refusal}"`, answer.refusal);
  }
  const said = answer.content ?? "";
  if (answer.finishReason === "content_filter") {
    return reject("refusal", "the answer was stopped by the content filter", said);
  }
  if (answer.finishReason === "length") {
    return reject(
      "truncated",
      "the answer was cut off at the output token limit before the JSON was complete; answer more briefly",
      said,
    );
  }
  const text = withoutCodeFence(said.trim());
  if (text === "") return reject("empty", "the answer was empty", said);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    const embedded = embeddedJson(text);
    if (embedded === undefined) {
      const reason = e instanceof Error ? e.message : String(e);
      return reject("malformed_json", `the answer is not valid JSON (${reason})`, said);
    }
    json = embedded;
  }
  const parsed = schema.safeParse(json);
  if (parsed.success) return { ok: true, value: parsed.data };
  return reject(
    "schema_mismatch",
    `the answer does not match the schema:\n${describeIssues(parsed.error.issues)}`,
    said,
  );
}

/** The default follow-up after a rejected answer. Placeholders: `problem`, `schema_name`. */
export const DEFAULT_REASK_TEMPLATE =
  "Your previous answer was rejected: {{problem}}\n\nAnswer again with only a JSON object that matches the `{{schema_name}}` schema.";

/**
 * The messages that re-ask after `rejected`: the model's own answer (when it said anything), then a
 * user message stating what was wrong.
 */
export function reaskMessages(
  rejected: RejectedAnswer,
  schemaName: string,
  template: string = DEFAULT_REASK_TEMPLATE,
): ChatMessage[] {
  const followUp: ChatMessage = {
    role: "user",
    content: renderTemplate(template, { problem: rejected.problem, schema_name: schemaName }),
  };
  return rejected.said === ""
    ? [followUp]
    : [{ role: "assistant", content: rejected.said }, followUp];
}

/** Each issue as `- <path>: <message>`, the path written like `tasks[0].id`. */
export function describeIssues(issues: readonly z.core.$ZodIssue[]): string {
  const lines = issues.slice(0, MAX_LISTED_ISSUES).map((issue) => {
    const where = formatPath(issue.path);
    const detail = issue.code === "unrecognized_keys"
      ? `unknown field(s) ${issue.keys.map((k) => `"${k}"`).join(", ")}`
      : issue.message;
    return `- ${where}: ${detail}`;
  });
  if (issues.length > MAX_LISTED_ISSUES) {
    lines.push(`- … and ${issues.length - MAX_LISTED_ISSUES} more`);
  }
  return lines.join("\n");
}

function formatPath(path: readonly PropertyKey[]): string {
  if (path.length === 0) return "(the whole answer)";
  let out = "";
  for (const key of path) {
    if (typeof key === "number") out += `[${key}]`;
    else out += out === "" ? String(key) : `.${String(key)}`;
  }
  return out;
}

/** Some endpoints wrap JSON in a Markdown fence even when asked for a JSON schema. */
function withoutCodeFence(text: string): string {
  const fenced = /^```[a-zA-Z]*\n([\s\S]*?)\n?```$/.exec(text);
  return fenced ? fenced[1].trim() : text;
}

/**
 * JSON inside prose, as models without a JSON mode answer ("Here is the plan:\n```json …```" or
 * "Sure! {…}"): a fenced block anywhere, else the span from the first `{` to the last `}`. Only
 * an object counts, and only when it parses whole; the schema still decides if it is an answer.
 */
function embeddedJson(text: string): unknown {
  const fenced = /```[a-zA-Z]*[ \t]*\n([\s\S]*?)\n?```/.exec(text);
  const candidates = [fenced?.[1]];
  const start = text.indexOf("{");
  const end = text.lastIndexOf("}");
  if (start >= 0 && end > start) candidates.push(text.slice(start, end + 1));
  for (const candidate of candidates) {
    if (candidate === undefined) continue;
    try {
      const value: unknown = JSON.parse(candidate.trim());
      if (value !== null && typeof value === "object" && !Array.isArray(value)) return value;
    } catch {
      // Not this one.
    }
  }
  return undefined;
}

function reject(kind: RejectionKind, problem: string, said: string): RejectedAnswer {
  return { ok: false, kind, problem, said };
}
