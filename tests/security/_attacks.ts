/**
 * Shared pieces of the shadow attack suite: statements that reach for the server (programs, files,
 * other servers, server settings, databases, roles), the ways untrusted SQL hides them from a
 * statement filter (a DO block, `EXECUTE`, a function a trigger calls), host files that must never
 * appear, and helpers to read what a validation reported.
 *
 * @example
 * ```ts
 * const target = hostTarget("copy");
 * const sql = wrap("execute", SERVER_ATTACKS[0], target.path, "t1");
 * await assert.rejects(() => session.exec(sql));
 * await target.assertAbsent();
 * ```
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { connect, type Sql } from "../../shared/db/mod.ts";
import { type ShadowSession, ShadowSqlError } from "../../shared/shadow/mod.ts";
import type { ValidationReport } from "../../shared/validation/mod.ts";

/** One statement that acts on the server rather than on a schema. */
export interface ServerAttack {
  name: string;
  /** The statements at top level; `target` is a host path the attack would write. */
  sql: (target: string) => string[];
  /** The same as PL/pgSQL statements, for a DO block or a function body. */
  plpgsql: (target: string) => string[];
  /**
   * SQLSTATEs that count as refused. `42501` (insufficient privilege) everywhere; `0A000` where a
   * backend does not have the extension at all; `25001` where PostgreSQL refuses the statement
   * inside a function before looking at privileges (the top-level case proves the privilege).
   */
  refused: readonly string[];
}

const PRIVILEGE = ["42501"] as const;
const EXTENSION = ["42501", "0A000"] as const;
const NOT_IN_FUNCTION = ["42501", "25001"] as const;

/** Unique names of objects an attack would create, so leftovers can be looked for. */
export const EVIL = `bt_sec_evil_${crypto.randomUUID().replaceAll("-", "").slice(0, 10)}`;

/** Every server-reaching statement the suite tries, on every backend and in every disguise. */
export const SERVER_ATTACKS: readonly ServerAttack[] = [
  {
    name: "COPY … TO PROGRAM",
    sql: (t) => [`copy (select 1) to program 'touch ${t}'`],
    plpgsql: (t) => [`copy (select 1) to program 'touch ${t}'`],
    refused: PRIVILEGE,
  },
  {
    name: "COPY … FROM PROGRAM",
    sql: (t) => [
      `create temp table if not exists bt_loot (line text)`,
      `copy bt_loot from program 'touch ${t} && id'`,
    ],
    plpgsql: (t) => [
      `create temp table if not exists bt_loot (line text)`,
      `copy bt_loot from program 'touch ${t} && id'`,
    ],
    refused: PRIVILEGE,
  },
  {
    name: "COPY … TO a server file",
    sql: (t) => [`copy (select 'pwned') to '${t}'`],
    plpgsql: (t) => [`copy (select 'pwned') to '${t}'`],
    refused: PRIVILEGE,
  },
  {
    name: "lo_import('/etc/passwd')",
    sql: () => [`select lo_import('/etc/passwd')`],
    plpgsql: () => [`perform lo_import('/etc/passwd')`],
    refused: PRIVILEGE,
  },
  {
    name: "lo_export to a server file",
    sql: (t) => [`select lo_export(lo_from_bytea(0, 'pwned'), '${t}')`],
    plpgsql: (t) => [`perform lo_export(lo_from_bytea(0, 'pwned'), '${t}')`],
    refused: PRIVILEGE,
  },
  {
    name: "pg_read_file('/etc/passwd')",
    sql: () => [`select pg_read_file('/etc/passwd')`],
    plpgsql: () => [`perform pg_read_file('/etc/passwd')`],
    refused: PRIVILEGE,
  },
  {
    name: "pg_ls_dir('/')",
    sql: () => [`select pg_ls_dir('/')`],
    plpgsql: () => [`perform pg_ls_dir('/')`],
    refused: PRIVILEGE,
  },
  {
    name: "CREATE EXTENSION dblink",
    sql: () => [`create extension dblink`],
    plpgsql: () => [`create extension dblink`],
    refused: EXTENSION,
  },
  {
    name: "CREATE EXTENSION postgres_fdw",
    sql: () => [`create extension postgres_fdw`],
    plpgsql: () => [`create extension postgres_fdw`],
    refused: EXTENSION,
  },
  {
    name: "CREATE EXTENSION file_fdw",
    sql: () => [`create extension file_fdw`],
    plpgsql: () => [`create extension file_fdw`],
    refused: EXTENSION,
  },
  {
    name: "ALTER SYSTEM",
    sql: () => [`alter system set log_min_messages = 'panic'`],
    plpgsql: () => [`alter system set log_min_messages = 'panic'`],
    refused: NOT_IN_FUNCTION,
  },
  {
    name: "CREATE DATABASE",
    sql: () => [`create database ${EVIL}`],
    plpgsql: () => [`create database ${EVIL}`],
    refused: NOT_IN_FUNCTION,
  },
  {
    name: "CREATE ROLE",
    sql: () => [`create role ${EVIL} login superuser password 'pwned'`],
    plpgsql: () => [`create role ${EVIL} login superuser password 'pwned'`],
    refused: PRIVILEGE,
  },
];

/** How untrusted SQL can carry a statement past a filter that reads only top-level statements. */
export type Disguise = "top level" | "DO block" | "EXECUTE" | "trigger function";

/** Every disguise, top level first. */
export const DISGUISES: readonly Disguise[] = [
  "top level",
  "DO block",
  "EXECUTE",
  "trigger function",
];

/** `text` as an SQL string literal. */
export function literal(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}

/**
 * The attack in a disguise, as one SQL text (one migration file). `tag` keeps object names of
 * the trigger form unique within a session.
 */
export function wrap(
  disguise: Disguise,
  attack: ServerAttack,
  target: string,
  tag: string,
): string {
  switch (disguise) {
    case "top level":
      return attack.sql(target).join(";\n");
    case "DO block":
      return `do $$ begin ${attack.plpgsql(target).join("; ")}; end $$`;
    case "EXECUTE":
      return `do $$ begin ${
        attack.sql(target).map((s) => `execute ${literal(s)}`).join("; ")
      }; end $$`;
    case "trigger function":
      return [
        `create table public.bt_trg_${tag} (id int primary key)`,
        `create function public.bt_trg_${tag}_fn() returns trigger language plpgsql ` +
        `as $f$ begin ${attack.plpgsql(target).join("; ")}; return new; end $f$`,
        `create trigger bt_trg_${tag} before insert on public.bt_trg_${tag} ` +
        `for each row execute function public.bt_trg_${tag}_fn()`,
        `insert into public.bt_trg_${tag} values (1)`,
      ].join(";\n");
  }
}

/** A host path an attack would create: checked absent, and removed whatever happens. */
export interface HostTarget {
  path: string;
  exists(): Promise<boolean>;
  /** Fails the test when the file exists (a program ran, or a file was written). */
  assertAbsent(what?: string): Promise<void>;
  remove(): Promise<void>;
}

/**
 * A fresh path directly in `/tmp` (world-writable, so the database server's OS user could
 * create it if anything it ran were allowed to).
 */
export function hostTarget(label: string): HostTarget {
  const path = `/tmp/bt_sec_${label.replace(/[^a-z0-9]+/gi, "_")}_${
    crypto.randomUUID().slice(0, 8)
  }`;
  const exists = async () => {
    try {
      await Deno.lstat(path);
      return true;
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return false;
      throw e;
    }
  };
  const remove = () => Deno.remove(path).catch(() => {});
  return {
    path,
    exists,
    remove,
    async assertAbsent(what = label) {
      const found = await exists();
      await remove();
      assert.equal(found, false, `${what}: ${path} appeared on the host — the statement ran`);
    },
  };
}

/** The SQLSTATE a refused statement raised in the shadow, or a failure naming what ran. */
export async function refusalCode(session: ShadowSession, sql: string): Promise<string> {
  try {
    await session.exec(sql);
  } catch (e) {
    if (e instanceof ShadowSqlError) return e.code ?? "none";
    throw e;
  }
  return "ran";
}

/** The SQLSTATE quoted in an `apply_error` finding, or undefined. */
export function sqlstateOf(message: string): string | undefined {
  return /\(SQLSTATE ([0-9A-Z]{5})\)/.exec(message)?.[1];
}

/** Rules of a report, sorted. */
export function rulesOf(report: ValidationReport): string[] {
  return report.findings.map((f) => f.rule).sort();
}

/** A report without its duration: what two runs of the same SQL must agree on. */
export function verdict(report: ValidationReport): Omit<ValidationReport, "durationMs"> {
  return { ok: report.ok, findings: report.findings };
}

/** The owner-only to-do list from the validator corpus: RLS on, one policy per operation. */
export const VICTIM_FIXTURE = fileURLToPath(
  new URL("../fixtures/validate/corpus/clean_owner_crud.sql", import.meta.url),
);

/**
 * The victim's migration with every table, index and policy name carrying `marker`, so any
 * statement of the victim's validation (apply, catalog, probes) shows it if read.
 */
export async function victimMigration(marker: string): Promise<string> {
  const sql = await Deno.readTextFile(VICTIM_FIXTURE);
  return sql.replaceAll("todos", `todos_${marker}`);
}

/** A fresh lowercase marker no other text contains. */
export function newMarker(prefix = "m"): string {
  return `${prefix}${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`;
}

/** Runs `fn` with a superuser pool on `url`, closed afterwards. */
export async function withAdmin<T>(url: string, fn: (sql: Sql) => Promise<T>): Promise<T> {
  const sql = connect(url, { max: 2, applicationName: "backend-team attack suite" });
  try {
    return await fn(sql);
  } finally {
    await sql.end({ timeout: 2 });
  }
}

/** `url` with another user, password and database. */
export function credentialsUrl(
  url: string,
  user: string,
  password: string,
  database: string,
): string {
  const u = new URL(url);
  u.username = user;
  u.password = password;
  u.pathname = `/${database}`;
  return u.toString();
}

/**
 * Tries to log in and run `select current_user`: the SQLSTATE of the refusal, or `connected`.
 * Postgres' own refusals carry a SQLSTATE (`28P01` bad password or unknown role, `28000` role
 * may not log in, `42501` no CONNECT privilege, `3D000` no such database).
 */
export async function tryLogin(url: string): Promise<string> {
  const sql = connect(url, { max: 1, applicationName: "attack suite login" });
  try {
    await sql`select current_user`;
    return "connected";
  } catch (e) {
    const code = (e as { code?: unknown }).code;
    return typeof code === "string" ? code : `error: ${(e as Error).message}`;
  } finally {
    await sql.end({ timeout: 1 }).catch(() => {});
  }
}

/** Polls `check` until it holds or `ms` pass; whether it held. */
export async function eventually(check: () => Promise<boolean>, ms = 10_000): Promise<boolean> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return await check();
}

/** Whether the shadow server named by `url` runs on this machine (so its files are ours to see). */
export function isLocalServer(url: string): boolean {
  const host = new URL(url).hostname;
  return host === "127.0.0.1" || host === "localhost" || host === "[::1]" || host === "";
}
