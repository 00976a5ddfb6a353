/**
 * Failure classification (the seed's Phase 6.1): every failure — a validation finding's rule, or
 * an attempt's error code — gets one class, and each class names the agent(s) whose specialty can
 * fix it. The two tables below are the whole of it, so a reader can check them against the seed:
 *
 * | class          | from (rules / codes)                                      | fixed by                     | split after retries |
 * |----------------|-----------------------------------------------------------|------------------------------|---------------------|
 * | schema         | syntax_error, apply_error (own schema), rollback_mismatch, plpgsql_check, resource_limit, fkey_to_auth_unique, contract_violation | db-architect (a contract: the consumer retries) | yes |
 * | query          | index_not_used, query_error, statement_timeout            | query-optimizer              | yes                 |
 * | security       | rls_isolation_leak, rls_disabled_in_public, policy_exists_rls_disabled, auth_users_exposed, security_definer_view, auth_signup_fails, unsafe_statement, realtime_isolation_leak, function_isolation_leak, rls_references_user_metadata, insecure_queue_exposed_in_api, sensitive_columns_exposed | security | yes |
 * | function/build | typecheck_error, import_not_allowed, function_boot_error, function_error_unhandled | debugger, then the author | yes |
 * | deployment     | a build/runtime failure in a deployment task's output; deploy_config_invalid, deploy_config_unknown_function, function_env_undeclared, verify_jwt_mismatch | debugger, then deployment | yes |
 * | integration    | apply_error on an earlier task's objects; integration_failed; task_failed | debugger first, then the author | yes |
 * | model          | llm_unavailable, llm_invalid_output, upstream_unavailable, plan_invalid | the same agent (redelivery), then the user | no |
 * | budget         | budget_exceeded                                           | the user                     | no                  |
 * | infrastructure | infrastructure_error, database_error, internal, dead_lettered, anything unknown | the same agent (redelivery), then the user | no |
 *
 * Pure: no I/O.
 *
 * @example
 * ```ts
 * classifyFindings([{ rule: "rls_isolation_leak", level: "error" }], { agent: "db-architect",
 *   earlierObjects: [] }).class; // "security"
 * ```
 */
import type { AgentName } from "../plan/mod.ts";

/** The failure classes. */
export const FAILURE_CLASSES = [
  "schema",
  "query",
  "security",
  "function_build",
  "deployment",
  "integration",
  "model",
  "budget",
  "infrastructure",
] as const;
/** A failure class. */
export type FailureClass = typeof FAILURE_CLASSES[number];

/** Class of each validator rule that can fail a validation (level `error`). */
export const RULE_CLASS = {
  syntax_error: "schema",
  apply_error: "schema",
  rollback_mismatch: "schema",
  plpgsql_check: "schema",
  resource_limit: "schema",
  // An endpoint names a column the run's schema lacks: the consumer retries with the real ones.
  contract_violation: "schema",
  index_not_used: "query",
  query_error: "query",
  statement_timeout: "query",
  rls_isolation_leak: "security",
  rls_disabled_in_public: "security",
  policy_exists_rls_disabled: "security",
  auth_users_exposed: "security",
  security_definer_view: "security",
  auth_signup_fails: "security",
  unsafe_statement: "security",
  realtime_isolation_leak: "security",
  rls_references_user_metadata: "security",
  insecure_queue_exposed_in_api: "security",
  sensitive_columns_exposed: "security",
  fkey_to_auth_unique: "schema",
  typecheck_error: "function_build",
  import_not_allowed: "function_build",
  function_boot_error: "function_build",
  function_error_unhandled: "function_build",
  function_isolation_leak: "security",
  deploy_config_invalid: "deployment",
  deploy_config_unknown_function: "deployment",
  function_env_undeclared: "deployment",
  verify_jwt_mismatch: "deployment",
} as const satisfies Record<string, FailureClass>;

/** Class of each error code an attempt, a delivery or a run can fail with. */
export const CODE_CLASS = {
  validation_failed: "schema",
  llm_unavailable: "model",
  llm_invalid_output: "model",
  upstream_unavailable: "model",
  plan_invalid: "model",
  budget_exceeded: "budget",
  infrastructure_error: "infrastructure",
  database_error: "infrastructure",
  internal: "infrastructure",
  dead_lettered: "infrastructure",
  integration_failed: "integration",
  task_failed: "integration",
} as const satisfies Record<string, FailureClass>;

/**
 * Who fixes each class (Phase 6.1): `specialist` is the agent whose specialty the class names (null:
 * the agent that wrote the output, or the user); `diagnose` says the debugger looks first and the
 * fix comes after its diagnosis ("wrong results → debugger first, then fix", "build failed →
 * debugger + deployment"); `decompose` says a task still failing this way after its retries is
 * split by the planner into smaller tasks (Phase 6.2 "decompose further": every class of an
 * output that fails validation; not model, budget or infrastructure failures).
 */
export const CLASS_OWNER: Record<
  FailureClass,
  { specialist: AgentName | null; diagnose: boolean; decompose: boolean; seed: string }
> = {
  schema: {
    specialist: "db-architect",
    diagnose: false,
    decompose: true,
    seed: "Invalid SQL → db-architect fix",
  },
  query: {
    specialist: "query-optimizer",
    diagnose: false,
    decompose: true,
    seed: "Slow query → query-optimizer",
  },
  security: {
    specialist: "security",
    diagnose: false,
    decompose: true,
    seed: "RLS bypass → security (critical)",
  },
  function_build: {
    specialist: null,
    diagnose: true,
    decompose: true,
    seed: "Build failed → debugger + deployment",
  },
  deployment: {
    specialist: "deployment",
    diagnose: true,
    decompose: true,
    seed: "Build failed → debugger + deployment",
  },
  integration: {
    specialist: null,
    diagnose: true,
    decompose: true,
    seed: "Wrong results → debugger first, then fix",
  },
  // A smaller task does not make a model answer or a platform work, nor cost less in total.
  model: {
    specialist: null,
    diagnose: false,
    decompose: false,
    seed: "(transport) retry, then escalate",
  },
  budget: { specialist: null, diagnose: false, decompose: false, seed: "escalate: ask the user" },
  infrastructure: {
    specialist: null,
    diagnose: false,
    decompose: false,
    seed: "(transport) retry, then escalate",
  },
};

/** Severity order when one output fails several ways: the first class found wins. */
const PRIORITY: readonly FailureClass[] = [
  "integration",
  "schema",
  "deployment",
  "function_build",
  "security",
  "query",
];

/** The parts of a finding classification reads. */
export interface FindingLike {
  rule?: string;
  level?: string;
  message?: string;
  statement?: string | null;
}

/** A classified failure: its class, the rules (or code) behind it, and why. */
export interface Classification {
  class: FailureClass;
  /** Rules of the error findings of that class, or the error code. */
  causes: string[];
  reason: string;
}

/** Class of one rule, or undefined for rules that never fail a validation. */
export function classOfRule(rule: string): FailureClass | undefined {
  return (RULE_CLASS as Record<string, FailureClass>)[rule];
}

/** Class of an error code; codes nobody anticipated are infrastructure. */
export function classOfCode(code: string): FailureClass {
  return (CODE_CLASS as Record<string, FailureClass>)[code] ?? "infrastructure";
}

/**
 * Classifies a failed validation. An `apply_error` whose statement names an object an earlier task
 * created (`earlierObjects`, e.g. `positions` or `public.positions`) is a cross-task failure
 * (integration); one on the task's own schema is a schema error. A build failure in a deployment
 * task's output is a deployment error.
 */
export function classifyFindings(
  findings: readonly FindingLike[],
  task: { agent: string; earlierObjects: readonly string[] },
): Classification {
  const errors = findings.filter((f) => f.level === "error" && typeof f.rule === "string");
  const byClass = new Map<FailureClass, string[]>();
  for (const f of errors) {
    let cls = classOfRule(f.rule!) ?? "schema";
    if (f.rule === "apply_error" && touchesEarlierObject(f, task.earlierObjects)) {
      cls = "integration";
    }
    if (cls === "function_build" && task.agent === "deployment") cls = "deployment";
    byClass.set(cls, [...(byClass.get(cls) ?? []), f.rule!]);
  }
  const cls = PRIORITY.find((c) => byClass.has(c));
  if (!cls) {
    return {
      class: "schema",
      causes: ["validation_failed"],
      reason: "the output failed validation",
    };
  }
  const causes = [...new Set(byClass.get(cls))];
  return { class: cls, causes, reason: describe(cls, causes, task.agent) };
}

/** Classifies an attempt's error (the model, its endpoint or the infrastructure failed). */
export function classifyError(code: string): Classification {
  const cls = classOfCode(code);
  return { class: cls, causes: [code], reason: describe(cls, [code], null) };
}

function describe(cls: FailureClass, causes: string[], agent: string | null): string {
  const what = causes.join(", ");
  switch (cls) {
    case "integration":
      return `${what}: the output does not fit what earlier tasks built`;
    case "security":
      return `${what}: a security hole in ${agent ?? "the"} output`;
    case "query":
      return `${what}: a query does not perform as intended`;
    case "function_build":
      return `${what}: the code does not build`;
    case "deployment":
      return `${what}: the deployment does not build`;
    case "schema":
      return `${what}: the schema is invalid`;
    case "model":
      return `${what}: the model could not give a usable answer`;
    case "budget":
      return `${what}: the run's token budget is spent`;
    case "infrastructure":
      return `${what}: the platform failed`;
  }
}

// Whether the failing statement names a table created by an earlier task (word match, with or
// without its schema).
function touchesEarlierObject(f: FindingLike, objects: readonly string[]): boolean {
  const text = `${f.statement ?? ""} ${f.message ?? ""}`.toLowerCase();
  return objects.some((o) => {
    const name = o.toLowerCase().split(".").at(-1)!;
    return name.length > 0 && new RegExp(`(^|[^a-z0-9_])${escape(name)}([^a-z0-9_]|$)`).test(text);
  });
}

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
