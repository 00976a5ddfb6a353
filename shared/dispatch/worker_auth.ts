/**
 * Worker functions are not user-facing: `verify_jwt = false`, and they check the caller
 * themselves against the worker secrets, so they accept Supabase's new non-JWT `sb_secret_` keys
 * as well as the legacy service-role JWT and a dedicated `BT_WORKER_SECRET` (what the cron job
 * sends from Vault). A missing or wrong secret is a 401 before anything is touched.
 *
 * @example
 * ```ts
 * const secrets = workerSecretsFromEnv(Deno.env.toObject());
 * if (!isWorkerCaller(req, secrets)) return new Response(null, { status: 401 });
 * ```
 */
import { timingSafeEqual } from "node:crypto";
import { bearerToken } from "../auth/mod.ts";

/** The secrets a worker accepts, from its environment (empty ones are ignored). */
export function workerSecretsFromEnv(env: Record<string, string | undefined>): string[] {
  const secrets = [env.BT_WORKER_SECRET, env.SUPABASE_SERVICE_ROLE_KEY];
  // SUPABASE_SECRET_KEYS is a JSON object of named `sb_secret_…` keys on hosted projects.
  try {
    const keys = JSON.parse(env.SUPABASE_SECRET_KEYS ?? "{}") as Record<string, unknown>;
    for (const value of Object.values(keys)) if (typeof value === "string") secrets.push(value);
  } catch {
    // Not JSON: no secret keys from it.
  }
  return secrets.filter((s): s is string => typeof s === "string" && s.length >= 16);
}

/** Whether the request carries one of `secrets` as `apikey` or bearer token. */
export function isWorkerCaller(req: Request, secrets: readonly string[]): boolean {
  const offered = [req.headers.get("apikey"), bearerToken(req.headers.get("authorization"))]
    .filter((s): s is string => !!s);
  return offered.some((o) => secrets.some((s) => sameSecret(o, s)));
}

function sameSecret(a: string, b: string): boolean {
  const x = new TextEncoder().encode(a);
  const y = new TextEncoder().encode(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
