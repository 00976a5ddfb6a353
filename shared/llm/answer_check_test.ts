import assert from "node:assert/strict";
import { z } from "zod";
import { checkAnswer, reaskMessages } from "./answer_check.ts";

const Task = z.object({
  id: z.string().regex(/^T[0-9]+$/, "task ids look like T1, T2, …"),
  depends_on: z.array(z.string()),
});
const Answer = z.object({ tasks: z.array(Task).min(1) });

const stop = (content: string | null) => ({ content, refusal: null, finishReason: "stop" });

Deno.test("a valid JSON answer is parsed by the schema", () => {
  const check = checkAnswer(Answer, stop('{"tasks":[{"id":"T1","depends_on":[]}]}'));
  assert.deepEqual(check, { ok: true, value: { tasks: [{ id: "T1", depends_on: [] }] } });
});

Deno.test("an answer wrapped in a Markdown code fence is still read", () => {
  const check = checkAnswer(Answer, stop('```json\n{"tasks":[{"id":"T1","depends_on":[]}]}\n```'));
  assert.ok(check.ok);
});

Deno.test("schema issues are listed one per line with the path where they are", () => {
  const check = checkAnswer(Answer, stop('{"tasks":[{"id":"one","depends_on":"T0"}]}'));
  assert.ok(!check.ok);
  assert.equal(check.kind, "schema_mismatch");
  assert.equal(
    check.problem,
    "the answer does not match the schema:\n" +
      "- tasks[0].id: task ids look like T1, T2, …\n" +
      "- tasks[0].depends_on: Invalid input: expected array, received string",
  );
});

Deno.test("a wrong top-level type is reported against the whole answer", () => {
  const check = checkAnswer(Answer, stop("[1, 2]"));
  assert.ok(!check.ok);
  assert.match(check.problem, /- \(the whole answer\): Invalid input: expected object/);
});

Deno.test("a long list of issues is cut so the re-ask prompt stays bounded", () => {
  const tasks = Array.from({ length: 30 }, () => ({ id: "x", depends_on: [] }));
  const check = checkAnswer(Answer, stop(JSON.stringify({ tasks })));
  assert.ok(!check.ok);
  assert.equal(check.problem.split("\n").filter((l) => l.startsWith("- ")).length, 21);
  assert.match(check.problem, /- … and 10 more$/);
});

Deno.test("malformed JSON, an empty answer, a refusal and a cut-off answer are each named", () => {
  const malformed = checkAnswer(Answer, stop('{"tasks": ['));
  assert.ok(!malformed.ok && malformed.kind === "malformed_json");
  assert.match(malformed.problem, /^the answer is not valid JSON \(/);

  const empty = checkAnswer(Answer, stop("  "));
  assert.ok(!empty.ok && empty.kind === "empty");

  const refused = checkAnswer(Answer, { content: null, refusal: "No.", finishReason: "stop" });
  assert.ok(!refused.ok && refused.kind === "refusal");
  assert.equal(refused.problem, 'you refused to answer: "No."');
  assert.equal(refused.said, "No.");

  const cut = checkAnswer(Answer, { content: '{"tasks":[', refusal: null, finishReason: "length" });
  assert.ok(!cut.ok && cut.kind === "truncated");

  const filtered = checkAnswer(Answer, {
    content: "",
    refusal: null,
    finishReason: "content_filter",
  });
  assert.ok(!filtered.ok && filtered.kind === "refusal");
});

Deno.test("a re-ask echoes the model's answer, then states what was wrong", () => {
  const check = checkAnswer(Answer, stop("{oops"));
  assert.ok(!check.ok);
  const [echo, followUp] = reaskMessages(check, "plan");
  assert.deepEqual(echo, { role: "assistant", content: "{oops" });
  assert.equal(followUp.role, "user");
  assert.ok(followUp.content.includes(check.problem));
  assert.match(followUp.content, /matches the `plan` schema/);
});

Deno.test("a re-ask after an empty answer has no empty assistant message", () => {
  const check = checkAnswer(Answer, stop(null));
  assert.ok(!check.ok);
  const messages = reaskMessages(check, "plan", "Fix it: {{problem}} ({{schema_name}})");
  assert.deepEqual(messages, [{ role: "user", content: "Fix it: the answer was empty (plan)" }]);
});
