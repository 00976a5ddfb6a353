/**
 * The contracts of one task in a plan, as its context package shows them: those it consumes
 * (it must honour them: use only the tables and columns the producer provides) and those it
 * produces (dependents rely on them). Pure.
 *
 * @example
 * ```ts
 * const { consumes, produces } = contractsOf(plan, "T3");
 * ```
 */
import type { Plan } from "./schema.ts";

/** A contract as a task sees it. */
export interface TaskContract {
  name: string;
  /** The producing task's key and agent. */
  producer: string;
  producerAgent: string | null;
  consumers: string[];
  description: string;
}

/** The contracts task `key` consumes and produces, in plan order. */
export function contractsOf(
  plan: Pick<Plan, "tasks" | "contracts">,
  key: string,
): { consumes: TaskContract[]; produces: TaskContract[] } {
  const agentOf = new Map(plan.tasks.map((t) => [t.id, t.agent]));
  const view = (c: Plan["contracts"][number]): TaskContract => ({
    name: c.name,
    producer: c.producer,
    producerAgent: agentOf.get(c.producer) ?? null,
    consumers: [...c.consumers],
    description: c.description,
  });
  return {
    consumes: plan.contracts.filter((c) => c.consumers.includes(key) && c.producer !== key)
      .map(view),
    produces: plan.contracts.filter((c) => c.producer === key).map(view),
  };
}
