/**
 * The two uses of an agent prompt file: its body without the `## Retry` section is the system
 * message of every attempt, and the `## Retry` section is a template appended to the user message
 * when validation sent the output back. Placeholders are `{{findings}}` and `{{fix}}` (see
 * prompts/README.md), filled by `renderTemplate`, which fails on any placeholder left without a value.
 */
import { AppError } from "../errors/mod.ts";
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
