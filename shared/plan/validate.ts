/**
 * Checks a plan before anything runs: known agents, unique ids, no unknown dependencies, no cycles,
 * and a strategy that matches the graph's shape. Returns every problem at once, worded so the
 * planner LLM can fix them when re-asked. Pure.
 */
import { AGENTS, type Plan } from "./schema.ts";

/** The shape of a dependency graph. */
export type GraphShape = "sequential" | "parallel" | "hybrid";

/** Problems found in `plan`; empty when it is valid. */
export function validatePlan(plan: Plan): string[] {
  const problems: string[] = [];
  const ids = new Set<string>();
  for (const t of plan.tasks) {
    if (ids.has(t.id)) problems.push(`task id ${t.id} is used more than once`);
    ids.add(t.id);
    if (!(AGENTS as readonly string[]).includes(t.agent)) {
      problems.push(`task ${t.id} names unknown agent "${t.agent}"`);
    }
  }
  for (const t of plan.tasks) {
    for (const d of t.depends_on) {
      if (d === t.id) problems.push(`task ${t.id} depends on itself`);
      else if (!ids.has(d)) problems.push(`task ${t.id} depends on unknown task ${d}`);
    }
    if (new Set(t.depends_on).size !== t.depends_on.length) {
      problems.push(`task ${t.id} lists a dependency twice`);
    }
  }
  const cycle = findCycle(plan);
  if (cycle) problems.push(`dependency cycle: ${cycle.join(" -> ")}`);
  for (const c of plan.checkpoints) {
    if (!ids.has(c.after)) problems.push(`checkpoint refers to unknown task ${c.after}`);
  }
  for (const c of plan.contracts) {
    for (const k of [c.producer, ...c.consumers]) {
      if (!ids.has(k)) problems.push(`contract "${c.name}" refers to unknown task ${k}`);
    }
  }
  for (const m of plan.integration) {
    for (const k of m.merge) {
      if (!ids.has(k)) problems.push(`integration "${m.into}" refers to unknown task ${k}`);
    }
  }
  if (problems.length === 0) {
    const shape = graphShape(plan);
    if (shape !== plan.strategy) {
      problems.push(
        `strategy is "${plan.strategy}" but the dependency graph is ${shape} ` +
          `(${describeShape(shape)})`,
      );
    }
  }
  return problems;
}

/** A cycle as a list of task ids (first repeated at the end), or undefined. */
export function findCycle(plan: Plan): string[] | undefined {
  const deps = new Map(plan.tasks.map((t) => [t.id, t.depends_on]));
  const state = new Map<string, "visiting" | "done">();
  const stack: string[] = [];
  const visit = (id: string): string[] | undefined => {
    if (state.get(id) === "done") return undefined;
    if (state.get(id) === "visiting") return [...stack.slice(stack.indexOf(id)), id];
    state.set(id, "visiting");
    stack.push(id);
    for (const d of deps.get(id) ?? []) {
      if (!deps.has(d)) continue;
      const found = visit(d);
      if (found) return found;
    }
    stack.pop();
    state.set(id, "done");
    return undefined;
  };
  for (const t of plan.tasks) {
    const found = visit(t.id);
    if (found) return found;
  }
  return undefined;
}

/**
 * `sequential`: one chain, each task after the previous; `parallel`: no dependencies at all (one
 * task counts as sequential); `hybrid`: anything else.
 */
export function graphShape(plan: Plan): GraphShape {
  const n = plan.tasks.length;
  const edges = plan.tasks.reduce((s, t) => s + t.depends_on.length, 0);
  if (n === 1) return "sequential";
  if (edges === 0) return "parallel";
  const isChain = edges === n - 1 && plan.tasks.every((t) => t.depends_on.length <= 1) &&
    new Set(plan.tasks.flatMap((t) => t.depends_on)).size === n - 1;
  return isChain ? "sequential" : "hybrid";
}

function describeShape(shape: GraphShape): string {
  switch (shape) {
    case "sequential":
      return "a single chain";
    case "parallel":
      return "no task depends on another";
    case "hybrid":
      return "some tasks depend on others and some can run side by side";
  }
}

/** Task ids in an order where every task comes after its dependencies (for display, assembly). */
export function topologicalOrder(plan: Plan): string[] {
  const order: string[] = [];
  const done = new Set<string>();
  const deps = new Map(plan.tasks.map((t) => [t.id, t.depends_on]));
  const visit = (id: string) => {
    if (done.has(id)) return;
    done.add(id);
    for (const d of deps.get(id) ?? []) visit(d);
    order.push(id);
  };
  for (const t of plan.tasks) visit(t.id);
  return order;
}
