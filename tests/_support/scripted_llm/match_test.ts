import assert from "node:assert/strict";
import { type Picked, type RequestLabels, ScriptPlayer, type Unmatched } from "./match.ts";
import { ScriptRule } from "./scenario.ts";

const rule = (input: unknown) => ScriptRule.parse(input);
const json = (value: number) => ({ kind: "json" as const, value });

const plan: RequestLabels = {
  agent: "orchestrator",
  phase: "plan",
  schemaName: "plan",
  messages: [
    { role: "system", content: "You are the lead engineer." },
    { role: "user", content: "Build a todo app." },
  ],
};

function picked(result: Picked | Unmatched): Picked {
  assert.ok(result.matched, result.matched ? "" : result.reason);
  return result;
}

Deno.test("the first rule whose agent, phase, schema and texts all hold answers", () => {
  const player = new ScriptPlayer([
    rule({ name: "understand", match: { phase: "understand" }, answers: [json(1)] }),
    rule({ name: "other agent", match: { agent: "security" }, answers: [json(2)] }),
    rule({ name: "other schema", match: { schema: "understanding" }, answers: [json(3)] }),
    rule({
      name: "plan todo",
      match: { agent: "orchestrator", contains: ["todo", "lead"] },
      answers: [json(4)],
    }),
    rule({ name: "anything", answers: [json(5)] }),
  ]);
  assert.equal(picked(player.next(plan)).rule, "plan todo");
});

Deno.test("every text of contains must occur, each in any message", () => {
  const player = new ScriptPlayer([
    rule({ name: "needs blog", match: { contains: ["todo", "blog"] }, answers: [json(1)] }),
    rule({ name: "case matters", match: { contains: "TODO" }, answers: [json(2)] }),
  ]);
  const result = player.next(plan);
  assert.ok(!result.matched);
  assert.match(result.reason, /rule "needs blog": no message contains "blog"/);
  assert.match(result.reason, /rule "case matters": no message contains "TODO"/);
});

Deno.test("a rule gives its answers in order, then repeats the last", () => {
  const player = new ScriptPlayer([rule({ name: "seq", answers: [json(1), json(2)] })]);
  const values = [1, 2, 3].map(() => picked(player.next(plan)).answer);
  assert.deepEqual(values, [json(1), json(2), json(2)]);
  player.reset();
  assert.deepEqual(picked(player.next(plan)).answer, json(1));
});

Deno.test("an exhausted fall_through rule lets the next rule answer", () => {
  const player = new ScriptPlayer([
    rule({ name: "once", answers: [json(1)], exhausted: "fall_through" }),
    rule({ name: "then", answers: [json(2)] }),
  ]);
  assert.equal(picked(player.next(plan)).rule, "once");
  assert.equal(picked(player.next(plan)).rule, "then");
  assert.equal(picked(player.next(plan)).rule, "then");
});

Deno.test("an unmatched request is described with why each rule declined", () => {
  const player = new ScriptPlayer([
    rule({
      name: "understand",
      match: { agent: "orchestrator", phase: "understand" },
      answers: [json(1)],
    }),
    rule({ name: "db", match: { agent: "db-architect" }, answers: [json(2)] }),
    rule({ name: "once", answers: [json(3)], exhausted: "fall_through" }),
  ]);
  player.next(plan);
  const result = player.next({ ...plan, messages: [{ role: "user", content: "x".repeat(300) }] });
  assert.ok(!result.matched);
  assert.equal(
    result.reason,
    [
      `no scenario rule answers agent="orchestrator" phase="plan" schema="plan"; last message: "${
        "x".repeat(200)
      }…"`,
      `rule "understand": phase is "plan", wants "understand"`,
      `rule "db": agent is "orchestrator", wants "db-architect"`,
      `rule "once": all 1 answer(s) given`,
    ].join("\n"),
  );
  const none = new ScriptPlayer([]).next({ messages: [] });
  assert.ok(!none.matched);
  assert.match(none.reason, /agent=\(none\) phase=\(none\)[\s\S]*\(no rules loaded\)/);
});
