/**
 * Runs generated pgTAP files on a shadow session, as the unprivileged role every shadow session
 * runs as. All files share one transaction that is rolled back at the end, with pgTAP installed
 * at its start: `create extension pgtap` where the server has the extension (a non-superuser may
 * create it: its control file says `superuser = false`), else pgTAP's own install script from the
 * `@electric-sql/pglite-pgtap` bundle (PGlite's shadows load only the extensions shared/shadow
 * knows). Either way nothing of pgTAP outlives the transaction, so the schema the rollback check
 * compares never holds it. Each file runs in a savepoint, statement by statement (split by the
 * Postgres parser), with its own `begin`, `rollback` and `create extension` left to this harness;
 * the TAP lines of each statement's rows are collected and read.
 *
 * @example
 * ```ts
 * const evidence = await runPgtapFiles(session, generatePgtapTests(model, fixtures));
 * evidence.every((t) => t.ok);
 * ```
 */
import { pgtap } from "@electric-sql/pglite-pgtap";
import { asNode } from "../pg_ast/mod.ts";
import {
  SHADOW_OWNER,
  ShadowClosedError,
  type ShadowSession,
  ShadowSqlError,
  ShadowTimeoutError,
} from "../shadow/mod.ts";
import { parseSqlFile } from "../validation/mod.ts";
import type { GeneratedTest } from "./pgtap.ts";
import { parseTap } from "./tap.ts";

/** What one file's run showed (the shape of `IntegrationReport.tests`). */
export interface TestRun {
  path: string;
  ok: boolean;
  planned: number;
  passed: number;
  failed: number;
  failures: string[];
  error: string | null;
}

// SQLSTATEs of an extension the server does not have: feature_not_supported (PGlite without its
// bundle), undefined_file (no control file).
const NOT_AVAILABLE = new Set(["0A000", "58P01"]);
// pgTAP's install script creates about a thousand functions: more than one statement's time.
const INSTALL_TIMEOUT_MS = 20_000;

let bundledScript: Promise<string> | undefined;

/** pgTAP's install script for schema `extensions`, from the `@electric-sql/pglite-pgtap` bundle. */
export function pgtapInstallScript(): Promise<string> {
  bundledScript ??= readBundledScript().catch((e) => {
    bundledScript = undefined;
    throw e;
  });
  return bundledScript;
}

async function readBundledScript(): Promise<string> {
  // The extension's own setup names its bundle (a file in the npm package).
  const { bundlePath } = await pgtap.setup({} as never, {});
  const gzipped = await Deno.readFile(bundlePath);
  const tar = new Uint8Array(
    await new Response(
      new Blob([gzipped]).stream().pipeThrough(new DecompressionStream("gzip")),
    ).arrayBuffer(),
  );
  const files = tarFiles(tar, /^share\/postgresql\/extension\/pgtap(\.control|--[\d.]+\.sql)$/);
  const control = files.get("share/postgresql/extension/pgtap.control") ?? "";
  const version = /default_version\s*=\s*'([^']+)'/.exec(control)?.[1];
  const script = version ? files.get(`share/postgresql/extension/pgtap--${version}.sql`) : null;
  if (!script) throw new Error("the pgTAP bundle holds no install script");
  // psql meta-commands (`\echo … \quit`) are for psql; `@extschema@` is where it goes.
  return script.split("\n").filter((line) => !line.startsWith("\\")).join("\n")
    .replaceAll("@extschema@", "extensions");
}

/** The text of the files in a (ustar) tar whose names match `wanted`. */
function tarFiles(tar: Uint8Array, wanted: RegExp): Map<string, string> {
  const out = new Map<string, string>();
  const text = (from: number, length: number) =>
    new TextDecoder().decode(tar.subarray(from, from + length)).replace(/\0.*$/s, "");
  for (let at = 0; at + 512 <= tar.length;) {
    const name = text(at, 100);
    if (name === "") break;
    const prefix = text(at + 345, 155);
    const size = parseInt(text(at + 124, 12).trim() || "0", 8);
    const path = prefix ? `${prefix}/${name}` : name;
    if (wanted.test(path)) {
      out.set(path, new TextDecoder().decode(tar.subarray(at + 512, at + 512 + size)));
    }
    at += 512 + Math.ceil(size / 512) * 512;
  }
  return out;
}

/** Makes pgTAP's functions available in the current transaction (see the module doc). */
async function installPgtap(session: ShadowSession): Promise<void> {
  await session.exec("savepoint bt_pgtap");
  try {
    await session.exec("create extension if not exists pgtap with schema extensions", {
      timeoutMs: INSTALL_TIMEOUT_MS,
    });
    await session.exec("release savepoint bt_pgtap");
    return;
  } catch (e) {
    if (!(e instanceof ShadowSqlError) || !NOT_AVAILABLE.has(e.code ?? "")) throw e;
    await session.exec("rollback to savepoint bt_pgtap");
  }
  await session.exec(`set local search_path = extensions;\n${await pgtapInstallScript()}`, {
    timeoutMs: INSTALL_TIMEOUT_MS,
  });
}

/** Runs every file; the session must not be inside a transaction, and is left outside one. */
export async function runPgtapFiles(
  session: ShadowSession,
  tests: readonly GeneratedTest[],
): Promise<TestRun[]> {
  if (tests.length === 0) return [];
  const out: TestRun[] = [];
  await session.exec("begin");
  try {
    await installPgtap(session);
    for (const test of tests) out.push(await runFile(session, test));
  } finally {
    if (session.alive) await session.exec("rollback").catch(() => {});
  }
  return out;
}

async function runFile(session: ShadowSession, test: GeneratedTest): Promise<TestRun> {
  const stopped = (error: string): TestRun => ({
    path: test.path,
    ok: false,
    planned: test.planned,
    passed: 0,
    failed: test.planned,
    failures: [],
    error,
  });
  const parsed = await parseSqlFile({ name: test.path, sql: test.content });
  if (parsed.syntaxError) return stopped(`line ${parsed.syntaxError.line}: syntax error`);
  const values: string[] = [];
  await session.exec("savepoint bt_test_file");
  try {
    for (const s of parsed.statements) {
      if (asNode(s.node, "TransactionStmt") || asNode(s.node, "CreateExtensionStmt")) continue;
      const { rows } = await session.exec(s.text);
      for (const row of rows) {
        for (const v of Object.values(row)) if (typeof v === "string") values.push(v);
      }
    }
  } catch (e) {
    if (e instanceof ShadowSqlError || e instanceof ShadowTimeoutError) return stopped(e.message);
    throw e;
  } finally {
    if (session.alive) await session.exec("rollback to savepoint bt_test_file");
  }
  await roleKept(session);
  const tap = parseTap(values);
  return {
    path: test.path,
    ok: tap.ok,
    planned: tap.planned || test.planned,
    passed: tap.passed,
    failed: tap.failed,
    failures: tap.failures,
    error: null,
  };
}

/**
 * Throws when the session no longer runs as the shadow's role (a test file switches roles and
 * the savepoint restores them; code of the delivered schema switching for good would make every
 * later verdict untrustworthy).
 */
async function roleKept(session: ShadowSession): Promise<void> {
  const [row] = await session.query<{ who: string }>("select current_user as who");
  if (row?.who !== SHADOW_OWNER) {
    throw new ShadowClosedError(
      `the tests left the session running as ${row?.who ?? "nobody"}, not as the shadow's role`,
    );
  }
}
