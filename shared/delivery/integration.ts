/**
 * Integration validation of the merged deliverable, on the same proving ground as every other
 * place that runs untrusted SQL: a session of shared/shadow (its own disposable database, as the
 * unprivileged shadow role, with the shadow's statement timeouts and disk cap) bounded by
 * shared/validation's total limits (wall clock, statements, bytes of SQL). The project's existing
 * schema (`context.schema_sql`) applies first, then every delivered migration from scratch in
 * order, each in its own transaction as `supabase db push` applies them, split and located by the
 * Postgres parser; statements that reach outside the database are refused before anything runs,
 * and the database's privileges refuse whatever hides from that filter (DO blocks, `EXECUTE`).
 * Then fixture rows and pgTAP tests are generated from the shared catalog and run there, and the
 * down migrations, newest first, must restore the starting schema (compared as the validator's
 * schema snapshots). The deliverable passes when every migration applies and every test passes;
 * the rollback check is reported as evidence alongside. The deployment configuration is checked
 * against the delivered functions too ({@link checkDeliveredConfig}, pure, nothing runs):
 * `config.toml` parses and names delivered functions, every variable a function reads is declared,
 * and `verify_jwt` matches the code; its findings go into the report's `config`.
 *
 * @example
 * ```ts
 * const { report, tests } = await validateIntegration(await sharedShadow("pglite"), { migrations });
 * if (!report.ok) console.log(report.tests.flatMap((t) => t.failures));
 * ```
 */
import type { ConfigCheckEvidence, IntegrationReport } from "../runs/mod.ts";
import {
  SHADOW_OWNER,
  ShadowClosedError,
  type ShadowDatabase,
  ShadowResourceLimitError,
  type ShadowSession,
  ShadowSqlError,
  ShadowTimeoutError,
} from "../shadow/mod.ts";
import {
  boundedSession,
  checkDeployConfig,
  diffSnapshots,
  extensionsNeeded,
  type FunctionFile,
  lineOfPosition,
  type ParsedFile,
  parseSqlFile,
  readCatalog,
  type SchemaSnapshot,
  snapshotOf,
  unsafeStatementReason,
  type ValidationLimits,
  validationLimits,
} from "../validation/mod.ts";
import type { DeliveryArtifact } from "./assembly_input.ts";
import { findFixtures } from "./fixture_search.ts";
import { fixtureInsertSql, tableKey } from "./fixtures.ts";
import { type GeneratedTest, generatePgtapTests } from "./pgtap.ts";
import { runPgtapFiles } from "./pgtap_run.ts";
import { modelTableIds, schemaModel } from "./schema_model.ts";

/** A migration to validate, in apply order. */
export interface MigrationToValidate {
  path: string;
  up: string;
  down: string | null;
}

/** What {@link validateIntegration} checks. */
export interface IntegrationInput {
  /** The project's schema the run built on (`runs.context.schema_sql`), applied first. */
  baseSql?: string | null;
  migrations: MigrationToValidate[];
  /** Total limits (default: `validationLimits()`, from the environment). */
  limits?: Partial<ValidationLimits>;
}

/** The verdict and the pgTAP files it ran (which the deliverable ships). */
export interface IntegrationOutcome {
  report: IntegrationReport;
  tests: GeneratedTest[];
}

/** How the project's existing schema is named in the report. */
export const BASE_SCHEMA_PATH = "(the project's existing schema)";
/** How the check as a whole is named in the report when a limit ends it. */
export const WHOLE_CHECK_PATH = "(the integration check)";

/** A failure of untrusted SQL: what the report says about it. */
class Refused extends Error {}

/** Validates the migrations together on a fresh shadow session; see the module doc. */
export async function validateIntegration(
  shadow: ShadowDatabase,
  input: IntegrationInput,
): Promise<IntegrationOutcome> {
  const started = performance.now();
  const limits = { ...validationLimits(), ...input.limits };
  const report: IntegrationReport = {
    ok: false,
    backend: shadow.backend === "postgres" ? "postgresql" : shadow.backend,
    duration_ms: 0,
    migrations: [],
    tests: [],
    fixtures: [],
    rollback: null,
  };
  let tests: GeneratedTest[] = [];
  const finish = (): IntegrationOutcome => {
    report.ok = report.migrations.every((m) => m.ok) && report.tests.every((t) => t.ok);
    report.duration_ms = Math.round(performance.now() - started);
    return { report, tests };
  };
  const fail = (path: string, error: string) =>
    report.migrations.push({ path, ok: false, duration_ms: 0, error });

  const base = input.baseSql && input.baseSql.trim() !== ""
    ? await parseSqlFile({ name: BASE_SCHEMA_PATH, sql: input.baseSql })
    : null;
  const ups = await Promise.all(
    input.migrations.map((m) => parseSqlFile({ name: m.path, sql: m.up })),
  );
  const downs = await Promise.all(
    input.migrations.map((m) =>
      m.down === null || m.down.trim() === "" ? null : parseSqlFile({ name: m.path, sql: m.down })
    ),
  );
  const all = [base, ...ups, ...downs].filter((f): f is ParsedFile => f !== null);

  const statements = all.reduce((n, f) => n + f.statements.length, 0);
  const bytes = all.reduce((n, f) => n + new TextEncoder().encode(f.sql).length, 0);
  if (statements > limits.maxStatements || bytes > limits.maxSqlBytes) {
    fail(
      WHOLE_CHECK_PATH,
      `the schema and migrations hold ${statements} statements and ${bytes} bytes of SQL; an ` +
        `integration check may hold at most ${limits.maxStatements} statements and ` +
        `${limits.maxSqlBytes} bytes; nothing was run`,
    );
    return finish();
  }
  // Syntax and statements that reach outside the database stop everything before anything runs.
  const early = [base, ...ups].map((f) => (f ? refusal(f) : null));
  if (early.some((e) => e !== null)) {
    for (const [i, f] of [base, ...ups].entries()) {
      if (f) fail(f.name, early[i] ?? "not applied: another file was refused");
    }
    return finish();
  }

  const session = boundedSession(
    await shadow.open({ extensions: extensionsNeeded(all) }),
    Date.now() + limits.totalMs,
    limits.totalMs,
  );
  let phase = "applying the schema and migrations";
  try {
    if (base) {
      const error = await applyFile(session, base);
      if (error) {
        fail(base.name, error);
        for (const m of ups) fail(m.name, "not applied: the project's existing schema failed");
        return finish();
      }
    }
    const before = await readCatalog(session);

    let failed = false;
    for (const migration of ups) {
      if (failed) {
        fail(migration.name, "not applied: an earlier migration failed");
        continue;
      }
      const t0 = performance.now();
      const error = await applyFile(session, migration);
      report.migrations.push({
        path: migration.name,
        ok: error === null,
        duration_ms: Math.round(performance.now() - t0),
        error,
      });
      failed = error !== null;
    }
    if (failed) return finish();

    phase = "making fixture rows";
    const after = await readCatalog(session);
    const model = await schemaModel(after, modelTableIds(before));
    const fixtures = await findFixtures(session, model, after);
    for (const table of model.tables.filter((t) => t.delivered)) {
      const row = fixtures.rows.get(tableKey(table));
      report.fixtures.push({
        table: tableKey(table),
        ok: row !== undefined,
        detail: row ? fixtureInsertSql(row) : fixtures.missing.get(tableKey(table)) ?? "",
      });
    }
    tests = generatePgtapTests(model, fixtures);
    phase = "running the pgTAP tests";
    report.tests.push(...await runPgtapFiles(session, tests));

    phase = "checking the rollback";
    report.rollback = await checkRollback(session, input.migrations, downs, snapshotOf(before));
  } catch (e) {
    // What the delivered SQL did (an error it raised, a limit it hit, a session it ended) is a
    // finding of this check; anything else (the shadow server unreachable, a bug) is not the
    // user's and goes up to the caller, whose errors users see only as a code and a safe message.
    if (
      e instanceof ShadowSqlError || e instanceof ShadowResourceLimitError ||
      e instanceof ShadowTimeoutError || e instanceof ShadowClosedError || e instanceof Refused
    ) {
      fail(WHOLE_CHECK_PATH, `while ${phase}: ${e.message}`);
    } else {
      throw e;
    }
  } finally {
    await session.close();
  }
  return finish();
}

/** Why a file may not run at all: a syntax error or a statement that reaches outside. */
function refusal(file: ParsedFile): string | null {
  if (file.syntaxError) {
    return `line ${file.syntaxError.line}: syntax error: ${file.syntaxError.message}`;
  }
  for (const s of file.statements) {
    const reason = unsafeStatementReason(s);
    if (reason) return `line ${s.line}: refused: ${reason}; nothing of it was run`;
  }
  return null;
}

/**
 * Applies a parsed file in one transaction, statement by statement; the error (with its line) or
 * null. A failed file leaves nothing behind.
 */
async function applyFile(session: ShadowSession, file: ParsedFile): Promise<string | null> {
  if (file.statements.length === 0) return null;
  await session.exec("begin");
  for (const s of file.statements) {
    try {
      await session.exec(s.text);
    } catch (e) {
      if (session.alive) await session.exec("rollback").catch(() => {});
      if (e instanceof ShadowSqlError) {
        const extra = [e.detail, e.hint ? `hint: ${e.hint}` : ""].filter(Boolean).join("; ");
        return `line ${lineOfPosition(s, e.position)}: ${e.message}${extra ? ` (${extra})` : ""}`;
      }
      if (e instanceof ShadowTimeoutError) return `line ${s.line}: ${e.message}`;
      throw e;
    }
  }
  try {
    await session.exec("commit");
  } catch (e) {
    if (!(e instanceof ShadowSqlError)) throw e;
    return `at commit: ${e.message}`;
  }
  await roleKept(session, file);
  return null;
}

/**
 * Stops the check when SQL changed the session's role for good (`reset role` in dynamic SQL):
 * on PostgreSQL that is only the session's own login role, on PGlite it is PGlite's superuser
 * inside the WASM sandbox — either way later verdicts could not be trusted.
 */
async function roleKept(session: ShadowSession, file: ParsedFile): Promise<void> {
  const [row] = await session.query<{ who: string }>("select current_user as who");
  if (row?.who !== SHADOW_OWNER) {
    throw new Refused(
      `after ${file.name} the session runs as ${row?.who ?? "nobody"}, not as the shadow's ` +
        "role: a statement switched roles (e.g. reset role in dynamic SQL); the check stopped",
    );
  }
}

const MAX_ROLLBACK_DETAILS = 12;

/** Applies the down migrations newest first and compares the schema with where it started. */
async function checkRollback(
  session: ShadowSession,
  migrations: readonly MigrationToValidate[],
  downs: readonly (ParsedFile | null)[],
  before: SchemaSnapshot,
) {
  const withoutDown = migrations.filter((_, i) => downs[i] === null);
  if (withoutDown.length > 0) {
    return {
      ok: false,
      detail: `not checked: no down migration for ${withoutDown.map((m) => m.path).join(", ")}`,
    };
  }
  for (const down of [...downs].reverse()) {
    const error = refusal(down!) ?? await applyFile(session, down!);
    if (error) return { ok: false, detail: `the down migration of ${down!.name} failed: ${error}` };
  }
  const diff = diffSnapshots(before, snapshotOf(await readCatalog(session)));
  const problems = [
    ...diff.added.map((k) => `still there: ${k}`),
    ...diff.removed.map((k) => `missing: ${k}`),
    ...diff.changed.map((k) => `changed: ${k}`),
  ];
  if (problems.length === 0) {
    return {
      ok: true,
      detail: `the ${migrations.length} down migrations, newest first, restore the starting schema`,
    };
  }
  return {
    ok: false,
    detail: `after the down migrations the schema differs: ${
      problems.slice(0, MAX_ROLLBACK_DETAILS).join("; ")
    }${
      problems.length > MAX_ROLLBACK_DETAILS
        ? `; … ${problems.length - MAX_ROLLBACK_DETAILS} more`
        : ""
    }`,
  };
}

const FUNCTIONS_FOLDER = "supabase/functions/";

// Variable names of an artifact's `env_vars` meta: names (edge functions) or `{ name }` (setup).
function envNames(value: unknown): string[] {
  if (!Array.isArray(value)) return [];
  return value.map((v) =>
    typeof v === "string"
      ? v
      : typeof v === "object" && v !== null
      ? (v as { name?: unknown }).name
      : null
  ).filter((n): n is string => typeof n === "string");
}

/**
 * The config-agrees check (shared/validation `checkDeployConfig`) on the merged result: every
 * delivered `config.toml`, every source under `supabase/functions/` (whichever task wrote it), the
 * variables every task declared (the functions' `env_vars`, the Setup sections) and the
 * `verify_jwt` the edge-functions agent declared. Each finding names the delivered file it is
 * about (`supabase/config.toml`, `supabase/functions/notes/index.ts`), so a failure can be
 * attributed to the task that wrote that file. Pure.
 *
 * @example
 * ```ts
 * const config = await checkDeliveredConfig(input.artifacts);
 * if (config.some((f) => f.level === "error")) report.ok = false;
 * ```
 */
export async function checkDeliveredConfig(
  artifacts: readonly Pick<DeliveryArtifact, "kind" | "path" | "content" | "meta">[],
): Promise<ConfigCheckEvidence[]> {
  const configFiles = artifacts
    .filter((a) => a.path === "config.toml" || a.path.endsWith("/config.toml"))
    .map((a) => ({ path: a.path, content: a.content }));
  const functions: FunctionFile[] = artifacts
    .filter((a) => a.path.startsWith(FUNCTIONS_FOLDER) && /\.(ts|tsx|mts|js|mjs)$/.test(a.path))
    .map((a) => ({ name: a.path.slice(FUNCTIONS_FOLDER.length), source: a.content }));
  if (configFiles.length === 0 && functions.length === 0) return [];
  const declaredVerifyJwt: Record<string, boolean> = {};
  for (const a of artifacts) {
    if (
      a.kind === "edge_function" && typeof a.meta.function_name === "string" &&
      typeof a.meta.verify_jwt === "boolean"
    ) {
      declaredVerifyJwt[a.meta.function_name] = a.meta.verify_jwt;
    }
  }
  const findings = await checkDeployConfig({
    configFiles,
    functions,
    declaredEnv: artifacts.flatMap((a) => envNames(a.meta.env_vars)),
    declaredVerifyJwt,
  });
  const sources = new Set(functions.map((f) => f.name));
  return findings.map((f) => {
    const file = f.file ?? "";
    return {
      rule: f.rule,
      level: f.level,
      // Function findings name `<function>/<file>`: the delivered path is under the folder.
      file: sources.has(file) ? `${FUNCTIONS_FOLDER}${file}` : file,
      line: f.line ?? null,
      message: f.message,
    };
  });
}
