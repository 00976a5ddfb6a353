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
import { type Identity, SHADOW_OWNER, type ShadowSession, ShadowSqlError } from "../shadow/mod.ts";
import { literal, type ProbeStep, runUndoneSteps, type StepResult } from "./probe_batch.ts";
import { asNode, walk } from "../pg_ast/mod.ts";

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
    // Users are created as Supabase Auth creates them at sign-up, triggers on auth.users included:
    // through the shadow's sign-up function, as Supabase Auth's own role (supabase_auth_admin) with
    // its search_path (auth), so a trigger function runs with that role's rights — a security
    // invoker trigger writing public.profiles fails here as on Supabase ("Database error saving
    // new user"). A shadow without the function inserts as the migration role.
    const [signUp] = await session.query<{ fn: boolean }>(
      "select to_regprocedure('auth.bt_shadow_sign_up(uuid, text)') is not null as fn",
    );
    for (const u of [a, b]) {
      try {
        await session.query(
          signUp?.fn
            ? "select auth.bt_shadow_sign_up($1, $2)"
            : "insert into auth.users (id, email, aud, role) " +
              "values ($1, $2, 'authenticated', 'authenticated')",
          [u.id, u.identity.claims.email],
        );
      } catch (e) {
        if (!(e instanceof ShadowSqlError)) throw e;
        const trigger = catalog.triggers.find((t) => t.schema === "auth" && t.table === "users");
        const at = trigger
          ? locate([`trigger:auth.users.${trigger.name}`, `function:${triggerFunction(trigger)}`])
          : undefined;
        out.push(finding(
          "auth_signup_fails",
          `creating a user in auth.users fails, as every sign-up would: ${e.message}` +
            (trigger ? ` (trigger ${trigger.name} on auth.users)` : "") +
            "; isolation probes need users and were not run",
          { ...at, object: "auth.users" },
        ));
        return out;
      }
    }
    const synth = new RowSynthesizer(catalog, session);
    for (const name of parentsFirst(catalog, tables)) {
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
      // A table's probe rows stay for the next tables (as parents) unless its probe failed.
      await session.exec("savepoint bt_probe_table");
      let failed = true;
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
        failed = false;
      } catch (e) {
        // A row that cannot be made, or a probe Postgres refused outright (e.g. grants taken
        // from service_role): say so rather than pass.
        if (!(e instanceof RowSynthesisError) && !(e instanceof ShadowSqlError)) throw e;
        out.push(finding(
          "probe_not_built",
          `isolation of ${name} was not probed: ${e.message}`,
          { ...at, object: name },
        ));
      } finally {
        if (session.alive) {
          if (failed) {
            await session.exec("rollback to savepoint bt_probe_table");
            synth.resetParents();
          } else {
            await session.exec("release savepoint bt_probe_table");
          }
        }
      }
    }
  } finally {
    if (session.alive) await session.exec("rollback").catch(() => {});
  }
  return out;
}

/** `tables` ordered so a table comes after the tables it references (rows made for a parent's
 * probe then serve its children). */
function parentsFirst(catalog: Catalog, tables: readonly string[]): string[] {
  const wanted = new Set(tables);
  const done = new Set<string>();
  const out: string[] = [];
  const visit = (name: string, path: Set<string>) => {
    if (done.has(name) || path.has(name)) return;
    path.add(name);
    for (const fk of catalog.constraints) {
      const ref = `${fk.refSchema}.${fk.refTable}`;
      if (fk.type === "f" && `${fk.schema}.${fk.table}` === name && wanted.has(ref)) {
        visit(ref, path);
      }
    }
    path.delete(name);
    done.add(name);
    out.push(name);
  };
  for (const name of [...tables].sort()) visit(name, new Set());
  return out;
}

// `schema.name` of the function a trigger definition executes.
function triggerFunction(trigger: { definition: string }): string {
  const m = /execute (?:function|procedure) ([\w."]+)\(/i.exec(trigger.definition);
  const name = (m?.[1] ?? "").replaceAll('"', "");
  return name.includes(".") ? name : `public.${name}`;
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

async function optionalDraft(
  synth: RowSynthesizer,
  ...args: Parameters<RowSynthesizer["draft"]>
): Promise<Values | undefined> {
  try {
    return await synth.draft(...args);
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
  const ofA = `${literal(a.id)}::${ownerType}`;

  // A creates a row of their own (values found first as service_role, so a refusal is policy),
  // unless one exists already (e.g. a profile a trigger on auth.users made).
  const [existing] = (await session.queryAs(
    SERVICE,
    `select count(*)::int as n from ${ref} where ${col} = ${ofA}`,
  )).rows;
  if (Number(existing?.n ?? 0) === 0) {
    const valuesA = await synth.values(schema, table, { [owner]: a.id }, ownerOf);
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
  // Rows to forge, made valid beforehand (so a refusal in the batch is the policy's): another
  // row for A (none may exist, e.g. one row per user), and a row for B — whose parent rows, made
  // now, also let the hand-over step pass foreign keys.
  const forgedA = await optionalDraft(synth, schema, table, { [owner]: a.id }, ownerOf);
  const forB = await optionalDraft(synth, schema, table, { [owner]: b.id }, {
    id: b.id,
    columnOf: p.columnOf,
  });

  // Every check, each undone, in one round trip. Changes by others are tried without a filter
  // (PATCH or DELETE on the whole table): such a statement reads no column, so it meets only the
  // UPDATE/DELETE policy — anything a filtered statement could change, this one changes too.
  const countA = `select count(*) from ${ref} where ${col} = ${ofA}`;
  const checks: { step: ProbeStep; judge: (r: StepResult) => void }[] = [];
  // Each forged insert follows a service_role insert of the same row: if that one fails, the row
  // breaks a constraint and the check says nothing — reported below instead of passing quietly.
  const controls: StepResult[] = [];
  const controlPassed = () => !controls.at(-1)?.error;
  const check = (step: ProbeStep, judge: (r: StepResult) => void) => checks.push({ step, judge });
  if (hasPolicy("select")) {
    check({ as: a.identity, sql: countA, measure: "count" }, (r) => {
      if (r.n === 0) {
        report(
          "rls_owner_access",
          "select",
          `user A cannot read their own row of ${name} although a select policy exists` +
            (r.error ? `: ${r.error}` : ""),
        );
      }
    });
  }
  if (hasPolicy("update")) {
    // With a filter, as PostgREST sends `?user_id=eq.…`: it needs a SELECT policy too.
    const sql = `update ${ref} set ${col} = ${col} where ${col} = ${ofA}`;
    check({ as: a.identity, sql, measure: "rows" }, (r) => {
      if (r.n === 0) {
        report(
          "rls_owner_access",
          "update",
          `user A's update of their own row in ${name} changed nothing although an update ` +
            "policy exists" + (r.error
              ? `: ${r.error}`
              : " (an UPDATE with a filter only reaches rows a SELECT policy lets the user see)"),
        );
      }
    });
  }
  if (hasPolicy("delete")) {
    check(
      { as: a.identity, sql: `delete from ${ref} where ${col} = ${ofA}`, measure: "rows" },
      (r) => {
        if (r.n === 0) {
          report(
            "rls_owner_access",
            "delete",
            `user A could not delete their own row in ${name} although a delete policy exists` +
              (r.error ? `: ${r.error}` : " (a DELETE with a filter only reaches rows a SELECT " +
                "policy lets the user see)"),
          );
        }
      },
    );
  }
  const others = [
    { who: "user B", identity: b.identity, role: "authenticated" },
    { who: "anon", identity: ANON, role: "anon" },
  ] as const;
  const readLeaks: { who: string; role: string }[] = [];
  const reach = catalog.tables.find((t) => t.schema === schema && t.name === table);
  for (const { who, identity, role } of others) {
    // A role without any privilege on the table (or its columns) is refused before any policy.
    if (role === "anon" && reach && !reach.anonAccess) continue;
    check({ as: identity, sql: countA, measure: "count" }, (r) => {
      if (r.n > 0) readLeaks.push({ who, role });
    });
    check({ as: identity, sql: `update ${ref} set ${col} = ${ofA}`, measure: "touch" }, (r) => {
      if (r.touched) {
        report(
          "rls_isolation_leak",
          "update",
          `${who} can update user A's rows in ${name} (the update policy's using does not tie ` +
            "rows to the caller)",
        );
      }
    });
    check({ as: identity, sql: `delete from ${ref}`, measure: "touch" }, (r) => {
      if (r.touched) {
        report(
          "rls_isolation_leak",
          "delete",
          `${who} can delete user A's rows in ${name} (the delete policy's using does not tie ` +
            "rows to the caller)",
        );
      }
    });
    if (forgedA) {
      const sql = synth.insertSql(schema, table, forgedA);
      check({ as: SERVICE, sql, measure: "rows" }, (r) => controls.push(r));
      check({ as: identity, sql, measure: "rows" }, (r) => {
        if (!r.error && controlPassed()) {
          report(
            "rls_isolation_leak",
            "insert",
            `${who} can insert a row owned by user A into ${name} (the insert policy's with ` +
              "check does not tie the row to the caller)",
          );
        }
      });
    }
  }
  if (forB) {
    const sql = synth.insertSql(schema, table, forB);
    check({ as: SERVICE, sql, measure: "rows" }, (r) => controls.push(r));
    check({ as: a.identity, sql, measure: "rows" }, (r) => {
      if (!r.error && controlPassed()) {
        report(
          "rls_isolation_leak",
          "insert",
          `user A can insert a row owned by user B into ${name} (the insert policy's with ` +
            "check does not tie the row to the caller)",
        );
      }
    });
  }
  const toB = `update ${ref} set ${col} = ${literal(b.id)}::${ownerType}`;
  check({ as: a.identity, sql: toB, measure: "touch" }, (r) => {
    if (r.touched) {
      report(
        "rls_isolation_leak",
        "update",
        `user A can hand their row of ${name} to user B (the update policy's with check does ` +
          `not tie ${owner} to the caller)`,
      );
    }
  });

  const results = await runUndoneSteps(session, checks.map((c) => c.step), {
    versionsSql: `select ctid::text as v from ${ref} where ${col} = ${ofA}`,
    reader: forced ? "service_role" : SHADOW_OWNER,
  });
  checks.forEach((c, i) => c.judge(results[i]));
  // A duplicate key means the row exists already (one row per user): nothing to forge.
  const broken = controls.find((r) => r.error && !/duplicate key/.test(r.error));
  if (broken) {
    out.push(finding(
      "probe_not_built",
      `inserts of rows owned by another user into ${name} were not probed: no valid row could ` +
        `be made (${broken.error})`,
      { ...p.locate([`table:${name}`]), object: name },
    ));
  }
  // Reads a caller-independent select policy allows are by design, not a leak — but a policy
  // that is true for every row of a table users own is a choice the user must see and accept.
  const publicReaders: string[] = [];
  const publicPolicies = new Set<string>();
  for (const { who, role } of readLeaks) {
    const byDesign: string[] = [];
    for (const x of policies.filter((x) => appliesTo(x, role, "select"))) {
      if (!await independentOfCaller(x, owner)) continue;
      byDesign.push(x.name);
      if (await alwaysTrue(x)) {
        publicPolicies.add(x.name);
        if (!publicReaders.includes(who)) publicReaders.push(who);
      }
    }
    if (byDesign.length === 0) {
      report("rls_isolation_leak", "select", `${who} can read user A's rows in ${name}`);
    }
  }
  if (publicPolicies.size > 0) {
    const named = [...publicPolicies];
    const at = p.locate([...named.map((n) => `policy:${name}.${n}`), `table:${name}`]);
    out.push(finding(
      "rls_public_read_on_owned_table",
      `select ${named.length > 1 ? "policies" : "policy"} ${
        named.map((n) => `"${n}"`).join(", ")
      } on ${name} ${named.length > 1 ? "are" : "is"} true for everyone, so ` +
        `${publicReaders.join(" and ")} can read every row, user A's included, although the ` +
        `table's rows belong to users (owner column ${owner}); if the table is public by ` +
        "design accept this warning, else compare the owner column with (select auth.uid())",
      { ...at, object: name },
    ));
  }
  return out;
}

/**
 * Whether a policy's expression is true for every row whatever the caller: it reads no column,
 * calls nothing and sub-selects nothing (`using (true)`, `using (1 = 1)`). `using (published)`
 * is a per-row decision and is not reported.
 */
async function alwaysTrue(p: CatalogPolicy): Promise<boolean> {
  const text = p.using ?? p.withCheck;
  if (!text) return true;
  const expr = await parseExpression(text);
  if (!expr) return false;
  let dependent = false;
  walk(expr, ({ node }) => {
    if (
      asNode(node, "ColumnRef") || asNode(node, "FuncCall") || asNode(node, "SubLink") ||
      asNode(node, "ParamRef")
    ) dependent = true;
  });
  return !dependent;
}
