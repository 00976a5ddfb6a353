/**
 * The two uses of an agent prompt file: its body without the `## Retry` section is the system
 * message of every attempt, and the `## Retry` section is a template appended to the user message
 * when validation sent the output back. Placeholders are `{{findings}}` and `{{fix}}` (see
 * prompts/README.md), filled by `renderTemplate`, which fails on any placeholder left without a value.
 */
import { AppError } from "../errors/mod.ts";
import type { TaskContract } from "../plan/mod.ts";
import { type Prompt, renderTemplate } from "../prompts/mod.ts";

/** Name of the prompt section that holds the retry template. */
export const RETRY_SECTION = "Retry";

/** Why an output was sent back, as the lead's retry loop describes it. */
export interface RetryContext {
  /** The validation findings, e.g. one line per finding with statement and line. */
  findings: string;
  /** The specific change asked for. */
  fix: string;
}

/** The prompt body without its `## Retry` section. */
export function systemPromptText(prompt: Prompt): string {
  const out: string[] = [];
  let skipping = false;
  for (const line of prompt.body.split("\n")) {
    const heading = /^## +(.+?)\s*$/.exec(line);
    if (heading) skipping = heading[1] === RETRY_SECTION;
    if (!skipping) out.push(line);
  }
  return out.join("\n").trim();
}

/** The prompt's retry section with `{{findings}}` and `{{fix}}` filled in. */
export function retryText(prompt: Prompt, retry: RetryContext): string {
  const template = prompt.sections[RETRY_SECTION];
  if (template === undefined) {
    throw new AppError("internal", `prompt ${prompt.name} has no "## ${RETRY_SECTION}" section`);
  }
  return renderTemplate(template, { findings: retry.findings, fix: retry.fix });
}

/** The contracts of a task, as its context package states them. */
export interface ContractsContext {
  /** Contracts the task must honour (it consumes them). */
  consumes: readonly TaskContract[];
  /** Contracts the task provides to later tasks. */
  produces: readonly TaskContract[];
}

/**
 * The `## Contracts` section of a task's user message, or null when it has none. A consumed
 * contract is checked after the output: every table, column and RPC function an API endpoint names
 * must exist in the schema the earlier tasks built (`contract_violation` otherwise).
 */
export function contractsText(contracts: ContractsContext | null | undefined): string | null {
  if (!contracts || (contracts.consumes.length === 0 && contracts.produces.length === 0)) {
    return null;
  }
  const who = (c: TaskContract) =>
    c.producerAgent ? `${c.producer} (${c.producerAgent})` : c.producer;
  const lines = ["## Contracts"];
  if (contracts.consumes.length > 0) {
    lines.push(
      "",
      "You must honour these contracts. Name only the tables, columns and functions they and " +
        "the schema above provide; your endpoints are checked against the schema after your " +
        "answer, and anything missing is a `contract_violation`.",
    );
    for (const c of contracts.consumes) {
      lines.push(`- \`${c.name}\`, provided by ${who(c)}: ${oneLine(c.description)}`);
    }
  }
  if (contracts.produces.length > 0) {
    lines.push(
      "",
      "Later tasks rely on these contracts you provide; deliver exactly what they say.",
    );
    for (const c of contracts.produces) {
      lines.push(`- \`${c.name}\`, used by ${c.consumers.join(", ")}: ${oneLine(c.description)}`);
    }
  }
  return lines.join("\n");
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, " ").trim().slice(0, 2000);
}
