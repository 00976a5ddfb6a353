/**
 * Rule `plpgsql_check`: what `supabase db lint` reports — plpgsql_check's static check of PL/pgSQL
 * bodies (missing tables and columns, wrong types, unused variables), which Postgres itself does
 * not do when a function is created — as findings on the function's file and line.
 *
 * `supabase db lint --db-url` (2.117.0) lists the user schemas (every schema that is neither an
 * extension's nor Supabase-managed nor owned by `supabase_admin`), runs
 * `plpgsql_check_function(p.oid, format := 'json')` on each PL/pgSQL function of them except
 * trigger functions, drops issues below `--level`, and prints `[{ function, issues }]`.
 * {@link runPlpgsqlCheck} runs those same two queries through a shadow session — no subprocess, so
 * it also works in a hosted function whose PostgreSQL shadow has the extension — and
 * {@link parseLintOutput} reads the CLI's own output; both give {@link LintResult}s, and
 * tests/e2e/cli_push_test.ts checks that they agree on the same database. Turning results into
 * findings is pure: {@link plpgsqlCheckFindings}.
 *
 * @example
 * ```ts
 * const before = await runPlpgsqlCheck(session);      // after the baseline
 * // … apply the files …
 * const after = await runPlpgsqlCheck(session);
 * const found = after.available
 *   ? plpgsqlCheckFindings(after.results, { files, before: before.available ? before.results : [] })
 *   : plpgsqlCheckSkipped(files, after.reason);
 * ```
 */
import { z } from "zod";
import { asNode, qualifiedName, stringList, typeNameOf } from "../pg_ast/mod.ts";
import { type ShadowSession, ShadowSqlError } from "../shadow/mod.ts";
import { lineAt } from "../sql/split.ts";
import type { ParsedFile, ParsedStatement } from "./parse.ts";

/** One issue plpgsql_check found in a function (the CLI's JSON, field for field). */
export const LintIssue = z.object({
  /** `error`, `warning`, `warning extra`, `performance`, … */
  level: z.string(),
  message: z.string(),
  /** The PL/pgSQL statement: its line in the body (line 1 is the rest of the `$$` line). */
  statement: z.object({ lineNumber: z.string(), text: z.string() }).optional(),
  /** The embedded SQL query and the 1-based position in it. */
  query: z.object({ position: z.string(), text: z.string() }).optional(),
  hint: z.string().optional(),
  detail: z.string().optional(),
  context: z.string().optional(),
  sqlState: z.string().optional(),
});
export type LintIssue = z.infer<typeof LintIssue>;

/** A function and its issues; `function` is `schema.name`. */
export const LintResult = z.object({ function: z.string(), issues: z.array(LintIssue) });
export type LintResult = z.infer<typeof LintResult>;

/** What a run through the session gave: results, or why there are none. */
export type PlpgsqlCheckRun =
  | { available: true; results: LintResult[] }
  | { available: false; reason: string };

/** The rules this module reports (entries of `RULES` in finding.ts). */
export type PlpgsqlCheckRule = "plpgsql_check" | "plpgsql_check_warning" | "checks_skipped";

/** A finding of this rule; the shape of `Finding`. */
export interface PlpgsqlCheckFinding {
  rule: PlpgsqlCheckRule;
  level: "error" | "warn" | "info";
  message: string;
  file: string | null;
  line: number | null;
  statement: string | null;
  object?: string;
}

/** Reads what `supabase db lint` printed on stdout (nothing at all when it found nothing). */
export function parseLintOutput(stdout: string): LintResult[] {
  if (stdout.trim() === "") return [];
  return z.array(LintResult).parse(JSON.parse(stdout));
}

/** Keeps the issues at `level` or above, as `--level` does (`warning` keeps `warning extra`). */
export function filterLevel(results: LintResult[], level: "warning" | "error"): LintResult[] {
  const kept = (issue: LintIssue) =>
    issue.level.startsWith("error") || (level === "warning" && issue.level.startsWith("warning"));
  return results.map((r) => ({ function: r.function, issues: r.issues.filter(kept) }))
    .filter((r) => r.issues.length > 0);
}

// The CLI's `ManagedSchemas` (pkg/migration/drop.go), as LIKE patterns.
const MANAGED_SCHEMAS = [
  "information\\_schema",
  "pg\\_%",
  "\\_analytics",
  "\\_realtime",
  "\\_supavisor",
  "pgbouncer",
  "pgmq",
  "pgsodium",
  "pgtle",
  "supabase\\_migrations",
  "vault",
];

// The CLI's pkg/migration/queries/list.sql.
const LIST_SCHEMAS = `
select pn.nspname
from pg_catalog.pg_namespace pn
left join pg_catalog.pg_depend pd on pd.objid = pn.oid
where pd.deptype is null
  and not pn.nspname like any($1::text[])
  and pn.nspowner::regrole::text != 'supabase_admin'
order by pn.nspname`;

// The CLI's internal/db/lint/templates/check.sql for all schemas at once. The function is
// qualified by the extension's schema and given a regprocedure: an overload the SQL under test
// adds (say `(oid, text)` in `extensions`) then makes the call ambiguous — an error, reported as
// "did not run" — instead of answering in its place.
const checkFunctions = (extensionSchema: string) => `
select n.nspname as schema, p.proname as name,
       ${quoteIdent(extensionSchema)}.plpgsql_check_function(p.oid::regprocedure, format := 'json')
         as result
from pg_catalog.pg_namespace n
join pg_catalog.pg_proc p on p.pronamespace = n.oid
join pg_catalog.pg_language l on p.prolang = l.oid
where l.lanname = 'plpgsql' and p.prorettype <> 2279 and n.nspname = any($1::text[])
order by n.nspname, p.proname, p.oid`;

function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/**
 * Runs what `supabase db lint --level warning` runs, through `session`, as its role. Unavailable
 * (with the reason) when the database has no `plpgsql_check` — PGlite, or a PostgreSQL shadow
 * whose template lacks it: only a superuser can create it — or when the check itself fails.
 */
export async function runPlpgsqlCheck(
  session: Pick<ShadowSession, "query">,
  options: { timeoutMs?: number; level?: "warning" | "error" } = {},
): Promise<PlpgsqlCheckRun> {
  const run = { timeoutMs: options.timeoutMs };
  try {
    const [ext] = await session.query<{ schema: string }>(
      `select n.nspname as schema from pg_catalog.pg_extension e
       join pg_catalog.pg_namespace n on n.oid = e.extnamespace
       where e.extname = 'plpgsql_check'`,
      [],
      run,
    );
    if (!ext) {
      return {
        available: false,
        reason: "the shadow database has no plpgsql_check extension",
      };
    }
    const schemas = (await session.query<{ nspname: string }>(LIST_SCHEMAS, [MANAGED_SCHEMAS], run))
      .map((r) => r.nspname);
    const rows = await session.query<{ schema: string; name: string; result: unknown }>(
      checkFunctions(ext.schema),
      [schemas],
      run,
    );
    const results = rows.map((row) => {
      const raw = typeof row.result === "string" ? JSON.parse(row.result) : row.result;
      const { issues } = z.object({ issues: z.array(LintIssue).default([]) }).parse(raw);
      return { function: `${row.schema}.${row.name}`, issues };
    });
    return { available: true, results: filterLevel(results, options.level ?? "warning") };
  } catch (e) {
    if (e instanceof ShadowSqlError) {
      return { available: false, reason: `plpgsql_check failed: ${e.message}` };
    }
    throw e;
  }
}

/** Where a function's body is, to turn a body line into a file line. */
interface FunctionSite {
  file: ParsedFile;
  statement: ParsedStatement;
  /** Offset of the body's first character in the file, when it was found. */
  bodyOffset?: number;
}

function functionBody(stmt: ParsedStatement): { name: string; body?: string } | undefined {
  const fn = asNode(stmt.node, "CreateFunctionStmt");
  if (!fn) return undefined;
  let body: string | undefined;
  for (const option of fn.options ?? []) {
    const def = asNode(option, "DefElem");
    if (def?.defname === "as") body = stringList(asNode(def.arg, "List")?.items)[0];
  }
  return { name: qualifiedName(stringList(fn.funcname)), body };
}

// The last definition of each function in the files (a later `create or replace` wins).
function functionSites(files: readonly ParsedFile[]): Map<string, FunctionSite> {
  const sites = new Map<string, FunctionSite>();
  for (const file of files) {
    for (const statement of file.statements) {
      const fn = functionBody(statement);
      if (!fn) continue;
      const at = fn.body === undefined ? -1 : statement.text.indexOf(fn.body);
      sites.set(fn.name, {
        file,
        statement,
        bodyOffset: at < 0 ? undefined : statement.offset + at,
      });
    }
  }
  return sites;
}

function issueKey(fn: string, issue: LintIssue): string {
  return [fn, issue.level, issue.message, issue.statement?.lineNumber, issue.query?.text]
    .join("\0");
}

function describe(fn: string, bodyLine: number | undefined, issue: LintIssue): string {
  const parts = [`${fn}${bodyLine ? ` line ${bodyLine}` : ""}: ${issue.message}`];
  if (issue.sqlState && issue.sqlState !== "00000") parts[0] += ` (SQLSTATE ${issue.sqlState})`;
  if (issue.query) parts.push(`in: ${issue.query.text.replace(/\s+/g, " ").trim()}`);
  if (issue.detail) parts.push(issue.detail);
  if (issue.hint) parts.push(`hint: ${issue.hint}`);
  return parts.join(" — ");
}

/**
 * Findings for the issues in `results` that `before` (the same check after the baseline) did not
 * have: `plpgsql_check` for errors, `plpgsql_check_warning` for warnings. Each is placed on the
 * file line of the body line plpgsql_check names, in the last of `files` that defines the
 * function; a function the files do not define (a baseline one they broke) gets no place.
 */
export function plpgsqlCheckFindings(
  results: readonly LintResult[],
  options: { files: readonly ParsedFile[]; before?: readonly LintResult[] },
): PlpgsqlCheckFinding[] {
  const old = new Set(
    (options.before ?? []).flatMap((r) => r.issues.map((i) => issueKey(r.function, i))),
  );
  const sites = functionSites(options.files);
  const out: PlpgsqlCheckFinding[] = [];
  for (const result of results) {
    const site = sites.get(result.function);
    for (const issue of result.issues) {
      if (old.has(issueKey(result.function, issue))) continue;
      const error = issue.level.startsWith("error");
      if (!error && !issue.level.startsWith("warning")) continue;
      const bodyLine = issue.statement
        ? Number(issue.statement.lineNumber) || undefined
        : undefined;
      let line: number | null = site ? site.statement.line : null;
      if (site && site.bodyOffset !== undefined && bodyLine) {
        line = lineAt(site.file.sql, site.bodyOffset) + bodyLine - 1;
      }
      out.push({
        rule: error ? "plpgsql_check" : "plpgsql_check_warning",
        level: error ? "error" : "warn",
        message: describe(result.function, bodyLine, issue),
        file: site?.file.name ?? null,
        line,
        statement: site?.statement.text ?? null,
        object: result.function,
      });
    }
  }
  return out;
}

/** The PL/pgSQL functions (not trigger functions, which `db lint` skips too) the files define. */
export function plpgsqlFunctions(files: readonly ParsedFile[]): FunctionSite[] {
  const out: FunctionSite[] = [];
  for (const file of files) {
    for (const statement of file.statements) {
      const fn = asNode(statement.node, "CreateFunctionStmt");
      if (!fn) continue;
      const language = (fn.options ?? []).map((o) => asNode(o, "DefElem"))
        .find((d) => d?.defname === "language");
      const plpgsql = asNode(language?.arg, "String")?.sval?.toLowerCase() === "plpgsql";
      const trigger = typeNameOf(fn.returnType) === "trigger";
      if (plpgsql && !trigger) out.push({ file, statement });
    }
  }
  return out;
}

/**
 * The `checks_skipped` note when plpgsql_check could not run and the files define PL/pgSQL
 * functions: what was not checked, and how to get it checked. Nothing when they define none.
 */
export function plpgsqlCheckSkipped(
  files: readonly ParsedFile[],
  reason: string,
): PlpgsqlCheckFinding[] {
  const functions = plpgsqlFunctions(files);
  if (functions.length === 0) return [];
  const names = [...new Set(functions.map((f) => functionBody(f.statement)!.name))];
  const first = functions[0];
  return [{
    rule: "checks_skipped",
    level: "info",
    message: `plpgsql_check did not run (${reason}), so the bodies of ${names.join(", ")} were ` +
      "not checked for missing tables and columns or wrong types; validate on a PostgreSQL " +
      "shadow with the plpgsql_check extension (SHADOW_DATABASE_URL) or run " +
      "`supabase db lint --db-url <url>`",
    file: first.file.name,
    line: first.statement.line,
    statement: first.statement.text,
  }];
}
