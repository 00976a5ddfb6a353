import assert from "node:assert/strict";
import type { Plan } from "../plan/mod.ts";
import { amendPlan } from "../recovery/mod.ts";
import { splitAmendment, TaskSplit } from "./decompose.ts";

const plan: Plan = {
  goal: "g",
  strategy: "sequential",
  tasks: [
    {
      id: "T1",
      agent: "db-architect",
      title: "a",
      input: "a",
      output: ["m"],
      depends_on: [],
      tables: [],
    },
    {
      id: "T2",
      agent: "db-architect",
      title: "b",
      input: "b",
      output: ["m"],
      depends_on: ["T1"],
      tables: [],
    },
    {
      id: "T3",
      agent: "security",
      title: "c",
      input: "c",
      output: ["m"],
      depends_on: ["T2"],
      tables: [],
    },
  ],
  checkpoints: [],
  contracts: [],
  integration: [],
};

const part = (id: string, depends_on: string[]) => ({
  id,
  agent: "db-architect" as const,
  title: id,
  input: `part ${id}`,
  output: ["migration"],
  depends_on,
  tables: [],
});

Deno.test("a split's S ids become the plan's next T ids, and its dependencies follow", () => {
  const split = TaskSplit.parse({ reason: "r", tasks: [part("S1", ["T1"]), part("S2", ["S1"])] });
  const amendment = splitAmendment(plan, "T2", split);
  assert.deepEqual(
    amendment.kind === "decompose" && amendment.tasks.map((t) => [t.id, t.depends_on]),
    [["T4", ["T1"]], ["T5", ["T4"]]],
  );
  const amended = amendPlan(plan, amendment);
  assert.ok(amended.ok, JSON.stringify(amended));
  assert.deepEqual(amended.rewired, [{ id: "T3", depends_on: ["T5"] }]);
  assert.equal(amended.removed, "T2");
});

Deno.test("a split must propose two to four tasks with S ids", () => {
  assert.equal(TaskSplit.safeParse({ reason: "r", tasks: [part("S1", [])] }).success, false);
  assert.equal(
    TaskSplit.safeParse({ reason: "r", tasks: [part("T4", []), part("S2", [])] }).success,
    false,
  );
});
