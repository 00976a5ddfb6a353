/**
 * What the validator reports: findings, each naming a rule, a level, and where (file, line,
 * statement). Rule names follow Supabase's database linter (Splinter) where it has the check, and
 * Squawk's rule names (in snake case) for migration-safety checks, so people and agents can look
 * them up; the rest are ours. The catalog below is the one list of rules and their levels.
 *
 * @example
 * ```ts
 * const f: Finding = { rule: "no_primary_key", level: "info", message: "…", file: "001.sql",
 *   line: 3, statement: "create table …" };
 * Finding.parse(f);
 * ```
 */
import { z } from "zod";

/** How serious a finding is; any `error` makes a validation fail. */
export const Level = z.enum(["error", "warn", "info"]);
export type Level = z.infer<typeof Level>;

/** Where a rule comes from. */
export type RuleSource = "postgres" | "splinter" | "squawk" | "backend-team";

interface RuleInfo {
  level: Level;
  source: RuleSource;
  /** One line: what the rule catches. */
  summary: string;
}

/** Every rule the validator can report. */
export const RULES = {
  syntax_error: {
    level: "error",
    source: "postgres",
    summary: "the file does not parse (Postgres' own parser)",
  },
  apply_error: {
    level: "error",
    source: "postgres",
    summary: "a statement failed when applied in order on the shadow database",
  },
  statement_timeout: {
    level: "error",
    source: "backend-team",
    summary: "a statement ran past the shadow's timeout and was stopped",
  },
  resource_limit: {
    level: "error",
    source: "backend-team",
    summary: "the validation used more than a shadow may (total time, statements, SQL size or " +
      "disk) and was stopped; its database was dropped",
  },
  unsafe_statement: {
    level: "error",
    source: "backend-team",
    summary: "a statement reaching outside the database (server files, programs, roles, " +
      "other databases, server settings); not run",
  },
  checks_skipped: {
    level: "info",
    source: "backend-team",
    summary: "checks on the applied schema did not run because applying stopped, or the shadow " +
      "lacks what a check needs (plpgsql_check on PGlite)",
  },
  rls_disabled_in_public: {
    level: "error",
    source: "splinter",
    summary: "a table in an exposed schema that the API roles can reach has RLS disabled",
  },
  rls_enabled_no_policy: {
    level: "info",
    source: "splinter",
    summary: "RLS is enabled but no policy exists (every API request is denied)",
  },
  policy_exists_rls_disabled: {
    level: "error",
    source: "splinter",
    summary: "policies exist but RLS is disabled, so they do nothing",
  },
  auth_users_exposed: {
    level: "error",
    source: "splinter",
    summary: "a view in an exposed schema exposes auth.users to the API roles",
  },
  security_definer_view: {
    level: "error",
    source: "splinter",
    summary: "a view in an exposed schema runs with its owner's rights (no security_invoker)",
  },
  function_search_path_mutable: {
    level: "warn",
    source: "splinter",
    summary: "a function does not pin search_path",
  },
  extension_in_public: {
    level: "warn",
    source: "splinter",
    summary: "an extension is installed in public",
  },
  rls_isolation_leak: {
    level: "error",
    source: "backend-team",
    summary: "a behavioural probe let another user or anon read or change a user's rows",
  },
  rls_owner_access: {
    level: "warn",
    source: "backend-team",
    summary: "a behavioural probe found the owner cannot read or change their own rows",
  },
  auth_signup_fails: {
    level: "error",
    source: "backend-team",
    summary: "creating a user in auth.users fails (a trigger on it errors), so every sign-up would",
  },
  probe_not_built: {
    level: "info",
    source: "backend-team",
    summary: "an isolation probe could not be built for a table (says why)",
  },
  auth_rls_initplan: {
    level: "warn",
    source: "splinter",
    summary: "a policy calls auth.uid()/auth.jwt()/current_setting() per row instead of " +
      "once in (select …)",
  },
  multiple_permissive_policies: {
    level: "warn",
    source: "splinter",
    summary: "several permissive policies for the same role and action (each is evaluated)",
  },
  unindexed_foreign_keys: {
    level: "info",
    source: "splinter",
    summary: "a foreign key has no index covering its columns",
  },
  duplicate_index: {
    level: "warn",
    source: "splinter",
    summary: "identical indexes on the same table (same columns, order, sort direction, " +
      "operator classes, collations, expressions, predicate, included columns and uniqueness)",
  },
  no_primary_key: {
    level: "info",
    source: "splinter",
    summary: "a table has no primary key",
  },
  rls_references_user_metadata: {
    level: "error",
    source: "splinter",
    summary: "a policy (or a SQL helper it calls) reads the JWT's user_metadata or " +
      "auth.users.raw_user_meta_data, which every user can edit for themselves",
  },
  materialized_view_in_api: {
    level: "warn",
    source: "splinter",
    summary: "a materialized view in an exposed schema is selectable by the API roles (no RLS " +
      "applies to it)",
  },
  foreign_table_in_api: {
    level: "warn",
    source: "splinter",
    summary: "a foreign table in an exposed schema is selectable by the API roles (no RLS " +
      "applies to it)",
  },
  unsupported_reg_types: {
    level: "warn",
    source: "splinter",
    summary: "a column uses a reg* type (regproc, regoper, regconfig, …) that blocks pg_upgrade",
  },
  insecure_queue_exposed_in_api: {
    level: "error",
    source: "splinter",
    summary: "a pgmq queue table the API roles can select has RLS disabled while pgmq_public " +
      "is exposed",
  },
  fkey_to_auth_unique: {
    level: "error",
    source: "splinter",
    summary: "a foreign key references a unique constraint in the auth schema (not its primary " +
      "key), which Supabase Auth may change",
  },
  rls_policy_always_true: {
    level: "warn",
    source: "splinter",
    summary: "a permissive insert, update, delete or all policy for the API roles is true for " +
      "every row (`using (true)`, `with check (true)` or none), so it does not restrict that " +
      "action",
  },
  sensitive_columns_exposed: {
    level: "error",
    source: "splinter",
    summary: "a table the API roles can select, without RLS, has columns named like secrets or " +
      "personal data (password, token, ssn, iban, …)",
  },
  anon_security_definer_function_executable: {
    level: "warn",
    source: "splinter",
    summary: "a SECURITY DEFINER function in an exposed schema is executable by anon (callable " +
      "without signing in through /rest/v1/rpc)",
  },
  authenticated_security_definer_function_executable: {
    level: "warn",
    source: "splinter",
    summary: "a SECURITY DEFINER function in an exposed schema is executable by authenticated " +
      "(any signed-in user can call it through /rest/v1/rpc)",
  },
  require_concurrent_index_creation: {
    level: "warn",
    source: "squawk",
    summary: "an index on an existing table is built without CONCURRENTLY (blocks writes)",
  },
  adding_required_field: {
    level: "warn",
    source: "squawk",
    summary: "a NOT NULL column without a default is added to an existing table",
  },
  ban_drop_table: {
    level: "warn",
    source: "squawk",
    summary: "an existing table is dropped (data loss)",
  },
  ban_drop_column: {
    level: "warn",
    source: "squawk",
    summary: "a column of an existing table is dropped (data loss, breaks clients)",
  },
  renaming_table: {
    level: "warn",
    source: "squawk",
    summary: "an existing table is renamed (breaks clients)",
  },
  renaming_column: {
    level: "warn",
    source: "squawk",
    summary: "a column of an existing table is renamed (breaks clients)",
  },
  prefer_timestamptz: {
    level: "warn",
    source: "squawk",
    summary: "timestamp without time zone",
  },
  prefer_identity: {
    level: "warn",
    source: "squawk",
    summary: "a serial primary key; use bigint generated always as identity (or uuid)",
  },
  prefer_bigint_over_int: {
    level: "warn",
    source: "squawk",
    summary: "an int/smallint primary key; use bigint (or uuid)",
  },
  ban_uncommitted_transaction: {
    level: "warn",
    source: "squawk",
    summary: "BEGIN without a matching COMMIT",
  },
  rollback_mismatch: {
    level: "error",
    source: "backend-team",
    summary: "applying the down migration after the up does not restore the previous schema",
  },
  index_not_used: {
    level: "error",
    source: "backend-team",
    summary: "EXPLAIN of a query does not use the index it is meant to use",
  },
  query_error: {
    level: "error",
    source: "backend-team",
    summary: "a query given to EXPLAIN failed",
  },
  import_not_allowed: {
    level: "error",
    source: "backend-team",
    summary: "a function source imports something other than a submitted file or an npm:/jsr: " +
      "package (file:, absolute paths, escapes with .., remote URLs); it was not read or checked",
  },
  plpgsql_check: {
    level: "error",
    source: "postgres",
    summary: "a PL/pgSQL body names a missing table or column or mistypes (plpgsql_check, as " +
      "`supabase db lint` runs it); Postgres accepts such a body and fails only when it runs",
  },
  plpgsql_check_warning: {
    level: "warn",
    source: "postgres",
    summary: "plpgsql_check warns about a PL/pgSQL body (unused variable, lossy assignment, …), " +
      "as `supabase db lint --level warning` does",
  },
  typecheck_error: {
    level: "error",
    source: "backend-team",
    summary: "an edge function does not type-check (deno check)",
  },
  rls_public_read_on_owned_table: {
    level: "warn",
    source: "backend-team",
    summary: "a select policy is true for every caller and every row on a table whose rows " +
      "belong to users (an owner column): anyone the policy names reads every user's rows; " +
      "accept it when the table is public by design",
  },
  index_no_improvement: {
    level: "warn",
    source: "backend-team",
    summary: "EXPLAIN (ANALYZE, BUFFERS) on synthetic rows at a realistic scale shows the index " +
      "does not make its query cheaper (time and buffers compared with the index dropped)",
  },
  index_benefit_measured: {
    level: "info",
    source: "backend-team",
    summary: "EXPLAIN (ANALYZE, BUFFERS) on synthetic rows shows the index makes its query " +
      "cheaper; the message carries both plans, times and buffers",
  },
  index_benefit_not_measured: {
    level: "info",
    source: "backend-team",
    summary: "the index's benefit could not be measured (rows could not be synthesized, the " +
      "query failed, or the time budget was spent); says why",
  },
  n_plus_one: {
    level: "warn",
    source: "backend-team",
    summary: "an edge function queries inside a loop over another query's rows (one round " +
      "trip per row); fetch them in one query (join, `in (...)`, an embedded select)",
  },
  realtime_isolation_leak: {
    level: "error",
    source: "backend-team",
    summary: "another user or anon joined a user's private Realtime channel, or received what " +
      "was sent on it (joined with the real client against a shadow Realtime)",
  },
  realtime_owner_access: {
    level: "warn",
    source: "backend-team",
    summary: "the owner of a private Realtime channel could not join it or did not receive " +
      "what was sent on it",
  },
  realtime_probe_not_run: {
    level: "info",
    source: "backend-team",
    summary: "delivered channels were not joined: no shadow Realtime here (no channel probe " +
      "given, or a shadow without a server to connect to, e.g. PGlite)",
  },
  function_boot_error: {
    level: "error",
    source: "backend-team",
    summary: "a delivered edge function did not start (it threw or exited while loading, or " +
      "never listened) in a sandboxed subprocess against the shadow database",
  },
  function_error_unhandled: {
    level: "error",
    source: "backend-team",
    summary: "a delivered edge function answered a generated check (preflight, no token, " +
      "malformed JSON) with a 5xx, no answer in time, or its process died",
  },
  function_contract_mismatch: {
    level: "warn",
    source: "backend-team",
    summary: "a delivered edge function's answer breaks the HTTP contract: no CORS on the " +
      "OPTIONS preflight, not 401 without a token, malformed JSON not answered with a 4xx " +
      "JSON error, or a documented endpoint answering an undocumented status or a body its " +
      "response JSON Schema refuses (ajv, with the error path)",
  },
  function_isolation_leak: {
    level: "error",
    source: "backend-team",
    summary: "a delivered edge function, called with another user's token, answered with rows " +
      "seeded for the owner (their ids or marker values appear in its response)",
  },
  function_isolation_not_shown: {
    level: "info",
    source: "backend-team",
    summary: "a delivered edge function's isolation was not shown: called as the owner it " +
      "answered none of the owner's seeded rows (or no users/rows could be seeded), so another " +
      "user's empty answer proves nothing",
  },
  deploy_config_invalid: {
    level: "error",
    source: "backend-team",
    summary: "a delivered config.toml does not parse, or a [functions.<name>] table is malformed " +
      "(not a table, a name the CLI cannot deploy, verify_jwt/enabled not a boolean)",
  },
  deploy_config_unknown_function: {
    level: "error",
    source: "backend-team",
    summary: "a delivered config.toml configures [functions.<name>] for a function the " +
      "deliverable does not contain",
  },
  function_env_undeclared: {
    level: "error",
    source: "backend-team",
    summary: "a delivered edge function reads an environment variable (without a fallback) that " +
      "the deliverable's env list does not declare and the platform does not provide",
  },
  verify_jwt_mismatch: {
    level: "error",
    source: "backend-team",
    summary: "a function's verify_jwt contradicts its code: false on a function using the " +
      "service role or the database without its own check, true on a webhook-like function " +
      "checking a shared secret, or config.toml disagreeing with the function's declaration",
  },
  function_probe_not_run: {
    level: "info",
    source: "backend-team",
    summary: "delivered edge functions were not started: no subprocesses here, or a shadow " +
      "without a server they can connect to (PGlite)",
  },
  contract_violation: {
    level: "error",
    source: "backend-team",
    summary: "a task's output breaks a plan contract it consumes: an API endpoint names a " +
      "table, column or function the run's schema does not have",
  },
  typecheck_not_run: {
    level: "info",
    source: "backend-team",
    summary: "`deno check` could not run here (no subprocesses: Supabase Edge Runtime or " +
      "--deny-run); the sources' imports were checked, their types were not",
  },
} as const satisfies Record<string, RuleInfo>;

/** A rule name. */
export type RuleName = keyof typeof RULES;
const RULE_NAMES = Object.keys(RULES) as [RuleName, ...RuleName[]];
/** Rule names as a zod enum. */
export const RuleName = z.enum(RULE_NAMES);

/** One thing the validator found. */
export const Finding = z.object({
  rule: RuleName,
  level: Level,
  message: z.string(),
  /** The file it is about (as named in the request), or null for the whole validation. */
  file: z.string().nullable(),
  /** 1-based line in `file`, when known. */
  line: z.number().int().positive().nullable(),
  /** The statement it is about, when known. */
  statement: z.string().nullable(),
  /** The database object, e.g. `public.trades` or `public.trades.user_id`. */
  object: z.string().optional(),
}).meta({ id: "Finding" });
export type Finding = z.infer<typeof Finding>;

/** A finding at its rule's level. */
export function finding(
  rule: RuleName,
  message: string,
  where: { file?: string | null; line?: number | null; statement?: string | null; object?: string },
): Finding {
  return {
    rule,
    level: RULES[rule].level,
    message,
    file: where.file ?? null,
    line: where.line ?? null,
    statement: where.statement ?? null,
    ...(where.object ? { object: where.object } : {}),
  };
}
