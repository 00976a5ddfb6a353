import assert from "node:assert/strict";
import {
  answerHint,
  answersFromPairs,
  askAnswers,
  type AskedQuestion,
  formatQuestions,
  pendingQuestions,
} from "./answers.ts";
import { UsageError } from "./args.ts";

const QUESTIONS: AskedQuestion[] = [
  { id: "slow_query", text: "Which query is slow?", kind: "text", choices: [], required: true },
  {
    id: "table_size",
    text: "How many rows?",
    kind: "choice",
    choices: ["under 100k", "100k to 10M", "over 10M"],
    required: false,
  },
  { id: "realtime", text: "Live updates?", kind: "boolean", choices: [], required: true },
];

Deno.test("answers are typed by their question: choice by number or text, yes/no as boolean", () => {
  assert.deepEqual(
    answersFromPairs(
      ["slow_query=select * from t where a = 1", "table_size=2", "realtime=yes"],
      QUESTIONS,
    ),
    { slow_query: "select * from t where a = 1", table_size: "100k to 10M", realtime: true },
  );
  assert.deepEqual(answersFromPairs(["table_size=OVER 10M", "realtime=n"], QUESTIONS), {
    table_size: "over 10M",
    realtime: false,
  });
});

Deno.test("a text answer is kept verbatim, '=' and a leading 'error:' included", () => {
  assert.deepEqual(answersFromPairs(["slow_query=error: a=b"], QUESTIONS), {
    slow_query: "error: a=b",
  });
});

Deno.test("an answer that does not fit its question, or to no question, is a usage error", () => {
  assert.throws(() => answersFromPairs(["table_size=7"], QUESTIONS), UsageError);
  assert.throws(() => answersFromPairs(["realtime=maybe"], QUESTIONS), /yes or no/);
  assert.throws(() => answersFromPairs(["colour=red"], QUESTIONS), /no question "colour"/);
});

Deno.test("a question answered twice sends a list", () => {
  assert.deepEqual(answersFromPairs(["tags=a", "tags=b"], []), { tags: ["a", "b"] });
});

Deno.test("questions are read leniently from a run's clarification", () => {
  const pending = pendingQuestions({
    clarification: {
      reason: "Task T1 still fails validation.",
      questions: [{ id: "guidance", text: "How should it proceed?", kind: "text", choices: null }, {
        text: "no id",
      }],
    },
  });
  assert.equal(pending.reason, "Task T1 still fails validation.");
  assert.deepEqual(pending.questions, [
    { id: "guidance", text: "How should it proceed?", kind: "text", choices: [], required: true },
  ]);
  assert.deepEqual(pendingQuestions({ clarification: null }).questions, []);
});

Deno.test("the printed questions name each id and its choices, and the hint answers the required ones", () => {
  const text = formatQuestions({ questions: QUESTIONS });
  assert.match(text, /slow_query: Which query is slow\?/);
  assert.match(text, /table_size \(optional\)/);
  assert.match(text, /2\. 100k to 10M/);
  assert.equal(
    answerHint("r1", { questions: QUESTIONS }),
    "deno task bt answer r1 --answer slow_query='…' --answer realtime=yes",
  );
});

Deno.test("asking on a terminal repeats a question until the answer fits and skips optional ones", async () => {
  const typed = ["", "the feed query", "", "perhaps", "y"];
  const said: string[] = [];
  const answers = await askAnswers(
    { questions: QUESTIONS },
    () => typed.shift() ?? null,
    (line) => said.push(line),
  );
  assert.deepEqual(answers, { slow_query: "the feed query", realtime: true });
  assert.ok(said.some((l) => l.includes("an answer is required")));
  assert.ok(said.some((l) => l.includes("yes or no")));
});

Deno.test("asking stops without answers when the input ends", async () => {
  assert.equal(await askAnswers({ questions: QUESTIONS }, () => null, () => {}), undefined);
});
