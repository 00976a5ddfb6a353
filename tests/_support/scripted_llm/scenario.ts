/**
 * The scenario file format of the scripted LLM: rules that say which requests they answer and with
 * what — a JSON value, raw text, a refusal, an HTTP error or a hang. Files are parsed strictly so a
 * typo in a fixture fails loudly at start-up, not as a puzzling test failure later. The format is
 * documented in `tests/fixtures/llm/README.md`.
 */
import { z } from "zod";

const Usage = z.strictObject({
  prompt_tokens: z.number().int().min(0),
  completion_tokens: z.number().int().min(0),
});

const Common = {
  /** Wait this long before answering. */
  latency_ms: z.number().int().min(0).optional(),
  /** Token counts to report instead of the computed ones. */
  usage: Usage.optional(),
};

const FinishReason = z.enum(["stop", "length", "content_filter"]);

/** One scripted answer. */
export const ScriptedAnswer = z.discriminatedUnion("kind", [
  /** A JSON value, serialised as the message content (valid or not for the request's schema). */
  z.strictObject({ kind: z.literal("json"), value: z.json(), ...Common }),
  /** Content sent as is: malformed JSON, prose, a fenced block, a truncated answer. */
  z.strictObject({
    kind: z.literal("text"),
    text: z.string(),
    finish_reason: FinishReason.optional(),
    ...Common,
  }),
  /** A refusal (`message.refusal`, no content). */
  z.strictObject({ kind: z.literal("refusal"), refusal: z.string().min(1), ...Common }),
  /** An HTTP error with an OpenAI-style error body; `retry_after_ms` sets the retry headers. */
  z.strictObject({
    kind: z.literal("http_error"),
    status: z.number().int().min(400).max(599),
    message: z.string().optional(),
    retry_after_ms: z.number().int().min(0).optional(),
    latency_ms: Common.latency_ms,
  }),
  /** No answer for `ms` (longer than the client's timeout), then a 504 if anyone still listens. */
  z.strictObject({ kind: z.literal("hang"), ms: z.number().int().positive() }),
]);
export type ScriptedAnswer = z.infer<typeof ScriptedAnswer>;

/** What a rule answers. Every given field must hold; an empty match answers everything. */
export const RuleMatch = z.strictObject({
  /** Equals the `x-bt-agent` header. */
  agent: z.string().min(1).optional(),
  /** Equals the `x-bt-phase` header. */
  phase: z.string().min(1).optional(),
  /** Equals `response_format.json_schema.name`. */
  schema: z.string().min(1).optional(),
  /** Each string occurs (case-sensitively) in at least one message of the request. */
  contains: z.union([z.string().min(1), z.array(z.string().min(1))]).optional(),
});
export type RuleMatch = z.infer<typeof RuleMatch>;

/** A rule: requests it matches get its answers in order. */
export const ScriptRule = z.strictObject({
  name: z.string().min(1),
  match: RuleMatch.default({}),
  answers: z.array(ScriptedAnswer).min(1),
  /**
   * After the last answer: `repeat_last` keeps giving it; `fall_through` lets later rules answer
   * (or the request goes unmatched).
   */
  exhausted: z.enum(["repeat_last", "fall_through"]).default("repeat_last"),
});
export type ScriptRule = z.infer<typeof ScriptRule>;

/** A scenario file. */
export const Scenario = z.strictObject({
  $schema: z.string().optional(),
  description: z.string().optional(),
  rules: z.array(ScriptRule),
});
/** A parsed scenario. */
export type Scenario = z.infer<typeof Scenario>;
/** A scenario as written (defaults may be left out). */
export type ScenarioInput = z.input<typeof Scenario>;

/** Parses a scenario written in code, naming what is wrong with it. */
export function parseScenario(input: unknown, origin = "scenario"): Scenario {
  const parsed = Scenario.safeParse(input);
  if (parsed.success) return parsed.data;
  throw new Error(`${origin} is not a valid scenario:\n${z.prettifyError(parsed.error)}`);
}

/** Reads and parses a scenario file (JSON). */
export async function loadScenarioFile(path: string | URL): Promise<Scenario> {
  const origin = path instanceof URL ? path.pathname : path;
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    throw new Error(`scenario file ${origin} cannot be read: ${(e as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new Error(`scenario file ${origin} is not JSON: ${(e as Error).message}`);
  }
  return parseScenario(json, `scenario file ${origin}`);
}
