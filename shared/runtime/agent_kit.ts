/**
 * The agents as the task worker sees them (`AgentKit`): the context package of an attempt built
 * from the task's row, its run and its dependencies (with the validation findings and the user's
 * guidance when the attempt is a retry), each agent's output schema, and how an output becomes
 * artifacts. The pieces themselves live in shared/agents; this adapter maps rows onto them.
 *
 * @example
 * ```ts
 * const kit = createAgentKit();
 * const context = await kit.contextFor(work);
 * ```
 */
import {
  AGENT_OUTPUT_SCHEMAS,
  type AgentOutputs,
  artifactsOf,
  buildContextPackage,
  type RetryContext,
} from "../agents/mod.ts";
import type { AgentKit, TaskWork } from "../execution/mod.ts";
import { type AgentName, AGENTS, contractsOf, Plan } from "../plan/mod.ts";
import { loadPrompt } from "../prompts/mod.ts";

/** The kit every agent worker uses. */
export function createAgentKit(): AgentKit {
  return {
    async contextFor(work) {
      const agent = agentName(work.task.agent);
      const context = await buildContextPackage({
        agent,
        prompt: await loadPrompt(`backend/${agent}`),
        task: {
          id: work.task.key,
          title: work.task.title,
          input: work.task.input.text ?? "",
          output: Array.isArray(work.task.expected_output)
            ? work.task.expected_output.map(String)
            : [],
          tables: work.task.input.tables ?? [],
          depends_on: work.task.depends_on,
        },
        dependencyOutputs: work.dependencies.map((d) => ({
          key: d.key,
          agent: agentName(d.agent),
          output: d.output,
        })),
        runContext: work.run.context,
        constraints: guidance(work),
        goal: work.run.request,
        retry: retryOf(work),
        contracts: contractsOfWork(work),
      });
      return {
        messages: context.messages,
        tokens: context.sizes.tokens,
        uncompressedTokens: context.sizes.uncompressedTokens,
      };
    },
    outputSchema(agent) {
      return AGENT_OUTPUT_SCHEMAS[agentName(agent)];
    },
    artifactsOf(agent, output) {
      const name = agentName(agent);
      return artifactsOf(name, output as AgentOutputs[typeof name]);
    },
  };
}

function agentName(agent: string): AgentName {
  if (!(AGENTS as readonly string[]).includes(agent)) throw new Error(`unknown agent ${agent}`);
  return agent as AgentName;
}

// The plan's contracts this task consumes and produces (none when the plan cannot be read).
function contractsOfWork(work: TaskWork) {
  const plan = Plan.safeParse(work.run.plan);
  return plan.success ? contractsOf(plan.data, work.task.key) : null;
}

const RECOVERY_ANSWER_IDS = new Set(["action", "token_budget", "model"]);

// What the user said when this task was escalated to them.
function guidance(work: TaskWork): string[] {
  const clarification = work.run.clarification;
  if (clarification?.task_key !== work.task.key || !clarification.answers) return [];
  // A recovery question's action, budget and model are applied by the state machine, not advice.
  return Object.entries(clarification.answers).filter(([id]) => !RECOVERY_ANSWER_IDS.has(id))
    .map(([, answer]) => answer).map((answer) =>
      `The user's guidance after the last validation failure: ${
        typeof answer === "string" ? answer : JSON.stringify(answer)
      }`
    );
}

interface FindingLike {
  rule?: string;
  level?: string;
  message?: string;
  file?: string | null;
  line?: number | null;
  statement?: string | null;
}

// A retry carries the previous attempt's findings and the specific fix they call for.
function retryOf(work: TaskWork): RetryContext | null {
  if (work.previous?.status !== "invalid") return null;
  const validation = work.previous.validation as { findings?: FindingLike[] } | null;
  const errors = (validation?.findings ?? []).filter((f) => f.level === "error");
  if (errors.length === 0) return null;
  const findings = errors.map((f) => {
    const where = f.file ? ` (${f.file}${f.line ? `:${f.line}` : ""})` : "";
    const statement = f.statement ? `\n    statement: ${f.statement.slice(0, 300)}` : "";
    return `- [${f.rule}]${where} ${f.message}${statement}`;
  }).join("\n");
  const rules = [...new Set(errors.map((f) => f.rule))].join(", ");
  return {
    findings,
    fix: `Change your output so that none of these errors (${rules}) remain, keeping everything ` +
      `else that already passed. Answer with the complete corrected output.`,
  };
}
