import assert from "node:assert/strict";
import { answerIssues } from "./answers.ts";

const questions = [
  { id: "auth", text: "Email or OAuth?" },
  { id: "teams", text: "Do users belong to teams?", required: false },
];

Deno.test("answers to every required question pass", () => {
  assert.deepEqual(answerIssues(questions, { auth: "email" }), []);
  assert.deepEqual(answerIssues(questions, { auth: "email", teams: true }), []);
});

Deno.test("an answer to a question not asked and a missing required answer are each reported", () => {
  assert.deepEqual(answerIssues(questions, { colour: "blue" }), [
    { location: "body", path: ["answers", "colour"], message: "no such question" },
    { location: "body", path: ["answers", "auth"], message: "is required" },
  ]);
});

Deno.test("inherited object keys do not count as answers", () => {
  assert.deepEqual(answerIssues([{ id: "constructor" }], { other: "x" }).length, 2);
});

Deno.test("questions without ids cannot be checked and are left to the database", () => {
  assert.deepEqual(answerIssues(["free text question"], { anything: "x" }), []);
});

Deno.test("typed questions check their answers: choices offered, yes/no, text, blank required", () => {
  const typed = [
    { id: "target", text: "Which query is slow?", kind: "text", choices: null, required: true },
    { id: "scope", text: "Which part?", kind: "choice", choices: ["reads", "writes"] },
    { id: "downtime_ok", text: "Downtime allowed?", kind: "boolean", required: false },
  ];
  assert.deepEqual(answerIssues(typed, { target: "GET /positions", scope: "reads" }), []);
  assert.deepEqual(
    answerIssues(typed, { target: "  ", scope: "deletes", downtime_ok: "yes" }).map((i) => [
      i.path[1],
      i.message,
    ]),
    [
      ["target", "is required"],
      ["scope", 'expected one of: "reads", "writes"'],
      ["downtime_ok", "expected true or false"],
    ],
  );
});
