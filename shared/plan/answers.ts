/**
 * Checks a user's answers against the typed questions the orchestrator asked: every required
 * question answered, choices from the offered list, booleans where a yes/no was asked, no answers
 * to questions nobody asked. Pure; the API turns the problems into a 400 with details.
 */
import type { Answers, ClarificationQuestion } from "./schema.ts";

/** One problem with one answer. */
export interface AnswerProblem {
  question: string;
  message: string;
}

/** Problems with `answers`; empty when they satisfy `questions`. */
export function validateAnswers(
  questions: readonly ClarificationQuestion[],
  answers: Answers,
): AnswerProblem[] {
  const problems: AnswerProblem[] = [];
  const byId = new Map(questions.map((q) => [q.id, q]));
  for (const id of Object.keys(answers)) {
    if (!byId.has(id)) problems.push({ question: id, message: "no such question was asked" });
  }
  for (const q of questions) {
    const a = answers[q.id];
    if (a === undefined || (typeof a === "string" && a.trim() === "")) {
      if (q.required) problems.push({ question: q.id, message: "an answer is required" });
      continue;
    }
    switch (q.kind) {
      case "boolean":
        if (typeof a !== "boolean") {
          problems.push({ question: q.id, message: "expected true or false" });
        }
        break;
      case "choice":
        if (typeof a !== "string" || !(q.choices ?? []).includes(a)) {
          problems.push({
            question: q.id,
            message: `expected one of: ${
              (q.choices ?? []).map((c) => JSON.stringify(c)).join(", ")
            }`,
          });
        }
        break;
      case "text":
        if (typeof a !== "string") problems.push({ question: q.id, message: "expected text" });
        break;
    }
  }
  return problems;
}
