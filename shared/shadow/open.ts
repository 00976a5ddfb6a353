/**
 * Picks and starts a shadow backend: PGlite unless PostgreSQL is asked for, and PostgreSQL only on
 * the server `SHADOW_DATABASE_URL` names — a server for disposable databases, not the product's.
 * Shadows are meant to live as long as the process (bootstrapping costs seconds, a session
 * milliseconds), so {@link sharedShadow} keeps one per backend.
 *
 * @example
 * ```ts
 * const shadow = await sharedShadow("pglite");
 * await using session = await shadow.open();
 * ```
 */
import { AppError } from "../errors/mod.ts";
import { createPgliteShadow, type PgliteShadowOptions } from "./pglite_backend.ts";
import { assertSeparateServers, createPostgresShadow } from "./postgres_backend.ts";
import type { ShadowBackend, ShadowDatabase } from "./port.ts";

/** Options of {@link openShadow}. */
export interface OpenShadowOptions extends PgliteShadowOptions {
  backend?: ShadowBackend;
  /** Admin URL of the PostgreSQL shadow server (default `SHADOW_DATABASE_URL`). */
  postgresUrl?: string;
  /** Longest a statement may wait for a lock on PostgreSQL, in ms. */
  lockTimeoutMs?: number;
}

/** Starts a new shadow of the chosen backend (default PGlite). */
export async function openShadow(options: OpenShadowOptions = {}): Promise<ShadowDatabase> {
  if ((options.backend ?? "pglite") === "pglite") return await createPgliteShadow(options);
  const url = options.postgresUrl ?? Deno.env.get("SHADOW_DATABASE_URL");
  if (!url) {
    throw new AppError(
      "config_missing",
      "configuration error: SHADOW_DATABASE_URL is not set (needed for the postgres shadow)",
      { variables: ["SHADOW_DATABASE_URL"] },
    );
  }
  return await createPostgresShadow({
    adminUrl: url,
    statementTimeoutMs: options.statementTimeoutMs,
    lockTimeoutMs: options.lockTimeoutMs,
  });
}

const shared = new Map<ShadowBackend, Promise<ShadowDatabase>>();

/**
 * The process-wide shadow of a backend, started on first use (with `options`, which later calls
 * do not change). A start that fails is forgotten, so the next call tries again.
 */
export function sharedShadow(
  backend: ShadowBackend = "pglite",
  options: Omit<OpenShadowOptions, "backend"> = {},
): Promise<ShadowDatabase> {
  let shadow = shared.get(backend);
  if (!shadow) {
    shadow = openShadow({ ...options, backend });
    shared.set(backend, shadow);
    shadow.catch(() => shared.delete(backend));
  }
  return shadow;
}

/** Closes the shared shadows (for tests and graceful shutdown). */
export async function closeSharedShadows(): Promise<void> {
  const all = [...shared.values()];
  shared.clear();
  await Promise.all(all.map(async (s) => (await s.catch(() => undefined))?.close()));
}

/**
 * The start-up check of every function that reads `SHADOW_DATABASE_URL`: when both it and the
 * product's database (`SUPABASE_DB_URL`) are set, they must be different servers, compared by
 * `system_identifier`. Throws `config_invalid` otherwise; a function then refuses to start.
 */
export async function checkShadowServer(
  env: Record<string, string | undefined> = Deno.env.toObject(),
): Promise<void> {
  const shadowUrl = env.SHADOW_DATABASE_URL;
  const productUrl = env.SUPABASE_DB_URL;
  if (!shadowUrl || !productUrl) return;
  await assertSeparateServers(shadowUrl, productUrl);
}

/**
 * Runs {@link checkShadowServer} at a function's start and ends the process with the error's
 * message when it fails: a misconfigured shadow must stop the function, not its first user.
 */
export async function refuseSharedShadowServer(
  env: Record<string, string | undefined> = Deno.env.toObject(),
): Promise<void> {
  try {
    await checkShadowServer(env);
  } catch (e) {
    if (e instanceof AppError && e.code === "config_invalid") {
      console.error(e.message);
      Deno.exit(1);
    }
    // The servers could not be reached to compare: the shadow will say so on first use.
    console.error(`shadow server check skipped: ${(e as Error).message}`);
  }
}
