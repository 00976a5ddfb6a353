import assert from "node:assert/strict";
import type { Plan, PlanTask } from "./schema.ts";
import { graphShape, topologicalOrder, validatePlan } from "./validate.ts";
import { contractsOf } from "./contracts.ts";

function task(id: string, agent: string, depends_on: string[] = []): PlanTask {
  return {
    id,
    agent: agent as PlanTask["agent"],
    title: `${agent} work`,
    input: "do it",
    output: ["artifact"],
    depends_on,
    tables: [],
  };
}

function plan(tasks: PlanTask[], strategy: Plan["strategy"]): Plan {
  return { goal: "g", strategy, tasks, checkpoints: [], contracts: [], integration: [] };
}

Deno.test("the seed example's plan (db-architect, then security and query-optimizer) is valid", () => {
  const p = plan([
    task("T1", "db-architect"),
    task("T2", "security", ["T1"]),
    task("T3", "query-optimizer", ["T1"]),
  ], "hybrid");
  assert.deepEqual(validatePlan(p), []);
  assert.deepEqual(topologicalOrder(p), ["T1", "T2", "T3"]);
});

Deno.test("a cycle is reported with the tasks that form it", () => {
  const p = plan([
    task("T1", "db-architect", ["T3"]),
    task("T2", "security", ["T1"]),
    task("T3", "query-optimizer", ["T2"]),
  ], "sequential");
  const problems = validatePlan(p);
  assert.equal(problems.length, 1);
  assert.match(problems[0], /dependency cycle: T1 -> T3 -> T2 -> T1/);
});

Deno.test("unknown agents, duplicate ids, unknown and self dependencies are all reported", () => {
  const p = plan([
    task("T1", "dba"),
    task("T1", "security"),
    task("T2", "security", ["T9", "T2"]),
  ], "hybrid");
  const problems = validatePlan(p);
  assert.ok(problems.includes('task T1 names unknown agent "dba"'));
  assert.ok(problems.includes("task id T1 is used more than once"));
  assert.ok(problems.includes("task T2 depends on unknown task T9"));
  assert.ok(problems.includes("task T2 depends on itself"));
});

Deno.test("the strategy must match the graph's shape", () => {
  assert.equal(graphShape(plan([task("T1", "monitor")], "sequential")), "sequential");
  const chain = plan([task("T1", "debugger"), task("T2", "deployment", ["T1"])], "parallel");
  assert.match(validatePlan(chain)[0], /strategy is "parallel" but the dependency graph is sequen/);
  const free = plan([task("T1", "monitor"), task("T2", "security")], "parallel");
  assert.deepEqual(validatePlan(free), []);
  const hybrid = plan([
    task("T1", "db-architect"),
    task("T2", "security", ["T1"]),
    task("T3", "query-optimizer", ["T1"]),
  ], "sequential");
  assert.match(validatePlan(hybrid)[0], /graph is hybrid/);
});

Deno.test("checkpoints, contracts and merges may only name tasks of the plan", () => {
  const p: Plan = {
    ...plan([task("T1", "db-architect")], "sequential"),
    checkpoints: [{ after: "T4", validate: ["schema valid"] }],
    contracts: [{ name: "positions", producer: "T1", consumers: ["T5"], description: "cols" }],
    integration: [{ merge: ["T1", "T6"], into: "complete migration" }],
  };
  assert.deepEqual(validatePlan(p), [
    "checkpoint refers to unknown task T4",
    'contract "positions" refers to unknown task T5',
    'integration "complete migration" refers to unknown task T6',
  ]);
});

Deno.test("a task's contracts: those it consumes and those it produces, with the producer's agent", () => {
  const p = {
    ...plan([
      task("T1", "db-architect"),
      task("T2", "api-data", ["T1"]),
      task("T3", "edge-functions", ["T2"]),
    ], "sequential"),
    contracts: [
      { name: "a", producer: "T1", consumers: ["T2", "T3"], description: "positions(id)" },
      { name: "b", producer: "T2", consumers: ["T3"], description: "an RPC" },
    ],
  };
  const t3 = contractsOf(p, "T3");
  assert.deepEqual(t3.consumes.map((c) => [c.name, c.producer, c.producerAgent]), [
    ["a", "T1", "db-architect"],
    ["b", "T2", "api-data"],
  ]);
  assert.deepEqual(t3.produces, []);
  const t2 = contractsOf(p, "T2");
  assert.deepEqual(t2.consumes.map((c) => c.name), ["a"]);
  assert.deepEqual(t2.produces.map((c) => [c.name, c.consumers]), [["b", ["T3"]]]);
});
