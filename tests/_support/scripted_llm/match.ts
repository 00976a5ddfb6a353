/**
 * Picks the scripted answer for a request: the first rule whose match holds, at the position of
 * its sequence. When nothing matches, it says for every rule why not, so a missing or wrong
 * scenario shows up as a readable error instead of a hang or a generic 404. Pure apart from the
 * per-rule counters it keeps.
 */
import type { ScriptedAnswer, ScriptRule } from "./scenario.ts";

/** The parts of a chat request the rules look at. */
export interface RequestLabels {
  agent?: string;
  phase?: string;
  schemaName?: string;
  messages: readonly { role: string; content: string }[];
}

/** A rule answered. `index` is the position in its sequence (0-based, before repeating). */
export interface Picked {
  matched: true;
  rule: string;
  index: number;
  answer: ScriptedAnswer;
}

/** Nothing answered; `reason` describes the request and why each rule declined. */
export interface Unmatched {
  matched: false;
  reason: string;
}

/** Plays a list of rules, keeping how many times each has answered. */
export class ScriptPlayer {
  readonly #rules: readonly ScriptRule[];
  readonly #served: number[];

  constructor(rules: readonly ScriptRule[]) {
    this.#rules = rules;
    this.#served = rules.map(() => 0);
  }

  /** The answer for `request`, advancing the sequence of the rule that gives it. */
  next(request: RequestLabels): Picked | Unmatched {
    const declined: string[] = [];
    for (const [i, rule] of this.#rules.entries()) {
      const mismatch = whyNot(rule, request);
      if (mismatch) {
        declined.push(`rule "${rule.name}": ${mismatch}`);
        continue;
      }
      const served = this.#served[i];
      if (served >= rule.answers.length && rule.exhausted === "fall_through") {
        declined.push(`rule "${rule.name}": all ${rule.answers.length} answer(s) given`);
        continue;
      }
      this.#served[i] = served + 1;
      const index = Math.min(served, rule.answers.length - 1);
      return { matched: true, rule: rule.name, index, answer: rule.answers[index] };
    }
    return { matched: false, reason: describeMiss(request, declined) };
  }

  /** Starts every sequence again. */
  reset(): void {
    this.#served.fill(0);
  }
}

/** Why `rule` does not match `request`, or `undefined` when it does. */
export function whyNot(rule: ScriptRule, request: RequestLabels): string | undefined {
  const { agent, phase, schema, contains } = rule.match;
  if (agent !== undefined && agent !== request.agent) {
    return `agent is ${quote(request.agent)}, wants "${agent}"`;
  }
  if (phase !== undefined && phase !== request.phase) {
    return `phase is ${quote(request.phase)}, wants "${phase}"`;
  }
  if (schema !== undefined && schema !== request.schemaName) {
    return `schema is ${quote(request.schemaName)}, wants "${schema}"`;
  }
  const wanted = contains === undefined ? [] : Array.isArray(contains) ? contains : [contains];
  for (const text of wanted) {
    if (!request.messages.some((m) => m.content.includes(text))) {
      return `no message contains "${text}"`;
    }
  }
  return undefined;
}

function describeMiss(request: RequestLabels, declined: readonly string[]): string {
  const last = request.messages.at(-1)?.content ?? "";
  const excerpt = last.length > 200 ? `${last.slice(0, 200)}…` : last;
  return [
    `no scenario rule answers agent=${quote(request.agent)} phase=${quote(request.phase)} ` +
    `schema=${quote(request.schemaName)}; last message: "${excerpt}"`,
    ...(declined.length === 0 ? ["(no rules loaded)"] : declined),
  ].join("\n");
}

function quote(value: string | undefined): string {
  return value === undefined ? "(none)" : `"${value}"`;
}
