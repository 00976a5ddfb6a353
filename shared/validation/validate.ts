/**
 * The validator: untrusted migrations are parsed, then applied in order on a fresh shadow database
 * on top of the earlier accepted ones, and judged — parse and apply errors with their line,
 * migration-safety warnings, advisor lints on the resulting catalog (only what these migrations
 * introduced, not what the baseline already had), behavioural RLS probes on the tables they
 * touched, index use of the given queries, exact rollback, and a type-check of edge functions.
 * The product database is never involved; a shadow is disposed of after each validation.
 *
 * @example
 * ```ts
 * const report = await validateMigrations({
 *   baseline: acceptedSoFar,                     // [{ name, sql }]
 *   files: [{ name: "20250101_trades.sql", sql, down }],
 *   queries: [{ sql: "select * from public.trades where user_id = $1", index: "trades_user_id_idx" }],
 * });
 * if (!report.ok) retryWith(report.findings.filter((f) => f.level === "error"));
 * ```
 */
import { asNode, relationName } from "../pg_ast/mod.ts";
import { indexStatements, statementAnchors, type StatementIndex } from "./attribution.ts";
import { type Catalog, CHECK_TIMEOUT_MS, readCatalog } from "./catalog.ts";
import { checkQueryPlans, type QueryCheck } from "./explain.ts";
import { type IndexBenchmark, measureIndexBenefit } from "./index_benefit.ts";
import { nPlusOneFindings } from "./n_plus_one.ts";
import { type ChannelCase, type ChannelProbe, probeChannels } from "./channel_probe.ts";
import { type Finding, finding } from "./finding.ts";
import { lintCatalog, type LintHit } from "./lints.ts";
import { lineOfPosition, type ParsedFile, parseSqlFile } from "./parse.ts";
import { probeIsolation } from "./probes.ts";
import {
  type BaselineInput,
  downFileName,
  type MigrationInput,
  type ValidationReport,
} from "./request.ts";
import {
  diffSnapshots,
  type SchemaSnapshot,
  snapshotOf,
  tablesTouched,
} from "./schema_snapshot.ts";
import { migrationSafetyFindings, unsafeStatementReason } from "./static_rules.ts";
import {
  FunctionFile,
  importEscapes,
  typecheckFunctions,
  typecheckImportMap,
} from "./typecheck.ts";
import type { DocumentedEndpoint } from "./function_contract.ts";
import { extensionsNeeded } from "./extensions_needed.ts";
import { plpgsqlCheckFindings, plpgsqlCheckSkipped, runPlpgsqlCheck } from "./plpgsql_check.ts";
import { boundedSession, type ValidationLimits, validationLimits } from "./bounds.ts";
import {
  DEFAULT_STATEMENT_TIMEOUT_MS,
  SHADOW_OWNER,
  type ShadowBackend,
  ShadowClosedError,
  type ShadowDatabase,
  ShadowResourceLimitError,
  type ShadowSession,
  ShadowSqlError,
  ShadowTimeoutError,
  sharedShadow,
} from "../shadow/mod.ts";
import { splitStatements } from "../sql/split.ts";

/** What {@link validateMigrations} checks. */
export interface ValidateOptions {
  /** The migrations to validate, applied in this order (each may carry its `down`). */
  files: readonly MigrationInput[];
  /** Earlier accepted migrations, applied first; their own issues are not reported. */
  baseline?: readonly BaselineInput[];
  /** Queries that must use a given index. */
  queries?: readonly QueryCheck[];
  /** Edge function sources to type-check with `deno check`. */
  functions?: readonly FunctionFile[];
  /** A backend name (the process-wide shadow of it) or a shadow of your own. Default `pglite`. */
  shadow?: ShadowBackend | ShadowDatabase;
  /** Schemas the Data API exposes (default `["public"]`). */
  exposedSchemas?: readonly string[];
  /** Run behavioural RLS probes (default true). */
  probes?: boolean;
  /** Receives how long each phase took, in ms (for benchmarks and logs). */
  trace?: (phase: string, ms: number) => void;
  /** Total limits of this validation (default: from the environment, see `bounds.ts`). */
  limits?: Partial<ValidationLimits>;
  /**
   * Measure each query's index with `EXPLAIN (ANALYZE, BUFFERS)` on synthetic rows, with and
   * without it (default on; `rows` per queried table, default `BT_INDEX_BENCH_ROWS` or 50 000;
   * `budgetMs` at most, default half the validation's total time).
   */
  benchmark?: boolean | { rows?: number; budgetMs?: number };
  /** Private Realtime channels to join as owner, another user and anon. */
  channels?: readonly ChannelCase[];
  /** Joins channels on a shadow Realtime (provided by the local stack and tests). */
  channelProbe?: ChannelProbe;
  /**
   * Start each delivered function (`<name>/index.ts`) in a sandboxed subprocess against this
   * validation's shadow database and run the generated HTTP checks (default off; see
   * `function_run.ts`). Where it cannot run, an info finding says so.
   */
  runFunctions?: boolean;
  /** Also return the resulting schema's keys (`report.schema`; plan contracts are checked on it). */
  schema?: boolean;
  /**
   * Documented endpoints (the api-data agent's `ApiEndpoint`s): with `runFunctions`, those under
   * `/functions/v1/<function>` are called and their answers judged against the declared status and
   * response JSON Schema (`function_contract_mismatch`).
   */
  endpoints?: readonly DocumentedEndpoint[];
  /**
   * `verify_jwt` per function name (default true): where false, a call without a token need not
   * get 401.
   */
  verifyJwt?: Readonly<Record<string, boolean>>;
}

/** Why applying stopped. */
interface Stop {
  file: string;
}

/**
 * Applies a parsed file the way the Supabase CLI applies a migration: the whole file in one
 * round trip, which Postgres runs as one transaction when it holds several statements (so
 * `create index concurrently` must be a file of its own, as on Supabase). Statements that reach
 * outside the database are refused first, and nothing of the file runs. When the file fails, it
 * is replayed statement by statement (and rolled back) to name the statement and line. Returns
 * the finding that stopped it, if any; a failed file leaves nothing behind.
 */
async function applyFile(session: ShadowSession, file: ParsedFile): Promise<Finding | undefined> {
  for (const s of file.statements) {
    const unsafe = unsafeStatementReason(s);
    if (unsafe) {
      return finding("unsafe_statement", `${unsafe}; the file was not run`, {
        file: file.name,
        line: s.line,
        statement: s.text,
      });
    }
  }
  if (file.statements.length === 0) return undefined;
  const timeoutMs = statementTimeoutOf(file);
  try {
    await session.exec(file.sql, { timeoutMs });
  } catch (e) {
    if (e instanceof ShadowResourceLimitError) throw e;
    if (e instanceof ShadowSqlError) return await locateFailure(session, file, e);
    const only = file.statements.length === 1 ? file.statements[0] : undefined;
    const where = { file: file.name, line: only?.line ?? null, statement: only?.text ?? null };
    if (e instanceof ShadowTimeoutError) {
      return finding(
        "statement_timeout",
        `${e.message}; a migration must finish quickly on an empty database`,
        where,
      );
    }
    if (e instanceof ShadowClosedError) {
      return finding("apply_error", `the shadow database ended: ${e.message}`, where);
    }
    throw e;
  }
  return await roleKept(session, file);
}

// A file of many statements gets proportionally more time (the shadow's timeout per 25).
function statementTimeoutOf(file: ParsedFile): number | undefined {
  const batches = Math.ceil(file.statements.length / 25);
  return batches > 1 ? batches * DEFAULT_STATEMENT_TIMEOUT_MS : undefined;
}

/** Which statement of a failed file failed, and on which line: replayed one by one, undone. */
async function locateFailure(
  session: ShadowSession,
  file: ParsedFile,
  error: ShadowSqlError,
): Promise<Finding> {
  const wrap = file.statements.length > 1;
  if (wrap) await session.exec("begin");
  try {
    for (const s of file.statements) {
      const where = { file: file.name, line: s.line, statement: s.text };
      try {
        await session.exec(s.text);
      } catch (e) {
        if (e instanceof ShadowSqlError) return applyError(e, s, where);
        if (e instanceof ShadowTimeoutError) {
          return finding("statement_timeout", e.message, where);
        }
        throw e;
      }
    }
    // Replayed cleanly: the failure was at commit (e.g. a deferred constraint).
    if (wrap) await session.exec("commit");
    return finding("apply_error", `${error.message} (at commit)`, {
      file: file.name,
      line: file.statements.at(-1)?.line ?? null,
    });
  } finally {
    if (session.alive) await session.exec("rollback").catch(() => {});
  }
}

function applyError(
  e: ShadowSqlError,
  s: ParsedFile["statements"][number],
  where: { file: string; line: number; statement: string },
): Finding {
  const line = lineOfPosition(s, e.position);
  const extra = [e.detail, e.hint ? `hint: ${e.hint}` : ""].filter(Boolean).join("; ");
  return finding(
    "apply_error",
    `${e.message}${e.code ? ` (SQLSTATE ${e.code})` : ""}${extra ? ` — ${extra}` : ""}`,
    { ...where, line },
  );
}

/**
 * Whether the session still runs as the migration role. Dynamic SQL can `reset role` — harmless on
 * PostgreSQL, where the session user is that role, but on PGlite it reaches PGlite's own
 * superuser; anything done then stays inside the WASM sandbox, yet the checks could no longer be
 * trusted, so validation stops with a finding.
 */
async function roleKept(session: ShadowSession, file: ParsedFile): Promise<Finding | undefined> {
  const [row] = await session.query<{ who: string }>("select current_user as who", [], {
    timeoutMs: CHECK_TIMEOUT_MS,
  });
  if (!row) throw new ShadowClosedError(`the shadow database stopped answering after ${file.name}`);
  if (row.who === SHADOW_OWNER) return undefined;
  return finding(
    "unsafe_statement",
    `after this file the session runs as ${row.who}, not as the migration role: a statement ` +
      "switched roles (e.g. reset role or set role in dynamic SQL); validation stopped",
    { file: file.name },
  );
}

function place(hit: LintHit, index: StatementIndex): Finding {
  const at = index.locate(hit.anchors);
  return finding(hit.rule, hit.message, { ...at, object: hit.object });
}

function probeCandidates(catalog: Catalog, exposed: ReadonlySet<string>): Set<string> {
  return new Set(
    catalog.tables.filter((t) =>
      (t.kind === "r" || t.kind === "p") && exposed.has(t.schema) && t.rls &&
      (t.anonAccess || t.authenticatedAccess) && !t.fromExtension
    ).map((t) => `${t.schema}.${t.name}`),
  );
}

const MAX_ROLLBACK_DETAILS = 15;

function describeKey(key: string): string {
  const [kind, ...rest] = key.split(":");
  return `${kind} ${rest.join(":")}`;
}

// Which parts of an object's fingerprint differ, e.g. "acl: … → …".
function describeChange(before: string | undefined, after: string | undefined): string {
  try {
    const a = JSON.parse(before ?? "") as Record<string, unknown>;
    const b = JSON.parse(after ?? "") as Record<string, unknown>;
    const parts = Object.keys({ ...a, ...b })
      .filter((k) => JSON.stringify(a[k]) !== JSON.stringify(b[k]))
      .map((k) => `${k}: ${JSON.stringify(a[k])} → ${JSON.stringify(b[k])}`);
    return parts.join("; ");
  } catch {
    return `${before} → ${after}`;
  }
}

// The catalog right after the baseline is the same every time the same baseline is applied (the
// loop validates each retry on top of the same accepted migrations): read it once per shadow.
const baselineCatalogs = new WeakMap<ShadowDatabase, Map<string, Catalog>>();

async function baselineCatalog(
  shadow: ShadowDatabase,
  session: ShadowSession,
  baseline: readonly ParsedFile[],
): Promise<Catalog> {
  const text = JSON.stringify(baseline.map((f) => [f.name, f.sql]));
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  const key = [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
  let cache = baselineCatalogs.get(shadow);
  if (!cache) baselineCatalogs.set(shadow, cache = new Map());
  const cached = cache.get(key);
  if (cached) return cached;
  const catalog = await readCatalog(session);
  if (cache.size >= 32) cache.clear();
  cache.set(key, catalog);
  return catalog;
}

/** Validates migrations on a fresh shadow database; see the module doc. */
export async function validateMigrations(options: ValidateOptions): Promise<ValidationReport> {
  const started = performance.now();
  const findings: Finding[] = [];
  const typecheck = typecheckFunctions(options.functions ?? []);
  let mark = started;
  const lap = (phase: string) => {
    const now = performance.now();
    options.trace?.(phase, now - mark);
    mark = now;
  };

  const limits = { ...validationLimits(), ...options.limits };
  let benchmarks: IndexBenchmark[] | undefined;
  let benchmarkFillMs: number | undefined;
  // The resulting schema's tables, views, columns and functions (plan contracts are checked on it).
  let schema: string[] | undefined;
  const texts = [
    ...(options.baseline ?? []).map((f) => f.sql),
    ...options.files.flatMap((f) => [f.sql, f.down ?? ""]),
  ];
  const bytes = texts.reduce((n, t) => n + new TextEncoder().encode(t).length, 0);
  // Refused before parsing: parsing is work too (one synchronous WASM call per file), so the
  // statements are counted first with the linear splitter.
  const rough = bytes > limits.maxSqlBytes
    ? 0
    : texts.reduce((n, t) => n + (t ? splitStatements(t).length : 0), 0);
  if (bytes > limits.maxSqlBytes || rough > limits.maxStatements) {
    return {
      ok: false,
      findings: [
        finding(
          "resource_limit",
          bytes > limits.maxSqlBytes
            ? `the request holds ${bytes} bytes of SQL; a validation may hold at most ` +
              `${limits.maxSqlBytes}; nothing was run`
            : `the request holds ${rough} statements; a validation may hold at most ` +
              `${limits.maxStatements}; nothing was run`,
          {},
        ),
        ...await typecheck,
      ],
      durationMs: Math.round(performance.now() - started),
    };
  }
  const baseline = await Promise.all((options.baseline ?? []).map((f) => parseSqlFile(f)));
  const files = await Promise.all(options.files.map((f) => parseSqlFile(f)));
  const downs = new Map<string, ParsedFile>();
  for (const f of options.files) {
    if (f.down !== undefined) {
      downs.set(f.name, await parseSqlFile({ name: downFileName(f.name), sql: f.down }));
    }
  }
  for (const f of [...baseline, ...files, ...downs.values()]) {
    if (f.syntaxError) {
      findings.push(finding("syntax_error", f.syntaxError.message, {
        file: f.name,
        line: f.syntaxError.line,
        statement: f.syntaxError.statement,
      }));
    }
  }

  const all = [...baseline, ...files, ...downs.values()];
  const statements = all.reduce((n, f) => n + f.statements.length, 0);
  if (statements > limits.maxStatements) {
    findings.push(finding(
      "resource_limit",
      `the request holds ${statements} statements; a validation may hold at most ` +
        `${limits.maxStatements}; nothing was run`,
      {},
    ));
    findings.push(...await typecheck);
    return { ok: false, findings, durationMs: Math.round(performance.now() - started) };
  }

  const shadow = typeof options.shadow === "object"
    ? options.shadow
    : await sharedShadow(options.shadow ?? "pglite");
  const exposed = new Set(options.exposedSchemas ?? ["public"]);
  lap("parse");
  // The clock starts once the session is there: a cold shadow's start is not the SQL's time.
  const opened = await shadow.open({ extensions: extensionsNeeded(all) });
  const deadline = Date.now() + limits.totalMs;
  const session = boundedSession(opened, deadline, limits.totalMs);
  lap("open");
  try {
    let stop: Stop | undefined;
    for (const f of baseline) {
      const failed = f.syntaxError ? undefined : await applyFile(session, f);
      if (f.syntaxError || failed) {
        if (failed) findings.push(failed);
        stop = { file: f.name };
        break;
      }
    }
    lap("apply baseline");
    const before = stop ? undefined : await baselineCatalog(shadow, session, baseline);
    lap("catalog before");
    // plpgsql_check after the baseline, so only what the files introduce (or break) is reported.
    const plpgsqlBefore = stop ? undefined : await runPlpgsqlCheck(session);
    // Rollback is checked for the trailing run of files that all have a down migration: the
    // schema before the first of them is what undoing them all must give back.
    let firstWithDown = files.length;
    while (firstWithDown > 0 && downs.has(files[firstWithDown - 1].name)) firstWithDown--;
    let beforeRollback = firstWithDown === 0 && before ? snapshotOf(before) : undefined;
    const existing = new Set(
      (before?.tables ?? []).filter((t) => t.kind === "r" || t.kind === "p")
        .map((t) => `${t.schema}.${t.name}`),
    );
    for (const [i, f] of files.entries()) {
      findings.push(...migrationSafetyFindings(f, { existingTables: existing }));
      for (const s of f.statements) {
        const created = asNode(s.node, "CreateStmt");
        if (created) existing.add(relationName(created.relation));
      }
      if (stop) continue;
      if (i === firstWithDown && i > 0) beforeRollback = snapshotOf(await readCatalog(session));
      const failed = f.syntaxError ? undefined : await applyFile(session, f);
      if (f.syntaxError || failed) {
        if (failed) findings.push(failed);
        stop = { file: f.name };
      }
    }

    lap("apply");
    if (stop || !before) {
      findings.push(finding(
        "checks_skipped",
        `applying stopped at ${stop?.file ?? "the baseline"}, so lints, isolation probes, query ` +
          "plans and rollback were not checked; fix the error above first",
        { file: stop?.file ?? null },
      ));
    } else if (session.alive) {
      const index = indexStatements(files);
      const after = await readCatalog(session);
      lap("catalog after");
      if (options.schema) {
        schema = [...snapshotOf(after).keys()].filter((k) =>
          /^(table|view|column|function):/.test(k)
        );
      }
      const old = new Set(
        (await lintCatalog(before, { exposedSchemas: [...exposed] })).map((h) => h.key),
      );
      for (const hit of await lintCatalog(after, { exposedSchemas: [...exposed] })) {
        if (!old.has(hit.key)) findings.push(place(hit, index));
      }
      lap("lints");
      const plpgsqlAfter = await runPlpgsqlCheck(session);
      findings.push(
        ...(plpgsqlAfter.available
          ? plpgsqlCheckFindings(plpgsqlAfter.results, {
            files,
            before: plpgsqlBefore?.available ? plpgsqlBefore.results : [],
          })
          : plpgsqlCheckSkipped(files, plpgsqlAfter.reason)),
      );
      lap("plpgsql_check");
      if (options.probes ?? true) {
        const touched = tablesTouched(diffSnapshots(snapshotOf(before), snapshotOf(after)));
        const candidates = probeCandidates(after, exposed);
        const targets = [...touched].filter((t) => candidates.has(t)).sort();
        findings.push(...await probeIsolation(session, after, targets, (a) => index.locate(a)));
        lap("probes");
      }
      if (options.channels?.length) {
        findings.push(...await probeChannels(session, options.channels, options.channelProbe));
        lap("channels");
      }
      if (options.runFunctions && options.functions?.length) {
        // Only what passed the import check (and has well-formed names) is started; the
        // subprocess is the boundary anyway. The check is the static one, not `deno check`, which
        // runs alongside in its own process: waiting for it would put its whole time (a second or
        // more) in front of every function run.
        const functions = options.functions;
        const refused = functions.some((f) => !FunctionFile.shape.name.safeParse(f.name).success) ||
          (await importEscapes(functions, await typecheckImportMap())).length > 0;
        // Loaded when a function is to run (its contract checker, REST stand-in and seeding).
        const { functionEntries, functionProbeNotRun, runFunctionChecks } = await import(
          "./function_run.ts"
        );
        const entries = functionEntries(options.functions);
        // The functions share what is left of the validation's time (the rollback check keeps its
        // reserve): each boot and call gets its part, so many functions cannot hold a request long.
        const left = deadline - Date.now() - Math.min(5_000, limits.totalMs / 5);
        if (!refused && entries.length > 0 && left < 2_000) {
          findings.push(
            functionProbeNotRun(entries, "too little of the validation's time was left"),
          );
        } else if (!refused) {
          const share = left / Math.max(1, entries.length);
          // The session is idle here (probes and channels are done) and holds the run's schema:
          // the function run seeds an owner and another user on it, serves PostgREST on it as
          // each caller, and deletes what it seeded before the checks below.
          findings.push(
            ...await runFunctionChecks(functions, {
              databaseUrl: session.connectionUrl ? await session.connectionUrl(8) : undefined,
              session,
              catalog: after,
              exposedSchemas: [...exposed],
              endpoints: options.endpoints,
              verifyJwt: options.verifyJwt,
              bootTimeoutMs: Math.round(Math.min(20_000, Math.max(5_000, share * 0.8))),
              requestTimeoutMs: Math.round(Math.min(5_000, Math.max(1_000, share * 0.1))),
            }),
          );
          lap("functions run");
        }
      }
      if (options.queries?.length) {
        const plans = await checkQueryPlans(session, options.queries);
        findings.push(...plans);
        lap("explain");
        const failed = new Set(plans.map((f) => f.statement));
        const usable = options.queries.filter((q) => !failed.has(q.sql));
        if (options.benchmark !== false && usable.length > 0) {
          const asked = typeof options.benchmark === "object" ? options.benchmark : {};
          // Leave time for the rollback check after it.
          const budgetMs = Math.min(
            asked.budgetMs ?? limits.totalMs / 2,
            deadline - Date.now() - Math.min(5_000, limits.totalMs / 5),
          );
          if (budgetMs < 1_000) {
            findings.push(finding(
              "index_benefit_not_measured",
              "the indexes' benefit was not measured: too little of the validation's time was left",
              {},
            ));
          } else {
            const measured = await measureIndexBenefit(session, after, usable, {
              rows: asked.rows,
              budgetMs,
            });
            findings.push(...measured.findings);
            benchmarks = measured.benchmarks;
            benchmarkFillMs = measured.fillMs;
          }
          lap("index benefit");
        }
      }
      if (beforeRollback) {
        findings.push(
          ...await checkRollback(session, files.slice(firstWithDown), downs, beforeRollback),
        );
        lap("rollback");
      }
    }
  } catch (e) {
    if (e instanceof ShadowResourceLimitError) {
      findings.push(finding("resource_limit", e.message, {}));
    } else if (e instanceof ShadowTimeoutError) {
      findings.push(finding(
        "statement_timeout",
        `a check ran past the shadow's timeout (${e.message}); remaining checks were skipped`,
        {},
      ));
    } else if (e instanceof ShadowClosedError) {
      findings.push(finding("apply_error", `the shadow database ended: ${e.message}`, {}));
    } else {
      throw e;
    }
  } finally {
    await session.close();
    lap("close");
  }
  findings.push(...await typecheck);
  lap("typecheck");
  findings.push(...await nPlusOneFindings(options.functions ?? []));
  const order = new Map(
    [...baseline, ...files, ...downs.values()].map((f, i) => [f.name, i] as const),
  );
  findings.sort((a, b) =>
    (order.get(a.file ?? "") ?? 1e9) - (order.get(b.file ?? "") ?? 1e9) ||
    (a.line ?? 0) - (b.line ?? 0)
  );
  return {
    ok: !findings.some((f) => f.level === "error"),
    findings,
    durationMs: Math.round(performance.now() - started),
    ...(benchmarks ? { benchmarks, benchmarkFillMs } : {}),
    ...(schema ? { schema } : {}),
  };
}

/**
 * Runs the down migrations in reverse order and compares the schema with the one before the first
 * of their up migrations: anything left behind, missing or different is a `rollback_mismatch`,
 * attributed to the down of the file that created the object (else the first down run).
 */
async function checkRollback(
  session: ShadowSession,
  files: readonly ParsedFile[],
  downs: ReadonlyMap<string, ParsedFile>,
  expected: SchemaSnapshot,
): Promise<Finding[]> {
  const out: Finding[] = [];
  const reversed = [...files].reverse().map((f) => downs.get(f.name)!);
  if (reversed.some((d) => d.syntaxError)) return out;
  for (const down of reversed) {
    const failed = await applyFile(session, down);
    if (failed) return [failed];
  }
  const actual = snapshotOf(await readCatalog(session));
  const diff = diffSnapshots(expected, actual);
  const createdBy = new Map<string, ParsedFile>();
  for (const f of files) {
    for (const s of f.statements) {
      for (const anchor of statementAnchors(s)) createdBy.set(anchor, downs.get(f.name)!);
    }
  }
  const downFor = (key: string) => createdBy.get(anchorOf(key)) ?? reversed[0];
  const problems = [
    ...diff.added.map((k) => [k, `${describeKey(k)} is left behind`] as const),
    ...diff.removed.map((k) => [k, `${describeKey(k)} is missing`] as const),
    ...diff.changed.map((k) =>
      [k, `${describeKey(k)} differs (${describeChange(expected.get(k), actual.get(k))})`] as const
    ),
  ];
  for (const [key, problem] of problems.slice(0, MAX_ROLLBACK_DETAILS)) {
    const down = downFor(key);
    out.push(finding(
      "rollback_mismatch",
      `after the down migrations ran, ${problem}`,
      { file: down.name, line: down.statements[0]?.line ?? null, object: key },
    ));
  }
  if (problems.length > MAX_ROLLBACK_DETAILS) {
    out.push(finding(
      "rollback_mismatch",
      `after the down migrations ran, ${problems.length - MAX_ROLLBACK_DETAILS} more differences`,
      { file: reversed[0].name, line: null },
    ));
  }
  return out;
}

// The attribution anchor of a snapshot key (functions are keyed with their arguments).
function anchorOf(key: string): string {
  const fn = /^function:([^(]+)\(/.exec(key);
  if (fn) return `function:${fn[1]}`;
  return key;
}
