/**
 * The checkpoint suites as validator rule groups: which of the validator's rules (the catalog in
 * shared/validation/finding.ts) each suite judges, and which of a plan checkpoint's `validate`
 * items select which suites. A suite named as such (`"indexes"`) is strict: its `fails` rules fail
 * the checkpoint at any level (an unindexed foreign key is only `info` for a task, but an `indexes`
 * checkpoint is there to catch it). A suite a sentence names ("EXPLAIN uses the new indexes") is
 * judged at the rules' own levels: only its `error` findings fail — on the accumulated output,
 * where problems across tasks show. Its `reports` rules are shown with the verdict. Pure.
 *
 * | suite     | fails on                                                                          |
 * |-----------|-----------------------------------------------------------------------------------|
 * | schema    | syntax_error, apply_error, statement_timeout, resource_limit, unsafe_statement, rollback_mismatch, plpgsql_check, fkey_to_auth_unique |
 * | rls       | rls_disabled_in_public, policy_exists_rls_disabled, rls_isolation_leak, rls_owner_access, auth_users_exposed, security_definer_view, auth_signup_fails, rls_references_user_metadata, insecure_queue_exposed_in_api, sensitive_columns_exposed |
 * | indexes   | unindexed_foreign_keys, duplicate_index, index_not_used, index_no_improvement, query_error |
 * | safety    | require_concurrent_index_creation, adding_required_field, ban_drop_table, ban_drop_column, renaming_table, renaming_column, ban_uncommitted_transaction, unsafe_statement |
 * | types     | prefer_timestamptz, prefer_identity, prefer_bigint_over_int, typecheck_error, import_not_allowed |
 * | functions | function_boot_error, function_error_unhandled, function_contract_mismatch, function_isolation_leak, deploy_config_invalid, deploy_config_unknown_function, function_env_undeclared, verify_jwt_mismatch, n_plus_one, function_search_path_mutable, plpgsql_check_warning |
 * | realtime  | realtime_isolation_leak, realtime_owner_access                                    |
 *
 * @example
 * ```ts
 * suitesOf({ after: "T1", validate: ["rls", "RLS isolates users", "schema applies"] });
 * // ["rls", "schema"]
 * ```
 */
import { type Checkpoint, CHECKPOINT_SUITES, type CheckpointSuite } from "../plan/mod.ts";
import type { RuleName } from "../validation/finding.ts";

/** A suite's rules: `fails` fail the checkpoint at any level, `reports` are shown only. */
export interface SuiteRules {
  fails: readonly RuleName[];
  reports: readonly RuleName[];
}

/** Each suite's rules (see the module doc). */
export const SUITE_RULES: Record<CheckpointSuite, SuiteRules> = {
  schema: {
    fails: [
      "syntax_error",
      "apply_error",
      "statement_timeout",
      "resource_limit",
      "unsafe_statement",
      "rollback_mismatch",
      "plpgsql_check",
      "fkey_to_auth_unique",
    ],
    reports: ["no_primary_key", "checks_skipped"],
  },
  rls: {
    fails: [
      "rls_disabled_in_public",
      "policy_exists_rls_disabled",
      "rls_isolation_leak",
      "rls_owner_access",
      "auth_users_exposed",
      "security_definer_view",
      "auth_signup_fails",
      "rls_references_user_metadata",
      "insecure_queue_exposed_in_api",
      "sensitive_columns_exposed",
    ],
    reports: [
      // A public read may be intended (a catalogue); it is shown, not failed.
      "rls_public_read_on_owned_table",
      "rls_enabled_no_policy",
      "auth_rls_initplan",
      "multiple_permissive_policies",
      "probe_not_built",
    ],
  },
  indexes: {
    fails: [
      "unindexed_foreign_keys",
      "duplicate_index",
      "index_not_used",
      "index_no_improvement",
      "query_error",
    ],
    reports: ["index_benefit_measured", "index_benefit_not_measured"],
  },
  safety: {
    fails: [
      "require_concurrent_index_creation",
      "adding_required_field",
      "ban_drop_table",
      "ban_drop_column",
      "renaming_table",
      "renaming_column",
      "ban_uncommitted_transaction",
      "unsafe_statement",
    ],
    reports: [],
  },
  types: {
    fails: [
      "prefer_timestamptz",
      "prefer_identity",
      "prefer_bigint_over_int",
      "typecheck_error",
      "import_not_allowed",
    ],
    reports: ["typecheck_not_run"],
  },
  functions: {
    fails: [
      "function_boot_error",
      "function_error_unhandled",
      "function_contract_mismatch",
      "function_isolation_leak",
      "deploy_config_invalid",
      "deploy_config_unknown_function",
      "function_env_undeclared",
      "verify_jwt_mismatch",
      "n_plus_one",
      "function_search_path_mutable",
      "plpgsql_check_warning",
    ],
    reports: ["function_probe_not_run", "function_isolation_not_shown"],
  },
  realtime: {
    fails: ["realtime_isolation_leak", "realtime_owner_access"],
    reports: ["realtime_probe_not_run"],
  },
};

/**
 * The suites a checkpoint runs: each `validate` item that is a suite name, or a sentence that names
 * suites as words ("RLS isolates users" → `rls`); items naming none select `schema` (the sentence
 * is kept in the verdict). In suite order, without repeats.
 */
export function suitesOf(checkpoint: Pick<Checkpoint, "validate">): CheckpointSuite[] {
  const chosen = new Set<CheckpointSuite>();
  for (const item of checkpoint.validate) {
    const named = namedSuites(item);
    if (named.length === 0) chosen.add("schema");
    for (const s of named) chosen.add(s);
  }
  return CHECKPOINT_SUITES.filter((s) => chosen.has(s));
}

/** The suites a checkpoint names exactly (`"rls"`, `"Indexes"`): judged strictly. */
export function strictSuitesOf(checkpoint: Pick<Checkpoint, "validate">): CheckpointSuite[] {
  const named = new Set(checkpoint.validate.map((v) => v.trim().toLowerCase()));
  return CHECKPOINT_SUITES.filter((s) => named.has(s));
}

/**
 * The suites an item names as words (case-insensitive; singular forms count: `index`, `type`,
 * `function`; "type-checks" names `types`).
 */
export function namedSuites(item: string): CheckpointSuite[] {
  const words = new Set(item.toLowerCase().split(/[^a-z]+/).filter(Boolean));
  const aliases: Record<CheckpointSuite, string[]> = {
    schema: ["schema"],
    rls: ["rls"],
    indexes: ["indexes", "index", "indices"],
    safety: ["safety"],
    types: ["types", "type", "typecheck"],
    functions: ["functions", "function"],
    realtime: ["realtime"],
  };
  return CHECKPOINT_SUITES.filter((s) => aliases[s].some((a) => words.has(a)));
}

/** A validator finding as the verdict reads it. */
export interface SuiteFinding {
  rule: string;
  level: string;
  message: string;
  file?: string | null;
  line?: number | null;
  statement?: string | null;
  object?: string;
}

/** What the suites made of a validation's findings. */
export interface SuiteVerdict {
  ok: boolean;
  /** The findings that fail the checkpoint (level raised to `error`). */
  failures: SuiteFinding[];
  /** Findings of the suites' `reports` rules and their passing levels, as they were. */
  reports: SuiteFinding[];
}

/**
 * Judges findings by the suites; see the module doc. `strict` are the suites whose rules fail at
 * any level (default: all of `suites`); the others fail on `error` findings only.
 */
export function judgeSuites(
  suites: readonly CheckpointSuite[],
  findings: readonly SuiteFinding[],
  strict: readonly CheckpointSuite[] = suites,
): SuiteVerdict {
  const strictRules = new Set<string>(
    suites.filter((s) => strict.includes(s)).flatMap((s) => SUITE_RULES[s].fails),
  );
  const fails = new Set<string>(suites.flatMap((s) => SUITE_RULES[s].fails));
  const reports = new Set<string>(suites.flatMap((s) => SUITE_RULES[s].reports));
  const failing = (f: SuiteFinding) =>
    strictRules.has(f.rule) || (fails.has(f.rule) && f.level === "error");
  const failures = findings.filter(failing).map((f) => ({
    ...f,
    level: "error",
  }));
  return {
    ok: failures.length === 0,
    failures,
    reports: findings.filter((f) => !failing(f) && (reports.has(f.rule) || fails.has(f.rule))),
  };
}
