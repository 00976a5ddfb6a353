/**
 * Checks a user's answers against the questions a run is waiting on, before they are stored: an
 * answer to a question that was not asked, a required question left out or blank, a choice that
 * was not offered, or text where a yes/no was asked is the client's mistake (400), reported per
 * question. Questions are what the understanding phase (or an escalation) wrote; only those with a
 * string `id` take part, `required: false` makes one optional, and a `kind` of `text`, `choice`
 * (with `choices`) or `boolean` types its answer.
 *
 * @example
 * ```ts
 * answerIssues([{ id: "auth", text: "Email or OAuth?" }], { auth: "email" }); // []
 * ```
 */
import type { Answers } from "./run.ts";

/** One problem with the answers, in the error `details` shape. */
export interface AnswerIssue {
  location: "body";
  path: (string | number)[];
  message: string;
}

interface AskedQuestion {
  id: string;
  required: boolean;
  kind?: "text" | "choice" | "boolean";
  choices?: string[];
}

function askedQuestions(questions: readonly unknown[]): AskedQuestion[] {
  const asked: AskedQuestion[] = [];
  for (const q of questions) {
    if (typeof q !== "object" || q === null) continue;
    const { id, required, kind, choices } = q as Record<string, unknown>;
    if (typeof id !== "string") continue;
    asked.push({
      id,
      required: required !== false,
      kind: kind === "text" || kind === "choice" || kind === "boolean" ? kind : undefined,
      choices: Array.isArray(choices) ? choices.filter((c) => typeof c === "string") : undefined,
    });
  }
  return asked;
}

function typeProblem(q: AskedQuestion, answer: unknown): string | undefined {
  switch (q.kind) {
    case "boolean":
      return typeof answer === "boolean" ? undefined : "expected true or false";
    case "choice":
      return typeof answer === "string" && (q.choices ?? []).includes(answer)
        ? undefined
        : `expected one of: ${(q.choices ?? []).map((c) => JSON.stringify(c)).join(", ")}`;
    case "text":
      return typeof answer === "string" ? undefined : "expected text";
    default:
      return undefined;
  }
}

/** What is wrong with `answers` for `questions` (empty when nothing, or when no question has an id). */
export function answerIssues(questions: readonly unknown[], answers: Answers): AnswerIssue[] {
  const asked = askedQuestions(questions);
  if (asked.length === 0) return [];
  const ids = new Set(asked.map((q) => q.id));
  const issues: AnswerIssue[] = [];
  const issue = (id: string, message: string) =>
    issues.push({ location: "body", path: ["answers", id], message });
  for (const key of Object.keys(answers)) {
    if (!ids.has(key)) issue(key, "no such question");
  }
  for (const q of asked) {
    const given = Object.hasOwn(answers, q.id) ? answers[q.id] : undefined;
    const blank = given === undefined || (typeof given === "string" && given.trim() === "");
    if (blank) {
      if (q.required) issue(q.id, "is required");
      continue;
    }
    const problem = typeProblem(q, given);
    if (problem) issue(q.id, problem);
  }
  return issues;
}
