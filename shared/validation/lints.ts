/**
 * The advisor lints — Supabase's database linter (Splinter) checks, same names and levels — run on
 * the shadow's catalog after the migrations applied. Two things differ from Splinter on purpose:
 * exposure is judged from the API roles' real privileges in schemas the caller says are exposed
 * (a shadow has no PostgREST to set `pgrst.db_schemas`), and policy expressions are judged on
 * their parse trees (a helper SQL function that calls `auth.uid()` per row is caught too).
 * Each hit carries a stable key, so the caller can keep only what the new migrations introduced.
 *
 * @example
 * ```ts
 * const hits = await lintCatalog(catalog, { exposedSchemas: ["public"] });
 * ```
 */
import { asNode, type PgNode, stringList, walk } from "../pg_ast/mod.ts";
import type { Catalog, CatalogPolicy } from "./catalog.ts";
import type { RuleName } from "./finding.ts";
import { parseExpression, pgParser } from "./parse.ts";
import {
  calledFunctions,
  isAuthCall,
  isConstantTrue,
  perRowAuthCalls,
  perRowCalls,
  userMetadataReads,
} from "./policy_expr.ts";

/** One lint result before it is placed in a file. */
export interface LintHit {
  rule: RuleName;
  /** Stable identity of the hit (rule + object), for "new since before" comparisons. */
  key: string;
  /** The object, e.g. `public.trades`. */
  object: string;
  message: string;
  /** Statement anchors to attribute it to, best first (see attribution.ts). */
  anchors: string[];
}

/** Options of {@link lintCatalog}. */
export interface LintOptions {
  /** Schemas the Data API exposes (Supabase's `[api] schemas`). */
  exposedSchemas: readonly string[];
}

const ACTIONS = { r: "select", a: "insert", w: "update", d: "delete" } as const;

/** How Supabase's advisor files a lint: its number, categories and remediation. */
export interface SplinterLint {
  /** Splinter's number, e.g. `0013`. */
  id: string;
  categories: readonly ("SECURITY" | "PERFORMANCE")[];
  /** Where Supabase explains the fix (a URL, or Splinter's own sentence where it has no page). */
  remediation: string;
}

const DOCS = "https://supabase.com/docs/guides/database/database-linter?lint=";
const lint = (id: string, name: string, category: "SECURITY" | "PERFORMANCE"): SplinterLint => ({
  id,
  categories: [category],
  remediation: `${DOCS}${id}_${name}`,
});

/**
 * Every Splinter lint that can be judged from migrations, under its own name, with Splinter's
 * number, categories and remediation. Left out: 0005 unused_index and 0020 table_bloat (need a
 * database's usage statistics), 0012 auth_allow_anonymous_sign_ins (Auth settings), 0022
 * extension_versions_outdated (the server's packages), 0025 public_bucket_allows_listing
 * (Storage), 0026/0027 pg_graphql_*_table_exposed (pg_graphql is not in a shadow). Beyond
 * 0024's write policies, the isolation probes judge behaviour: a write policy that lets another
 * user change an owner's rows is `rls_isolation_leak`, a select policy true for everyone on an
 * owned table `rls_public_read_on_owned_table`.
 */
export const SPLINTER_LINTS = {
  unindexed_foreign_keys: lint("0001", "unindexed_foreign_keys", "PERFORMANCE"),
  auth_users_exposed: lint("0002", "auth_users_exposed", "SECURITY"),
  auth_rls_initplan: lint("0003", "auth_rls_initplan", "PERFORMANCE"),
  no_primary_key: lint("0004", "no_primary_key", "PERFORMANCE"),
  multiple_permissive_policies: lint("0006", "multiple_permissive_policies", "PERFORMANCE"),
  policy_exists_rls_disabled: lint("0007", "policy_exists_rls_disabled", "SECURITY"),
  rls_enabled_no_policy: lint("0008", "rls_enabled_no_policy", "SECURITY"),
  duplicate_index: lint("0009", "duplicate_index", "PERFORMANCE"),
  security_definer_view: lint("0010", "security_definer_view", "SECURITY"),
  function_search_path_mutable: lint("0011", "function_search_path_mutable", "SECURITY"),
  rls_disabled_in_public: lint("0013", "rls_disabled_in_public", "SECURITY"),
  extension_in_public: lint("0014", "extension_in_public", "SECURITY"),
  rls_references_user_metadata: lint("0015", "rls_references_user_metadata", "SECURITY"),
  materialized_view_in_api: lint("0016", "materialized_view_in_api", "SECURITY"),
  foreign_table_in_api: lint("0017", "foreign_table_in_api", "SECURITY"),
  unsupported_reg_types: {
    id: "0018",
    categories: ["SECURITY"],
    remediation: `${DOCS}unsupported_reg_types`,
  },
  insecure_queue_exposed_in_api: lint("0019", "insecure_queue_exposed_in_api", "SECURITY"),
  fkey_to_auth_unique: {
    id: "0021",
    categories: ["SECURITY"],
    remediation: "Drop the foreign key constraint that references the auth schema.",
  },
  sensitive_columns_exposed: lint("0023", "sensitive_columns_exposed", "SECURITY"),
  // Splinter's remediation page for 0024 carries the lint's earlier name.
  rls_policy_always_true: lint("0024", "permissive_rls_policy", "SECURITY"),
  anon_security_definer_function_executable: lint(
    "0028",
    "anon_security_definer_function_executable",
    "SECURITY",
  ),
  authenticated_security_definer_function_executable: lint(
    "0029",
    "authenticated_security_definer_function_executable",
    "SECURITY",
  ),
} as const satisfies Partial<Record<RuleName, SplinterLint>>;

/** Schemas Splinter never reports on (platform and extension schemas). */
const PLATFORM_SCHEMAS = new Set([
  "_timescaledb_cache",
  "_timescaledb_catalog",
  "_timescaledb_config",
  "_timescaledb_internal",
  "auth",
  "cron",
  "extensions",
  "graphql",
  "graphql_public",
  "information_schema",
  "net",
  "pgmq",
  "pgroonga",
  "pgsodium",
  "pgsodium_masks",
  "pgtle",
  "pgbouncer",
  "pg_catalog",
  "realtime",
  "repack",
  "storage",
  "supabase_functions",
  "supabase_migrations",
  "tiger",
  "topology",
  "vault",
]);

/**
 * Column names Splinter's 0023 treats as secrets or personal data (compared lower-cased, `-` read
 * as `_`).
 */
const SENSITIVE_COLUMNS = new Set([
  // credentials
  ...["password", "passwd", "pwd", "passphrase", "secret", "secret_key", "private_key"],
  ...["api_key", "apikey", "auth_key", "token", "jwt", "access_token", "refresh_token"],
  ...["oauth_token", "session_token", "bearer_token", "auth_code", "session_id", "session_key"],
  ...["session_secret", "recovery_code", "backup_code", "verification_code", "otp"],
  ...["two_factor", "2fa_secret", "2fa_code"],
  // personal identifiers
  ...["ssn", "social_security", "social_security_number", "driver_license", "drivers_license"],
  ...["license_number", "passport_number", "passport_id", "national_id", "tax_id"],
  // financial
  ...["credit_card", "card_number", "cvv", "cvc", "cvn", "bank_account", "account_number"],
  ...["routing_number", "iban", "swift_code", "bic"],
  // health
  ...["health_record", "medical_record", "patient_id", "insurance_number", "health_insurance"],
  ...["medical_insurance", "treatment"],
  // devices, keys, biometrics
  ...["mac_address", "macaddr", "imei", "device_uuid", "pgp_key", "gpg_key", "ssh_key"],
  ...["certificate", "license_key", "activation_key", "facial_recognition"],
]);

/** reg* types pg_upgrade cannot carry over (their values are OIDs). */
const UNSUPPORTED_REG_TYPES = new Set([
  "regcollation",
  "regconfig",
  "regdictionary",
  "regnamespace",
  "regoper",
  "regoperator",
  "regproc",
  "regprocedure",
]);

function policyAnchor(p: CatalogPolicy): string {
  return `policy:${p.schema}.${p.table}.${p.name}`;
}

const memo = new WeakMap<Catalog, Map<string, Promise<LintHit[]>>>();

/** Runs every catalog lint (memoised per catalog object and options). */
export function lintCatalog(catalog: Catalog, options: LintOptions): Promise<LintHit[]> {
  const key = options.exposedSchemas.join(",");
  let byOptions = memo.get(catalog);
  if (!byOptions) memo.set(catalog, byOptions = new Map());
  let hits = byOptions.get(key);
  if (!hits) byOptions.set(key, hits = lintNow(catalog, options));
  return hits;
}

async function lintNow(catalog: Catalog, options: LintOptions): Promise<LintHit[]> {
  const exposed = new Set(options.exposedSchemas);
  const hits: LintHit[] = [];
  const hit = (
    rule: RuleName,
    object: string,
    message: string,
    anchors: string[],
    key = object,
  ) => {
    const splinter = (SPLINTER_LINTS as Partial<Record<RuleName, SplinterLint>>)[rule];
    const fix = splinter
      ? ` (Supabase advisor ${splinter.id}${
        splinter.remediation.startsWith("https://") ? `: ${splinter.remediation}` : ""
      })`
      : "";
    hits.push({ rule, key: `${rule}:${key}`, object, message: message + fix, anchors });
  };
  const exposedApi = (schema: string) => exposed.has(schema) && !PLATFORM_SCHEMAS.has(schema);

  const policiesOf = new Map<string, CatalogPolicy[]>();
  for (const p of catalog.policies) {
    const key = `${p.schema}.${p.table}`;
    policiesOf.set(key, [...(policiesOf.get(key) ?? []), p]);
  }

  for (const t of catalog.tables) {
    const name = `${t.schema}.${t.name}`;
    const isTable = t.kind === "r" || t.kind === "p";
    const policies = policiesOf.get(name) ?? [];
    const apiReach = t.anonAccess || t.authenticatedAccess;
    if (isTable && exposed.has(t.schema) && !t.rls && apiReach) {
      hit(
        "rls_disabled_in_public",
        name,
        `table ${name} is reachable through the API (${rolesWithAccess(t)}) with row level ` +
          "security disabled: anyone with the anon key can read and change every row; " +
          `enable it (alter table ${name} enable row level security) and add policies`,
        [`table:${name}`],
      );
    }
    if (isTable && exposed.has(t.schema) && t.rls && policies.length === 0) {
      hit(
        "rls_enabled_no_policy",
        name,
        `table ${name} has row level security enabled but no policy, so the API can reach no ` +
          "row (fine if only the service role uses it)",
        [`rls:${name}`, `table:${name}`],
      );
    }
    if (isTable && !t.rls && policies.length > 0) {
      hit(
        "policy_exists_rls_disabled",
        name,
        `table ${name} has policies (${policies.map((p) => p.name).join(", ")}) but row level ` +
          "security is disabled, so they are not applied",
        [`table:${name}`, ...policies.map(policyAnchor)],
      );
    }
    if (isTable && !t.fromExtension && !hasPrimaryKey(catalog, t.schema, t.name)) {
      hit(
        "no_primary_key",
        name,
        `table ${name} has no primary key: rows cannot be addressed reliably (updates from the ` +
          "API, replication)",
        [`table:${name}`],
      );
    }
    const isView = t.kind === "v" || t.kind === "m";
    const apiSelect = t.anonSelect || t.authenticatedSelect;
    const selectors = [t.anonSelect ? "anon" : "", t.authenticatedSelect ? "authenticated" : ""]
      .filter(Boolean).join(" and ");
    if (t.kind === "m" && exposedApi(t.schema) && apiSelect && !t.fromExtension) {
      hit(
        "materialized_view_in_api",
        name,
        `materialized view ${name} is selectable by ${selectors} through the API; row level ` +
          `security does not apply to a materialized view, so every row is public — revoke ` +
          `select on ${name} from anon, authenticated, or move it to a schema the API does ` +
          "not expose",
        [`view:${name}`, `table:${name}`],
      );
    }
    if (t.kind === "f" && exposedApi(t.schema) && apiSelect && !t.fromExtension) {
      hit(
        "foreign_table_in_api",
        name,
        `foreign table ${name} is selectable by ${selectors} through the API; row level ` +
          "security does not apply to foreign tables — revoke select from anon, authenticated " +
          "or move it to a schema the API does not expose",
        [`table:${name}`],
      );
    }
    if (isTable && exposedApi(t.schema) && apiSelect && !t.rls) {
      const sensitive = catalog.columns
        .filter((c) =>
          c.schema === t.schema && c.table === t.name &&
          SENSITIVE_COLUMNS.has(c.name.toLowerCase().replaceAll("-", "_"))
        )
        .map((c) => c.name).sort();
      if (sensitive.length > 0) {
        hit(
          "sensitive_columns_exposed",
          name,
          `table ${name} is selectable by ${selectors} through the API without row level ` +
            `security and has columns that look sensitive (${sensitive.join(", ")}): anyone ` +
            `with the anon key can read them; enable row level security with policies, or ` +
            "keep these columns out of exposed tables",
          [...sensitive.map((c) => `column:${name}.${c}`), `table:${name}`],
        );
      }
    }
    if (isView && exposed.has(t.schema) && apiSelect && !t.fromExtension) {
      const invoker = t.kind === "v" &&
        t.options.some((o) => /^security_invoker=(true|on|1|yes)$/i.test(o));
      if (t.readsAuthUsers && !invoker) {
        hit(
          "auth_users_exposed",
          name,
          `${t.kind === "m" ? "materialized view" : "view"} ${name} reads auth.users and the ` +
            "API roles can select from it: user emails and metadata are exposed",
          [`view:${name}`],
        );
      }
      if (t.kind === "v" && !invoker) {
        hit(
          "security_definer_view",
          name,
          `view ${name} runs with its owner's rights, bypassing the caller's row level security; ` +
            `create it with (security_invoker = on)`,
          [`view:${name}`],
        );
      }
    }
  }

  for (const f of catalog.functions) {
    if (f.fromExtension || (f.kind !== "f" && f.kind !== "p")) continue;
    if (!f.config.some((c) => c.startsWith("search_path="))) {
      const name = `${f.schema}.${f.name}(${f.args})`;
      hit(
        "function_search_path_mutable",
        name,
        `function ${name} does not set search_path, so objects it names resolve through the ` +
          `caller's path; add "set search_path = ''" and qualify names`,
        [`function:${f.schema}.${f.name}`],
      );
    }
  }

  for (const f of catalog.functions) {
    // Unlike Splinter, trigger functions are left out: PostgREST cannot call them.
    if (!f.securityDefiner || f.returnsTrigger || !exposedApi(f.schema)) continue;
    const name = `${f.schema}.${f.name}(${f.args})`;
    for (
      const [role, rule, can] of [
        ["anon", "anon_security_definer_function_executable", f.anonExecute],
        [
          "authenticated",
          "authenticated_security_definer_function_executable",
          f.authenticatedExecute,
        ],
      ] as const
    ) {
      if (!can) continue;
      hit(
        rule,
        name,
        `function ${name} is SECURITY DEFINER and ${role} may execute it, so ` +
          `${role === "anon" ? "anyone with the anon key" : "any signed-in user"} can call it ` +
          `through /rest/v1/rpc/${f.name} with its owner's rights, bypassing row level security; ` +
          `revoke execute on function ${name} from public, ${role} (new functions are ` +
          "executable by PUBLIC), make it security invoker, or move it to a schema the API " +
          "does not expose",
        [`function:${f.schema}.${f.name}`],
      );
    }
  }

  for (const c of catalog.columns) {
    if (c.schema === "pg_catalog" || c.schema === "information_schema" || c.schema === "pgsodium") {
      continue;
    }
    const reg = [c.typeName, c.baseTypeName, c.elementType ?? ""].find((t) =>
      UNSUPPORTED_REG_TYPES.has(t)
    );
    if (!reg || (c.typeSchema !== "pg_catalog" && c.typeKind !== "d" && !c.elementType)) continue;
    const column = `${c.schema}.${c.table}.${c.name}`;
    hit(
      "unsupported_reg_types",
      column,
      `column ${column} has type ${c.type} (${reg}), which stores object ids that pg_upgrade ` +
        "cannot carry over, so the project could not be upgraded to a new Postgres version; " +
        "store the name as text (or the oid as oid) instead",
      [`column:${c.schema}.${c.table}.${c.name}`, `table:${c.schema}.${c.table}`],
    );
  }

  // A queue table the API roles can select, without RLS, while pgmq_public (the Dashboard's "Expose
  // Queues via PostgREST" wrappers) is exposed. Exposed means: named in the exposed schemas, or —
  // since a shadow has no PostgREST configuration — created with usage granted to an API role.
  const queuesExposed = exposed.has("pgmq_public") || catalog.apiSchemas.includes("pgmq_public");
  if (queuesExposed) {
    for (const t of catalog.tables) {
      if (t.schema !== "pgmq" || !t.name.startsWith("q_") || t.kind !== "r" || t.rls) continue;
      if (!(t.anonSelect || t.authenticatedSelect)) continue;
      const name = `pgmq.${t.name}`;
      hit(
        "insecure_queue_exposed_in_api",
        name,
        `queue table ${name} is selectable by ${rolesWithAccess(t)} and has row level security ` +
          "disabled while pgmq_public is exposed: anyone with the key can read, send and " +
          `delete its messages through /rest/v1/rpc; alter table ${name} enable row level ` +
          "security and add policies (or revoke the grants)",
        [`table:${name}`],
      );
    }
  }

  for (const e of catalog.extensions) {
    if (e.schema === "public") {
      hit(
        "extension_in_public",
        e.name,
        `extension ${e.name} is installed in public, which exposes its objects through the API; ` +
          "install it with schema extensions",
        [`extension:${e.name}`],
      );
    }
  }

  await lintPolicies(catalog, hit);
  lintForeignKeys(catalog, hit);
  lintDuplicateIndexes(catalog, hit);
  return hits;
}

function rolesWithAccess(t: { anonAccess: boolean; authenticatedAccess: boolean }): string {
  return [t.anonAccess ? "anon" : "", t.authenticatedAccess ? "authenticated" : ""]
    .filter(Boolean).join(", ");
}

function hasPrimaryKey(catalog: Catalog, schema: string, table: string): boolean {
  return catalog.constraints.some((c) =>
    c.schema === schema && c.table === table && c.type === "p"
  );
}

type Hit = (
  rule: RuleName,
  object: string,
  message: string,
  anchors: string[],
  key?: string,
) => void;

async function lintPolicies(catalog: Catalog, hit: Hit): Promise<void> {
  const helpers = await authHelpers(catalog);
  const metadataHelpers = await userMetadataHelpers(catalog);
  await lintAlwaysTrue(catalog, hit);
  for (const p of catalog.policies) {
    if (PLATFORM_SCHEMAS.has(p.schema)) continue;
    const table = `${p.schema}.${p.table}`;
    const reads = new Set<string>();
    for (const text of [p.using, p.withCheck]) {
      const expr = text ? await parseExpression(text) : undefined;
      if (!expr) continue;
      for (const r of userMetadataReads(expr)) reads.add(r);
      for (const name of calledFunctions(expr)) {
        const via = metadataHelpers.get(name) ?? metadataHelpers.get(`public.${name}`);
        if (via) reads.add(`${name}(), which reads ${via}`);
      }
    }
    if (reads.size === 0) continue;
    hit(
      "rls_references_user_metadata",
      `${table}.${p.name}`,
      `policy "${p.name}" on ${table} decides with ${[...reads].join(", ")}; every user can ` +
        "edit their own user metadata (supabase.auth.updateUser), so they can grant themselves " +
        "this access — use app_metadata (raw_app_meta_data, set only by the service role) or a " +
        "table of your own",
      [policyAnchor(p), `table:${table}`],
    );
  }
  for (const p of catalog.policies) {
    const table = `${p.schema}.${p.table}`;
    const perRow = new Set<string>();
    for (const text of [p.using, p.withCheck]) {
      if (!text) continue;
      const expr = await parseExpression(text);
      if (!expr) continue;
      for (const name of perRowAuthCalls(expr)) perRow.add(`${name}()`);
      for (const name of perRowCalls(expr)) {
        const via = helpers.get(name) ?? helpers.get(`public.${name}`);
        if (via && !isAuthCall(name)) perRow.add(`${name}() (which calls ${via})`);
      }
    }
    if (perRow.size > 0) {
      hit(
        "auth_rls_initplan",
        `${table}.${p.name}`,
        `policy "${p.name}" on ${table} calls ${[...perRow].join(", ")} for every row; wrap ` +
          "the call in a sub-select, e.g. (select auth.uid()) = user_id, so it runs once",
        [policyAnchor(p), `table:${table}`],
      );
    }
  }

  // Several permissive policies for one role and action are all evaluated (OR-ed) per row.
  const groups = new Map<string, Map<string, string[]>>();
  for (const p of catalog.policies) {
    if (!p.permissive) continue;
    const table = `${p.schema}.${p.table}`;
    const roles = p.roles.includes("public") ? ["anon", "authenticated"] : p.roles;
    const actions = p.command === "*" ? Object.values(ACTIONS) : [
      ACTIONS[p.command as keyof typeof ACTIONS],
    ];
    for (const role of roles.filter((r) => r === "anon" || r === "authenticated")) {
      for (const action of actions) {
        const byTable = groups.get(table) ?? new Map<string, string[]>();
        const key = `${role} ${action}`;
        byTable.set(key, [...(byTable.get(key) ?? []), p.name]);
        groups.set(table, byTable);
      }
    }
  }
  for (const [table, byAction] of groups) {
    const overlaps = [...byAction].filter(([, names]) => names.length > 1);
    if (overlaps.length === 0) continue;
    const detail = overlaps.map(([what, names]) => `${what}: ${names.join(", ")}`).join("; ");
    const first = catalog.policies.find((p) =>
      `${p.schema}.${p.table}` === table && overlaps[0][1].includes(p.name)
    );
    hit(
      "multiple_permissive_policies",
      table,
      `table ${table} has several permissive policies for the same role and action ` +
        `(${detail}); each is evaluated for every row — merge them into one`,
      [...(first ? [policyAnchor(first)] : []), `table:${table}`],
    );
  }
}

const COMMAND_NAMES: Record<string, string> = {
  r: "select",
  a: "insert",
  w: "update",
  d: "delete",
  "*": "all",
};

/**
 * Splinter 0024: a permissive write policy for the API roles that lets every row through —
 * `using` always true (update, delete, all; or absent), or `with check` always true (insert,
 * update, all; or absent on insert, or on update/all whose `using` is always true). Select
 * policies are left out, as in Splinter: public reads are often meant (see the probes' warning).
 */
async function lintAlwaysTrue(catalog: Catalog, hit: Hit): Promise<void> {
  for (const p of catalog.policies) {
    if (!p.permissive || p.command === "r" || PLATFORM_SCHEMAS.has(p.schema)) continue;
    const t = catalog.tables.find((x) => x.schema === p.schema && x.name === p.table);
    if (!t || t.kind !== "r" || !t.rls) continue;
    const roles = p.roles.filter((r) => r === "public" || r === "anon" || r === "authenticated");
    if (roles.length === 0) continue;
    const using = p.using === null ? null : isConstantTrue(await parseExpression(p.using));
    const check = p.withCheck === null ? null : isConstantTrue(await parseExpression(p.withCheck));
    const usingOpen = ["w", "d", "*"].includes(p.command) && (using === null || using);
    const checkOpen = check === true ||
      (check === null && (p.command === "a" || (["w", "*"].includes(p.command) && !!using)));
    if (!usingOpen && !checkOpen) continue;
    const table = `${p.schema}.${p.table}`;
    const which = usingOpen && checkOpen
      ? "both using and with check are always true"
      : usingOpen
      ? "its using is always true"
      : "its with check is always true";
    hit(
      "rls_policy_always_true",
      `${table}.${p.name}`,
      `policy "${p.name}" on ${table} for ${COMMAND_NAMES[p.command]} lets ${
        roles.join(", ")
      } through on every row (${which}), which bypasses row level security for that action; ` +
        "tie it to the caller, e.g. (select auth.uid()) = user_id",
      [policyAnchor(p), `table:${table}`],
    );
  }
}

/** SQL helper functions whose body reads user metadata: name → what it reads. */
async function userMetadataHelpers(catalog: Catalog): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const f of catalog.functions) {
    if (f.language !== "sql" || !f.body || f.fromExtension || PLATFORM_SCHEMAS.has(f.schema)) {
      continue;
    }
    const parsed = await pgParser().parse(f.body);
    const reads = parsed.tree ? userMetadataReads(parsed.tree as unknown as PgNode) : [];
    if (reads.length > 0) {
      out.set(`${f.schema}.${f.name}`, reads[0]);
      if (f.schema === "public") out.set(f.name, reads[0]);
    }
  }
  return out;
}

/** SQL helper functions whose body calls an auth helper per row: name → the call. */
async function authHelpers(catalog: Catalog): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const f of catalog.functions) {
    if (f.language !== "sql" || !f.body || f.fromExtension || f.schema === "auth") continue;
    const parsed = await pgParser().parse(f.body);
    let found: string | undefined;
    walk(parsed.tree, ({ node }) => {
      const call = asNode(node, "FuncCall");
      const name = call ? stringList(call.funcname).join(".").toLowerCase() : "";
      if (isAuthCall(name)) found ??= `${name}()`;
    });
    if (found) {
      out.set(`${f.schema}.${f.name}`, found);
      if (f.schema === "public") out.set(f.name, found);
    }
  }
  return out;
}

function lintForeignKeys(catalog: Catalog, hit: Hit): void {
  for (const fk of catalog.constraints) {
    if (fk.type !== "f") continue;
    const table = `${fk.schema}.${fk.table}`;
    if (fk.refSchema === "auth" && fk.refPrimary === false) {
      const target = `auth.${fk.refTable}(${(fk.refColumns ?? []).join(", ")})`;
      hit(
        "fkey_to_auth_unique",
        `${table}.${fk.name}`,
        `foreign key ${fk.name} on ${table} references ${target}, a unique key of the auth ` +
          "schema rather than its primary key: Supabase Auth manages those constraints and may " +
          "change or drop them, which this foreign key would block or break; reference " +
          `auth.${fk.refTable} (id) instead. Drop the foreign key constraint that references ` +
          "the auth schema.",
        [...fk.columns.map((c) => `column:${table}.${c}`), `table:${table}`],
      );
    }
    const wanted = new Set(fk.columnNums);
    const covered = catalog.indexes.some((i) => {
      if (i.schema !== fk.schema || i.table !== fk.table || i.predicate) return false;
      const lead = new Set(i.keyNums.slice(0, wanted.size));
      return lead.size === wanted.size && [...wanted].every((n) => lead.has(n));
    });
    if (!covered) {
      hit(
        "unindexed_foreign_keys",
        `${table}.${fk.name}`,
        `foreign key ${fk.name} on ${table} (${fk.columns.join(", ")}) has no index: joins and ` +
          `cascading deletes scan the table; create index on ${table} (${fk.columns.join(", ")})`,
        [...fk.columns.map((c) => `column:${table}.${c}`), `table:${table}`],
      );
    }
  }
}

function lintDuplicateIndexes(catalog: Catalog, hit: Hit): void {
  // Identical means interchangeable: same method, key columns in the same order with the same
  // sort direction and nulls order, operator classes, collations, expressions, predicate, included
  // columns and uniqueness — `(email, name)` and `(email, name desc)` serve different orders.
  const fromExtension = new Set(
    catalog.tables.filter((t) => t.fromExtension).map((t) => `${t.schema}.${t.name}`),
  );
  const groups = new Map<string, string[]>();
  for (const i of catalog.indexes) {
    if (fromExtension.has(`${i.schema}.${i.table}`)) continue;
    const key = [
      i.schema,
      i.table,
      i.method,
      i.keyNums.join(","),
      i.includeNums.join(","),
      i.sortOptions,
      i.opclasses,
      i.collations,
      i.expressions ?? "",
      i.predicate ?? "",
      i.unique ? `unique${i.nullsNotDistinct ? " nulls not distinct" : ""}` : "",
    ].join("|");
    groups.set(key, [...(groups.get(key) ?? []), i.name]);
  }
  for (const [key, names] of groups) {
    if (names.length < 2) continue;
    const [schema, table] = key.split("|");
    const sorted = [...names].sort();
    hit(
      "duplicate_index",
      `${schema}.${table}`,
      `indexes ${sorted.join(", ")} on ${schema}.${table} are identical; drop all but one ` +
        "(each slows every write)",
      [...sorted.map((n) => `index:${schema}.${n}`), `table:${schema}.${table}`],
      `${schema}.${sorted.join(",")}`,
    );
  }
}
