import assert from "node:assert/strict";
import { validateAnswers } from "./answers.ts";
import type { ClarificationQuestion } from "./schema.ts";

const questions: ClarificationQuestion[] = [
  { id: "target", text: "Which query is slow?", kind: "text", choices: null, required: true },
  {
    id: "scope",
    text: "Which part?",
    kind: "choice",
    choices: ["reads", "writes"],
    required: true,
  },
  { id: "downtime_ok", text: "Downtime allowed?", kind: "boolean", choices: null, required: false },
];

Deno.test("answers that satisfy every question pass", () => {
  assert.deepEqual(
    validateAnswers(questions, { target: "GET /positions", scope: "reads", downtime_ok: false }),
    [],
  );
  assert.deepEqual(validateAnswers(questions, { target: "x", scope: "writes" }), []);
});

Deno.test("each wrong answer is reported against its question", () => {
  const problems = validateAnswers(questions, {
    target: "  ",
    scope: "deletes",
    downtime_ok: "yes",
    extra: "?",
  });
  assert.deepEqual(problems, [
    { question: "extra", message: "no such question was asked" },
    { question: "target", message: "an answer is required" },
    { question: "scope", message: 'expected one of: "reads", "writes"' },
    { question: "downtime_ok", message: "expected true or false" },
  ]);
});
