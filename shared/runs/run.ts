/**
 * The run: what a user asks for (the create request, its context and options), what the product
 * stores about it, and how a user answers its clarifying questions. Request schemas are strict, so
 * a misspelt field is a 400 and not silently ignored; row schemas strip columns the API does not
 * show (such as the worker lease).
 *
 * @example
 * ```ts
 * const body = CreateRunRequest.parse({ request: "A todo API with per-user lists" });
 * ```
 */
import { z } from "zod";
import { Complexity, Strategy } from "../plan/mod.ts";
import { RunStatus } from "./status.ts";
import { Count, Dollars, Id, JsonObject, Timestamp, UserText } from "./scalars.ts";

/** Most characters a request may have (the `runs.request` check constraint says the same). */
export const MAX_REQUEST_CHARS = 20_000;

/** What the user tells the product about their project. */
export const RunContext = z.strictObject({
  schema_sql: UserText(200_000).optional().meta({
    description: "The project's current schema (SQL), so new migrations build on it.",
  }),
  conventions: UserText(20_000).optional().meta({
    description: "Naming and style rules the output must follow.",
  }),
  stack: UserText(2_000).optional().meta({
    description: "The client stack that will use the backend (e.g. 'Next.js + supabase-js').",
  }),
}).meta({ id: "RunContext" });
export type RunContext = z.infer<typeof RunContext>;

/** Limits the user sets for a run. */
export const RunOptions = z.strictObject({
  token_budget: z.int().min(1_000).max(2_000_000).optional().meta({
    description: "Most LLM tokens (prompt + completion) the run may use; default 200000.",
  }),
  max_parallel: z.int().min(1).max(16).optional().meta({
    description: "Most tasks executed at the same time.",
  }),
  cost_budget_usd: z.number().positive().max(100_000).optional().meta({
    description: "Most US dollars the run may spend on LLM answers (priced by the model's price " +
      "table entry); the answer that takes the run over it fails the run with budget_exceeded. " +
      "A run whose model has no price fails the same way, since the budget cannot be kept.",
  }),
}).meta({ id: "RunOptions" });
export type RunOptions = z.infer<typeof RunOptions>;

/** Body of `POST /runs`. */
export const CreateRunRequest = z.strictObject({
  request: UserText(MAX_REQUEST_CHARS).min(1).refine((s) => s.length === 0 || s.trim().length > 0, {
    message: "must not be blank",
  }).meta({ description: "What the backend should do, in plain language." }),
  context: RunContext.optional(),
  options: RunOptions.optional(),
}).meta({ id: "CreateRunRequest" });
export type CreateRunRequest = z.infer<typeof CreateRunRequest>;

export { Complexity, Strategy };

/** Why a run or task failed. */
export const Failure = z.looseObject({ code: z.string(), message: z.string() });

/** One answer: free text, a choice, a yes/no, a number, or several choices. */
export const AnswerValue = z.union([
  UserText(5_000),
  z.boolean(),
  z.number(),
  z.array(UserText(1_000)).max(50),
]);

/** Answers keyed by question id. */
export const Answers = z.record(z.string().min(1).max(100), AnswerValue).refine(
  (a) => Object.keys(a).length >= 1 && Object.keys(a).length <= 100,
  { message: "must answer between 1 and 100 questions" },
);
export type Answers = z.infer<typeof Answers>;

/** Body of `POST /runs/{id}/answers`. */
export const AnswerRequest = z.strictObject({ answers: Answers }).meta({ id: "AnswerRequest" });
export type AnswerRequest = z.infer<typeof AnswerRequest>;

/** The questions a run is waiting on, and the answers once given. */
export const Clarification = z.looseObject({
  questions: z.array(z.unknown()).optional(),
  answers: JsonObject.nullable().optional(),
  reason: z.string().optional(),
});
export type Clarification = z.infer<typeof Clarification>;

/** A run as the API shows it. */
export const Run = z.object({
  id: Id,
  status: RunStatus,
  request: z.string(),
  // Same fields as the request schemas, but stripping instead of rejecting: a stored row is read.
  context: z.object(RunContext.shape),
  options: z.object(RunOptions.shape),
  complexity: Complexity.nullable(),
  strategy: Strategy.nullable(),
  understanding: JsonObject.nullable(),
  plan: JsonObject.nullable(),
  clarification: Clarification.nullable(),
  token_budget: Count,
  prompt_tokens: Count,
  completion_tokens: Count,
  cost_usd: Dollars.meta({
    description: "US dollars the run's LLM answers cost so far, at the price table in force at " +
      "each call; null when a model without a price answered (unknown, never guessed).",
  }),
  cost_budget_usd: Dollars.meta({ description: "options.cost_budget_usd; null for none." }),
  prompt_version: z.string().nullable(),
  error: Failure.nullable(),
  result: z.unknown().nullable(),
  last_seq: Count.meta({ description: "Sequence number of the run's latest event." }),
  created_at: Timestamp,
  updated_at: Timestamp,
  completed_at: Timestamp.nullable(),
}).meta({ id: "Run" });
export type Run = z.infer<typeof Run>;

/** A run in a list: without the large documents (plan, understanding, result). */
export const RunSummary = Run.pick({
  id: true,
  status: true,
  request: true,
  complexity: true,
  strategy: true,
  token_budget: true,
  prompt_tokens: true,
  completion_tokens: true,
  cost_usd: true,
  cost_budget_usd: true,
  error: true,
  last_seq: true,
  created_at: true,
  updated_at: true,
  completed_at: true,
}).meta({ id: "RunSummary" });
export type RunSummary = z.infer<typeof RunSummary>;
