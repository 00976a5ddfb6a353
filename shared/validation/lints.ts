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
import { asNode, stringList, walk } from "../pg_ast/mod.ts";
import type { Catalog, CatalogPolicy } from "./catalog.ts";
import type { RuleName } from "./finding.ts";
import { parseExpression, pgParser } from "./parse.ts";
import { isAuthCall, perRowAuthCalls, perRowCalls } from "./policy_expr.ts";

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
  const hit = (rule: RuleName, object: string, message: string, anchors: string[], key = object) =>
    hits.push({ rule, key: `${rule}:${key}`, object, message, anchors });

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
  const groups = new Map<string, string[]>();
  for (const i of catalog.indexes) {
    const key = [
      i.schema,
      i.table,
      i.method,
      i.keyNums.join(","),
      i.opclasses,
      i.collations,
      i.expressions ?? "",
      i.predicate ?? "",
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
