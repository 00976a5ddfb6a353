import assert from "node:assert/strict";
import { type Plan, validatePlan } from "../plan/mod.ts";
import { amendPlan, nextTaskKey } from "./mod.ts";

function plan(): Plan {
  const task = (id: string, agent: Plan["tasks"][number]["agent"], deps: string[]) => ({
    id,
    agent,
    title: `${agent} ${id}`,
    input: "do it",
    output: ["migration"],
    depends_on: deps,
    tables: ["positions"],
  });
  return {
    goal: "g",
    strategy: "hybrid",
    tasks: [
      task("T1", "db-architect", []),
      task("T2", "security", ["T1"]),
      task("T3", "query-optimizer", ["T1"]),
    ],
    checkpoints: [{ after: "T1", validate: ["rls"] }],
    contracts: [{ name: "positions", producer: "T1", consumers: ["T2", "T3"], description: "d" }],
    integration: [{ merge: ["T1", "T2", "T3"], into: "supabase/migrations" }],
  };
}

const fix = { agent: "security" as const, title: "Fix", input: "fix it", output: ["migration"] };

Deno.test("a handoff adds a task after the failing one and re-wires its dependents onto it", () => {
  const r = amendPlan(plan(), { kind: "handoff", from: "T1", ...fix });
  assert.ok(r.ok, JSON.stringify(r));
  assert.equal(r.added[0].id, "T4");
  assert.deepEqual(r.added[0].depends_on, ["T1"]);
  assert.deepEqual(r.rewired, [{ id: "T2", depends_on: ["T4"] }, { id: "T3", depends_on: ["T4"] }]);
  assert.deepEqual(validatePlan(r.plan), []);
});

Deno.test("a diagnosis runs before the failing task, which then depends on it", () => {
  const r = amendPlan(plan(), {
    kind: "diagnose",
    from: "T3",
    agent: "debugger",
    title: "Why",
    input: "why",
    output: ["diagnosis"],
  });
  assert.ok(r.ok, JSON.stringify(r));
  assert.deepEqual(r.added[0].depends_on, ["T1"]);
  assert.deepEqual(r.rewired, [{ id: "T3", depends_on: ["T1", "T4"] }]);
  assert.deepEqual(validatePlan(r.plan), []);
});

Deno.test("the amended plan's strategy follows its new shape", () => {
  const chain: Plan = { ...plan(), tasks: plan().tasks.slice(0, 1), strategy: "sequential" };
  const r = amendPlan({ ...chain, contracts: [], integration: [] }, {
    kind: "handoff",
    from: "T1",
    ...fix,
  });
  assert.ok(r.ok);
  assert.equal(r.plan.strategy, "sequential");
});

Deno.test("a split replaces the task; its dependents, checkpoints and contracts follow the new tasks", () => {
  const sub = (id: string, deps: string[]) => ({
    id,
    agent: "db-architect" as const,
    title: id,
    input: "part",
    output: ["migration"],
    depends_on: deps,
    tables: [],
  });
  const r = amendPlan(plan(), {
    kind: "decompose",
    from: "T1",
    tasks: [sub("T4", []), sub("T5", ["T4"])],
  });
  assert.ok(r.ok, JSON.stringify(r));
  assert.equal(r.removed, "T1");
  assert.deepEqual(r.plan.tasks.map((t) => t.id), ["T2", "T3", "T4", "T5"]);
  assert.deepEqual(r.plan.tasks.find((t) => t.id === "T2")!.depends_on, ["T5"]);
  assert.deepEqual(r.plan.checkpoints, [{ after: "T5", validate: ["rls"] }]);
  assert.equal(r.plan.contracts[0].producer, "T5");
  assert.deepEqual(validatePlan(r.plan), []);
});

Deno.test("a split that would make a cycle is refused", () => {
  const sub = (id: string, deps: string[]) => ({
    id,
    agent: "db-architect" as const,
    title: id,
    input: "part",
    output: ["migration"],
    depends_on: deps,
    tables: [],
  });
  // T4 needs T2, but T2 (a dependent of T1) is re-wired onto T4: T2 -> T4 -> T2.
  const r = amendPlan(plan(), { kind: "decompose", from: "T1", tasks: [sub("T4", ["T2"])] });
  assert.equal(r.ok, false);
  assert.ok(!r.ok && r.problems.some((p) => /cycle/.test(p)), JSON.stringify(r));
});

Deno.test("a split with a dangling dependency is refused", () => {
  const r = amendPlan(plan(), {
    kind: "decompose",
    from: "T1",
    tasks: [{
      id: "T4",
      agent: "db-architect",
      title: "x",
      input: "x",
      output: ["m"],
      depends_on: ["T9"],
      tables: [],
    }],
  });
  assert.ok(!r.ok && r.problems.some((p) => /unknown task T9/.test(p)), JSON.stringify(r));
});

Deno.test("an unknown task to recover from is refused", () => {
  const r = amendPlan(plan(), { kind: "handoff", from: "T7", ...fix });
  assert.ok(!r.ok && /T7 is not in the plan/.test(r.problems[0]));
});

Deno.test("agent limits are refused: tasks per agent, recovery tasks per run, tasks per plan", () => {
  const perAgent = amendPlan(plan(), { kind: "handoff", from: "T1", ...fix }, {
    limits: { maxTasksPerAgent: 1 },
  });
  assert.ok(
    !perAgent.ok && perAgent.problems.some((p) => /agent security would have 2 tasks/.test(p)),
  );
  const perRun = amendPlan(plan(), { kind: "handoff", from: "T1", ...fix }, {
    recoveryTasksSoFar: 6,
  });
  assert.ok(!perRun.ok && perRun.problems.some((p) => /recovery would have added 7/.test(p)));
  const big = plan();
  for (let i = 4; i <= 30; i++) {
    big.tasks.push({ ...big.tasks[2], id: `T${i}`, agent: "monitor" });
  }
  const full = amendPlan(big, { kind: "handoff", from: "T1", ...fix }, {
    limits: { maxTasksPerAgent: 100 },
  });
  assert.ok(!full.ok && full.problems.some((p) => /31 tasks|tasks/.test(p)), JSON.stringify(full));
  const unknown = amendPlan(plan(), {
    kind: "handoff",
    from: "T1",
    ...fix,
    agent: "wizard" as never,
  });
  assert.ok(!unknown.ok && unknown.problems.some((p) => /unknown agent/.test(p)));
});

Deno.test("new task ids continue after the highest in use", () => {
  assert.equal(nextTaskKey({ tasks: [{ id: "T2" }, { id: "T9" }] as never }), "T10");
});

Deno.test("a split is refused when it breaks a limit, reuses an id or depends on the task it replaces", () => {
  const sub = (
    id: string,
    deps: string[],
    agent: Plan["tasks"][number]["agent"] = "db-architect",
  ) => ({
    id,
    agent,
    title: id,
    input: "part",
    output: ["migration"],
    depends_on: deps,
    tables: [],
  });
  const perAgent = amendPlan(plan(), {
    kind: "decompose",
    from: "T1",
    tasks: [sub("T4", []), sub("T5", ["T4"])],
  }, { limits: { maxTasksPerAgent: 1 } });
  assert.ok(
    !perAgent.ok && perAgent.problems.some((p) => /agent db-architect would have 2 tasks/.test(p)),
    JSON.stringify(perAgent),
  );
  const perRun = amendPlan(plan(), {
    kind: "decompose",
    from: "T1",
    tasks: [sub("T4", []), sub("T5", ["T4"])],
  }, { recoveryTasksSoFar: 5 });
  assert.ok(!perRun.ok && perRun.problems.some((p) => /recovery would have added 7/.test(p)));
  const reused = amendPlan(plan(), { kind: "decompose", from: "T1", tasks: [sub("T2", [])] });
  assert.ok(!reused.ok && /T2 is already used/.test(reused.problems[0]), JSON.stringify(reused));
  const self = amendPlan(plan(), { kind: "decompose", from: "T1", tasks: [sub("T4", ["T1"])] });
  assert.ok(
    !self.ok && /depends on the task it replaces/.test(self.problems[0]),
    JSON.stringify(self),
  );
  const unknownAgent = amendPlan(plan(), {
    kind: "decompose",
    from: "T1",
    tasks: [sub("T4", [], "wizard" as never)],
  });
  assert.ok(!unknownAgent.ok && unknownAgent.problems.some((p) => /agent/.test(p)));
});
