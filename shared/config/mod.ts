/**
 * Configuration from the environment, parsed once with zod. A missing or malformed variable stops
 * start-up with an error that names it, instead of surfacing later as a confusing failure.
 *
 * @example
 * ```ts
 * const cfg = loadConfig(z.object({ SUPABASE_DB_URL: z.string().url() }));
 * ```
 */
import { z } from "zod";
import { AppError } from "../errors/mod.ts";

/** Parses `env` (default: the process environment) with `schema`, naming every bad variable. */
export function loadConfig<S extends z.ZodType>(
  schema: S,
  env: Record<string, string | undefined> = Deno.env.toObject(),
): z.infer<S> {
  const parsed = schema.safeParse(env);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((issue) => {
    const name = issue.path.join(".");
    const missing = env[name] === undefined || env[name] === "";
    return missing ? `${name} is not set` : `${name}: ${issue.message}`;
  });
  throw new AppError(
    "config_missing",
    `configuration error: ${problems.join("; ")}`,
    { variables: parsed.error.issues.map((i) => i.path.join(".")) },
  );
}

/** The variables every edge function receives from the platform (Supabase or the local gateway). */
export const FunctionEnv = z.object({
  SUPABASE_URL: z.url(),
  SUPABASE_ANON_KEY: z.string().min(1),
  SUPABASE_SERVICE_ROLE_KEY: z.string().min(1),
  SUPABASE_DB_URL: z.string().min(1),
});
export type FunctionEnv = z.infer<typeof FunctionEnv>;

/**
 * A positive number from `env[name]`, or `fallback` when it is unset or empty; anything else stops
 * start-up with `config_invalid` naming the variable.
 *
 * @example
 * ```ts
 * const totalMs = positiveNumber(Deno.env.toObject(), "BT_VALIDATION_TOTAL_MS", 30_000);
 * ```
 */
export function positiveNumber(
  env: Record<string, string | undefined>,
  name: string,
  fallback: number,
): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) {
    throw new AppError("config_invalid", `configuration error: ${name} must be a positive number`, {
      variables: [name],
    });
  }
  return n;
}
