/**
 * Disposable shadow databases for untrusted SQL: the {@link ShadowDatabase} port and its two
 * backends — PGlite (default; in-process WASM Postgres in a killable child process, restored from
 * a bootstrapped snapshot) and PostgreSQL (a fresh database per session from a template, on the
 * server `SHADOW_DATABASE_URL` names, as an unprivileged role). Both hold the local stack's Supabase
 * platform SQL. The product database is never one of them.
 *
 * @example
 * ```ts
 * import { sharedShadow } from "../shadow/mod.ts";
 * const shadow = await sharedShadow("pglite");
 * await using session = await shadow.open();
 * await session.exec("create table public.t (id bigint primary key)");
 * ```
 */
export {
  type ApiRole,
  type Identity,
  type OpenOptions,
  type Row,
  type RunOptions,
  type ShadowBackend,
  ShadowClosedError,
  type ShadowDatabase,
  ShadowResourceLimitError,
  type ShadowSession,
  ShadowSqlError,
  ShadowTimeoutError,
  type SqlErrorFacts,
  type StatementResult,
} from "./port.ts";
export {
  canSpawnProcesses,
  createPgliteShadow,
  DEFAULT_STATEMENT_TIMEOUT_MS,
  type PgliteShadowOptions,
} from "./pglite_backend.ts";
export {
  assertSeparateServers,
  createPostgresShadow,
  type PostgresShadowOptions,
} from "./postgres_backend.ts";
export {
  checkShadowServer,
  closeSharedShadows,
  openShadow,
  type OpenShadowOptions,
  refuseSharedShadowServer,
  sharedShadow,
} from "./open.ts";
export { PGLITE_EXTENSIONS } from "./_pglite_instance.ts";
export { SHADOW_OWNER, SHADOW_SETUP_SQL, shadowBootstrapScripts } from "./platform.ts";
