/**
 * Plan amendment: recovery changes the plan while it runs — a reroute adds a task for another
 * agent, decomposing replaces a task by smaller ones — and the amended plan must pass the same
 * checks as the planner's (shared/plan `validatePlan`: known agents, unique ids, no dangling
 * dependencies, no cycles, a strategy that matches the graph's shape) plus the recovery limits
 * (tasks per plan, tasks per agent, recovery tasks per run). Dependents are re-wired so nothing
 * that needed the failing task runs before the fix. Pure: the SQL state machine stores the result.
 *
 * - `handoff`: the new task depends on the failing one; the failing task's dependents depend on the
 *   new task instead (the specialist fixes the output before anyone builds on it).
 * - `diagnose`: the new task depends on what the failing task depends on; the failing task then
 *   depends on the new one (it runs again with the diagnosis as a dependency output).
 * - `decompose`: the failing task is replaced by the given tasks; its dependents depend on the new
 *   tasks nothing else among them depends on; checkpoints, contracts and integration points that
 *   named it name those tasks.
 *
 * @example
 * ```ts
 * const amended = amendPlan(plan, { kind: "handoff", from: "T1", agent: "security",
 *   title: "Fix the RLS leak", input: "…", output: ["migration"] });
 * if (amended.ok) amended.plan.tasks.at(-1)!.id; // "T4"
 * ```
 */
import {
  type AgentName,
  graphShape,
  Plan,
  type PlanTask,
  TaskKey,
  validatePlan,
} from "../plan/mod.ts";

/** Limits an amended plan must stay within. */
export interface AmendLimits {
  /** Tasks in a plan (the plan schema's own limit). */
  maxTasks: number;
  /** Tasks of one agent in a plan. */
  maxTasksPerAgent: number;
  /** Tasks recovery may add to one run. */
  maxRecoveryTasks: number;
}

/** Default {@link AmendLimits}. */
export const DEFAULT_AMEND_LIMITS: AmendLimits = {
  maxTasks: 30,
  maxTasksPerAgent: 8,
  maxRecoveryTasks: 6,
};

/** A new task as recovery describes it (its id is allocated). */
export interface NewTask {
  agent: AgentName;
  title: string;
  input: string;
  output: string[];
  tables?: string[];
}

/** A change to a running plan. */
export type Amendment =
  | ({ kind: "handoff" | "diagnose"; from: string } & NewTask)
  | { kind: "decompose"; from: string; tasks: PlanTask[] };

/** The amended plan, or why it is refused. */
export type AmendResult =
  | {
    ok: true;
    plan: Plan;
    /** The tasks added, in plan order. */
    added: PlanTask[];
    /** Existing tasks whose dependencies changed, with their new `depends_on`. */
    rewired: { id: string; depends_on: string[] }[];
    /** The task removed (decompose), if any. */
    removed: string | null;
  }
  | { ok: false; problems: string[] };

/** The next free task id: one past the highest number in use. */
export function nextTaskKey(plan: Pick<Plan, "tasks">, offset = 0): string {
  const max = plan.tasks.reduce((m, t) => Math.max(m, Number(t.id.slice(1)) || 0), 0);
  return `T${max + 1 + offset}`;
}

/**
 * Applies `amendment` to `plan`; `recoveryTasksSoFar` counts tasks recovery already added to the
 * run. The result passes `validatePlan` or is refused with every problem.
 */
export function amendPlan(
  plan: Plan,
  amendment: Amendment,
  options: { limits?: Partial<AmendLimits>; recoveryTasksSoFar?: number } = {},
): AmendResult {
  const limits = { ...DEFAULT_AMEND_LIMITS, ...options.limits };
  const from = plan.tasks.find((t) => t.id === amendment.from);
  if (!from) return { ok: false, problems: [`task ${amendment.from} is not in the plan`] };
  const tasks = plan.tasks.map((t) => ({ ...t, depends_on: [...t.depends_on] }));
  const before = new Map(plan.tasks.map((t) => [t.id, t.depends_on.join(",")]));
  let added: PlanTask[];
  let removed: string | null = null;
  let amended: Plan;
  if (amendment.kind === "decompose") {
    added = amendment.tasks.map((t) => ({ ...t, depends_on: [...t.depends_on] }));
    const sinks = added.filter((t) => !added.some((o) => o.depends_on.includes(t.id)))
      .map((t) => t.id);
    const rest = tasks.filter((t) => t.id !== from.id);
    for (const t of rest) {
      if (t.depends_on.includes(from.id)) {
        t.depends_on = unique(t.depends_on.flatMap((d) => d === from.id ? sinks : [d]));
      }
    }
    const rename = (k: string) => (k === from.id ? sinks : [k]);
    removed = from.id;
    amended = {
      ...plan,
      tasks: [...rest, ...added],
      checkpoints: plan.checkpoints.flatMap((c) =>
        rename(c.after).map((after) => ({ ...c, after }))
      ),
      contracts: plan.contracts.map((c) => ({
        ...c,
        producer: c.producer === from.id ? sinks.at(-1)! : c.producer,
        consumers: unique(c.consumers.flatMap(rename)),
      })),
      integration: plan.integration.map((m) => ({ ...m, merge: unique(m.merge.flatMap(rename)) })),
    };
    for (const t of added) {
      if (plan.tasks.some((p) => p.id === t.id && p.id !== from.id) || t.id === from.id) {
        return { ok: false, problems: [`new task id ${t.id} is already used in the plan`] };
      }
      if (t.depends_on.some((d) => d === from.id)) {
        return { ok: false, problems: [`new task ${t.id} depends on the task it replaces`] };
      }
    }
  } else {
    const id = nextTaskKey(plan);
    const key = TaskKey.safeParse(id);
    if (!key.success) return { ok: false, problems: [`no task id is left after ${id}`] };
    const task: PlanTask = {
      id,
      agent: amendment.agent,
      title: amendment.title.slice(0, 200),
      input: amendment.input.slice(0, 4000),
      output: amendment.output,
      depends_on: amendment.kind === "handoff" ? [from.id] : [...from.depends_on],
      tables: amendment.tables ?? from.tables,
    };
    if (amendment.kind === "handoff") {
      for (const t of tasks) {
        if (t.id !== from.id && t.depends_on.includes(from.id)) {
          t.depends_on = unique(t.depends_on.map((d) => (d === from.id ? id : d)));
        }
      }
    } else {
      const failing = tasks.find((t) => t.id === from.id)!;
      failing.depends_on = unique([...failing.depends_on, id]);
    }
    added = [task];
    amended = { ...plan, tasks: [...tasks, task] };
  }
  amended = { ...amended, strategy: graphShape(amended) };

  const problems: string[] = [];
  const parsed = Plan.safeParse(amended);
  if (!parsed.success) {
    problems.push(...parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`));
  }
  problems.push(...validatePlan(amended));
  if (amended.tasks.length > limits.maxTasks) {
    problems.push(`the plan would have ${amended.tasks.length} tasks, over ${limits.maxTasks}`);
  }
  const perAgent = new Map<string, number>();
  for (const t of amended.tasks) perAgent.set(t.agent, (perAgent.get(t.agent) ?? 0) + 1);
  for (const t of added) {
    if ((perAgent.get(t.agent) ?? 0) > limits.maxTasksPerAgent) {
      problems.push(
        `agent ${t.agent} would have ${perAgent.get(t.agent)} tasks, over its limit of ` +
          `${limits.maxTasksPerAgent}`,
      );
    }
  }
  const recoveryTasks = (options.recoveryTasksSoFar ?? 0) + added.length;
  if (recoveryTasks > limits.maxRecoveryTasks) {
    problems.push(
      `recovery would have added ${recoveryTasks} tasks to the run, over ${limits.maxRecoveryTasks}`,
    );
  }
  if (problems.length > 0) return { ok: false, problems: unique(problems) };
  const rewired = amended.tasks
    .filter((t) => before.has(t.id) && before.get(t.id) !== t.depends_on.join(","))
    .map((t) => ({ id: t.id, depends_on: t.depends_on }));
  return { ok: true, plan: amended, added, rewired, removed };
}

function unique<T>(xs: T[]): T[] {
  return [...new Set(xs)];
}
