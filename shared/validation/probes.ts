/**
 * Behavioural row level security probes: for each table a user owns rows in, act as user A, user
 * B and `anon` exactly as PostgREST would (role + JWT claims) and check what each can do — A can
 * create, read, change and delete their rows; B and anon can neither see nor change them; neither
 * A nor B can write a row owned by the other. This catches what reading policies cannot: an
 * UPDATE policy without a SELECT policy (updates silently touch nothing), a `with check` that is
 * missing, a tautology such as `user_id = user_id`. Everything runs in one transaction that is
 * rolled back. A table that cannot be probed gets an `info` finding saying why — never a pass.
 *
 * @example
 * ```ts
 * const findings = await probeIsolation(session, catalog, ["public.notes"], locate);
 * ```
 */
import type { Catalog, CatalogPolicy } from "./catalog.ts";
import { type Finding, finding, type RuleName } from "./finding.ts";
import { parseExpression } from "./parse.ts";
import { columnsComparedToUid } from "./policy_expr.ts";
import {
  ident,
  RowSynthesisError,
  RowSynthesizer,
  SERVICE,
  tableRef,
  type Values,
} from "./row_synthesis.ts";
import type { Location } from "./attribution.ts";
import { type Identity, type ShadowSession, ShadowSqlError } from "../shadow/mod.ts";
import { asNode, walk } from "./_ast.ts";

const OWNER_NAMES = ["user_id", "owner_id", "profile_id", "created_by", "author_id"];

type Action = "select" | "insert" | "update" | "delete";
const COMMANDS: Record<Action, string> = { select: "r", insert: "a", update: "w", delete: "d" };

interface User {
  id: string;
  label: string;
  identity: Identity;
}

function user(label: string): User {
  const id = crypto.randomUUID();
  const email = `probe-${label.toLowerCase()}-${id.slice(0, 8)}@example.com`;
  return {
    id,
    label,
    identity: { role: "authenticated", claims: { sub: id, role: "authenticated", email } },
  };
}

const ANON: Identity = { role: "anon", claims: { role: "anon" } };

/** The column tying a table's rows to a user, decided from policies, foreign keys and names. */
export async function ownerColumn(
  catalog: Catalog,
  schema: string,
  table: string,
): Promise<string | undefined> {
  const columns = catalog.columns.filter((c) => c.schema === schema && c.table === table);
  const has = (name: string) => columns.some((c) => c.name === name);
  const votes = new Map<string, number>();
  for (const p of policiesOf(catalog, schema, table)) {
    for (const text of [p.using, p.withCheck]) {
      const expr = text ? await parseExpression(text) : undefined;
      for (const c of expr ? columnsComparedToUid(expr) : []) {
        if (has(c)) votes.set(c, (votes.get(c) ?? 0) + 1);
      }
    }
  }
  const voted = [...votes].sort((a, b) => b[1] - a[1])[0]?.[0];
  if (voted) return voted;
  const toUsers = catalog.constraints.find((c) =>
    c.schema === schema && c.table === table && c.type === "f" && c.columns.length === 1 &&
    c.refSchema === "auth" && c.refTable === "users"
  );
  if (toUsers) return toUsers.columns[0];
  return OWNER_NAMES.find((n) => columns.some((c) => c.name === n && c.baseTypeName === "uuid"));
}

function policiesOf(catalog: Catalog, schema: string, table: string): CatalogPolicy[] {
  return catalog.policies.filter((p) => p.schema === schema && p.table === table);
}

function appliesTo(p: CatalogPolicy, role: string, action: Action): boolean {
  return (p.command === "*" || p.command === COMMANDS[action]) &&
    (p.roles.includes("public") || p.roles.includes(role));
}

/**
 * Whether a select policy shows rows by design, whoever asks: it neither calls anything nor
 * sub-selects (a helper may read `auth.uid()`) nor mentions the owner column (`using (true)`,
 * `using (published)`). A policy that mentions the owner column but does not compare it with the
 * caller (`user_id = user_id`, `user_id is not null`) is a mistake, not a design.
 */
async function independentOfCaller(p: CatalogPolicy, ownerColumn: string): Promise<boolean> {
  const text = p.using ?? p.withCheck;
  if (!text) return true;
  const expr = await parseExpression(text);
  if (!expr) return false;
  let dependent = false;
  walk(expr, ({ node }) => {
    if (asNode(node, "FuncCall") || asNode(node, "SubLink")) dependent = true;
    const ref = asNode(node, "ColumnRef");
    const last = ref?.fields?.at(-1);
    if (last && asNode(last, "String")?.sval === ownerColumn) dependent = true;
  });
  return !dependent;
}

/** Where to point a probe finding: a policy for the action, else the table. */
type Locate = (anchors: string[]) => Location | undefined;

/**
 * Probes every table in `tables` (`schema.name`). Must run on a session that is not inside a
 * transaction; leaves no rows behind.
 */
export async function probeIsolation(
  session: ShadowSession,
  catalog: Catalog,
  tables: readonly string[],
  locate: Locate,
): Promise<Finding[]> {
  if (tables.length === 0) return [];
  const out: Finding[] = [];
  const a = user("A");
  const b = user("B");
  const owners = new Map<string, string | undefined>();
  for (const t of catalog.tables) {
    if (t.kind === "r" || t.kind === "p") {
      owners.set(`${t.schema}.${t.name}`, await ownerColumn(catalog, t.schema, t.name));
    }
  }
  const columnOf = (schema: string, table: string) => owners.get(`${schema}.${table}`);
  await session.exec("begin");
  try {
    for (const u of [a, b]) {
      await session.query(
        `insert into auth.users (id, email, aud, role) values ($1, $2, 'authenticated', 'authenticated')`,
        [u.id, u.identity.claims.email],
      );
    }
    const synth = new RowSynthesizer(catalog, session);
    for (const name of tables) {
      const [schema, table] = splitName(name);
      const owner = owners.get(name);
      const anchors = [`table:${name}`];
      const at = locate(anchors);
      if (!owner) {
        out.push(finding(
          "probe_not_built",
          `isolation of ${name} was not probed: no column ties its rows to a user ` +
            "(compared with auth.uid() in a policy, a uuid referencing auth.users, or a column " +
            `named ${OWNER_NAMES.join("/")})`,
          { ...at, object: name },
        ));
        continue;
      }
      await session.exec("savepoint bt_probe_table");
      synth.resetParents();
      try {
        out.push(
          ...await probeTable({
            session,
            catalog,
            synth,
            schema,
            table,
            owner,
            a,
            b,
            locate,
            columnOf,
          }),
        );
      } catch (e) {
        if (!(e instanceof RowSynthesisError)) throw e;
        out.push(finding(
          "probe_not_built",
          `isolation of ${name} was not probed: ${e.message}`,
          { ...at, object: name },
        ));
      } finally {
        await session.exec("rollback to savepoint bt_probe_table");
      }
    }
  } finally {
    if (session.alive) await session.exec("rollback").catch(() => {});
  }
  return out;
}

function splitName(name: string): [string, string] {
  const dot = name.indexOf(".");
  return [name.slice(0, dot), name.slice(dot + 1)];
}

interface TableProbe {
  session: ShadowSession;
  catalog: Catalog;
  synth: RowSynthesizer;
  schema: string;
  table: string;
  owner: string;
  a: User;
  b: User;
  locate: Locate;
  columnOf: (schema: string, table: string) => string | undefined;
}

/** Runs one statement as `who`; rows affected/returned, or the error when Postgres refused. */
async function attempt(
  session: ShadowSession,
  who: Identity,
  sql: string,
  params: unknown[],
  keep = false,
): Promise<{ count: number; error?: string }> {
  try {
    const r = await session.queryAs(who, sql, params, { keep });
    return { count: r.rows.length > 0 && "n" in r.rows[0] ? Number(r.rows[0].n) : r.rowCount };
  } catch (e) {
    if (e instanceof ShadowSqlError) return { count: 0, error: e.message };
    throw e;
  }
}

async function optionalValues(
  synth: RowSynthesizer,
  ...args: Parameters<RowSynthesizer["values"]>
): Promise<Values | undefined> {
  try {
    return await synth.values(...args);
  } catch (e) {
    if (e instanceof RowSynthesisError) return undefined;
    throw e;
  }
}

async function probeTable(p: TableProbe): Promise<Finding[]> {
  const { session, catalog, synth, schema, table, owner, a, b } = p;
  const name = `${schema}.${table}`;
  const ref = tableRef(schema, table);
  const col = ident(owner);
  const ownerType = synth.columns(schema, table).find((c) => c.name === owner)?.type ?? "uuid";
  const forced = catalog.tables.find((t) => t.schema === schema && t.name === table)?.forceRls;
  const out: Finding[] = [];
  const policies = policiesOf(catalog, schema, table);
  const report = (rule: RuleName, action: Action, message: string) => {
    const policy = policies.find((x) => appliesTo(x, "authenticated", action));
    const at = p.locate([
      ...(policy ? [`policy:${name}.${policy.name}`] : []),
      `rls:${name}`,
      `table:${name}`,
    ]);
    out.push(finding(rule, message, { ...at, object: name }));
  };
  const hasPolicy = (action: Action) => policies.some((x) => appliesTo(x, "authenticated", action));
  const ownerOf = { id: a.id, columnOf: p.columnOf };
  const countSql = `select count(*)::int as n from ${ref} where ${col} = $1`;

  // A creates a row of their own (values found first as service_role, so a refusal is policy),
  // unless one exists already (e.g. a profile a trigger on auth.users made).
  const existing = await attempt(session, SERVICE, countSql, [a.id]);
  let valuesA: Values | undefined;
  if (existing.count === 0) {
    valuesA = await synth.values(schema, table, { [owner]: a.id }, ownerOf);
    const insertA = synth.insertStatement(schema, table, valuesA);
    const created = await attempt(session, a.identity, insertA.sql, insertA.params, true);
    if (created.error) {
      if (hasPolicy("insert")) {
        report(
          "rls_owner_access",
          "insert",
          `user A could not insert their own row into ${name} although an insert policy ` +
            `exists: ${created.error}`,
        );
      }
      await session.queryAs(SERVICE, insertA.sql, insertA.params, { keep: true });
    }
  }

  // A's rows as physical versions (ctid), read bypassing RLS: a statement that changed or
  // deleted any of them changes this set, even one that reads no column.
  const versionsSql = `select ctid::text as v from ${ref} where ${col} = $1`;
  const versions = async () => {
    const rows = forced
      ? (await session.queryAs(SERVICE, versionsSql, [a.id])).rows
      : await session.query(versionsSql, [a.id]);
    return new Set(rows.map((r) => String(r.v)));
  };
  const original = await versions();
  // What a statement run as `who` does to A's rows; its effects are undone.
  const touchesA = async (who: Identity, sql: string, params: unknown[]) => {
    await session.exec("savepoint bt_probe_effect");
    try {
      await attempt(session, who, sql, params, true);
      const after = await versions();
      return after.size !== original.size || [...original].some((v) => !after.has(v));
    } finally {
      await session.exec("rollback to savepoint bt_probe_effect");
    }
  };

  // A can use their own row (checked only where a policy says they should).
  const seenByA = await attempt(session, a.identity, countSql, [a.id]);
  if (seenByA.count === 0 && hasPolicy("select")) {
    report(
      "rls_owner_access",
      "select",
      `user A cannot read their own row of ${name} although a select policy exists` +
        (seenByA.error ? `: ${seenByA.error}` : ""),
    );
  }
  if (hasPolicy("update")) {
    // With a filter, as PostgREST sends `?user_id=eq.…`: it needs a SELECT policy too.
    const sql = `update ${ref} set ${col} = ${col} where ${col} = $1`;
    const updated = await attempt(session, a.identity, sql, [a.id]);
    if (updated.count === 0) {
      report(
        "rls_owner_access",
        "update",
        `user A's update of their own row in ${name} changed nothing although an update ` +
          "policy exists" + (updated.error
            ? `: ${updated.error}`
            : " (an UPDATE with a filter only reaches rows a SELECT policy lets the user see)"),
      );
    }
  }
  if (hasPolicy("delete")) {
    const deleted = await attempt(session, a.identity, `delete from ${ref} where ${col} = $1`, [
      a.id,
    ]);
    if (deleted.count === 0) {
      report(
        "rls_owner_access",
        "delete",
        `user A could not delete their own row in ${name} although a delete policy exists` +
          (deleted.error ? `: ${deleted.error}` : " (a DELETE with a filter only reaches rows " +
            "a SELECT policy lets the user see)"),
      );
    }
  }

  // Others must neither see nor change A's rows. Changes are tried without a filter (PATCH or
  // DELETE on the whole table): such a statement reads no column, so it meets only the
  // UPDATE/DELETE policy — anything a filtered statement could change, this one changes too.
  const others = [
    { who: "user B", identity: b.identity, role: "authenticated" },
    { who: "anon", identity: ANON, role: "anon" },
  ] as const;
  for (const { who, identity, role } of others) {
    const seen = await attempt(session, identity, countSql, [a.id]);
    if (seen.count > 0) {
      const byDesign: string[] = [];
      for (const x of policies.filter((x) => appliesTo(x, role, "select"))) {
        if (await independentOfCaller(x, owner)) byDesign.push(x.name);
      }
      if (byDesign.length === 0) {
        report("rls_isolation_leak", "select", `${who} can read user A's rows in ${name}`);
      }
    }
    if (await touchesA(identity, `update ${ref} set ${col} = $1::${ownerType}`, [a.id])) {
      report(
        "rls_isolation_leak",
        "update",
        `${who} can update user A's rows in ${name} (the update policy's using does not tie ` +
          "rows to the caller)",
      );
    }
    if (await touchesA(identity, `delete from ${ref}`, [])) {
      report(
        "rls_isolation_leak",
        "delete",
        `${who} can delete user A's rows in ${name} (the delete policy's using does not tie ` +
          "rows to the caller)",
      );
    }
    if (await canInsertFor(p, identity, a.id, valuesA)) {
      report(
        "rls_isolation_leak",
        "insert",
        `${who} can insert a row owned by user A into ${name} (the insert policy's with check ` +
          "does not tie the row to the caller)",
      );
    }
  }

  // A must not create a row owned by B, nor hand their row to B (B's parent rows, made for the
  // first check, let the second one pass foreign keys).
  if (await canInsertFor(p, a.identity, b.id)) {
    report(
      "rls_isolation_leak",
      "insert",
      `user A can insert a row owned by user B into ${name} (the insert policy's with check ` +
        "does not tie the row to the caller)",
    );
  }
  if (await touchesA(a.identity, `update ${ref} set ${col} = $1::${ownerType}`, [b.id])) {
    report(
      "rls_isolation_leak",
      "update",
      `user A can hand their row of ${name} to user B (the update policy's with check does not ` +
        `tie ${owner} to the caller)`,
    );
  }
  return out;
}

/**
 * Whether `who` can insert a row owned by `ownerId`. Values known to satisfy the constraints are
 * tried first (a refusal by policy comes before unique checks); when the outcome is not a policy
 * decision, fresh values are made and tried. The insert is undone either way.
 */
async function canInsertFor(
  p: TableProbe,
  who: Identity,
  ownerId: string,
  known?: Values,
): Promise<boolean> {
  const { session, synth, schema, table, owner } = p;
  if (known) {
    const first = synth.insertStatement(schema, table, { ...known, [owner]: ownerId });
    const tried = await attempt(session, who, first.sql, first.params);
    if (!tried.error) return true;
    if (/row-level security|permission denied/i.test(tried.error)) return false;
  }
  // No valid second row may exist (one row per user): then there is nothing to forge.
  const fresh = await optionalValues(synth, schema, table, { [owner]: ownerId }, {
    id: ownerId,
    columnOf: p.columnOf,
  });
  if (!fresh) return false;
  const sql = synth.insertStatement(schema, table, fresh);
  return !(await attempt(session, who, sql.sql, sql.params)).error;
}
