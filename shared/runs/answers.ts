/**
 * Checks a user's answers against the questions a run is waiting on, before they are stored: an
 * answer to a question that was not asked, or a required question left out, is the client's
 * mistake (400) and is reported per question. Questions are whatever the understanding phase wrote;
 * only those with a string `id` take part (`required: false` makes one optional).
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
}

function askedQuestions(questions: readonly unknown[]): AskedQuestion[] {
  const asked: AskedQuestion[] = [];
  for (const q of questions) {
    if (typeof q !== "object" || q === null) continue;
    const { id, required } = q as { id?: unknown; required?: unknown };
    if (typeof id === "string") asked.push({ id, required: required !== false });
  }
  return asked;
}

/** What is wrong with `answers` for `questions` (empty when nothing, or when no question has an id). */
export function answerIssues(questions: readonly unknown[], answers: Answers): AnswerIssue[] {
  const asked = askedQuestions(questions);
  if (asked.length === 0) return [];
  const ids = new Set(asked.map((q) => q.id));
  const issues: AnswerIssue[] = [];
  for (const key of Object.keys(answers)) {
    if (!ids.has(key)) {
      issues.push({ location: "body", path: ["answers", key], message: "no such question" });
    }
  }
  for (const q of asked) {
    if (q.required && !Object.hasOwn(answers, q.id)) {
      issues.push({ location: "body", path: ["answers", q.id], message: "is required" });
    }
  }
  return issues;
}
