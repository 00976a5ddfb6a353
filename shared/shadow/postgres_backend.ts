/**
 * The PostgreSQL shadow, on a server named by `SHADOW_DATABASE_URL` (an admin URL; never the
 * product's database). A template database is bootstrapped once per content of the platform SQL;
 * each session gets `create database … template …` owned by `bt_shadow_owner` and is dropped
 * afterwards. Untrusted SQL runs logged in as that role — not a superuser, no CREATEDB/CREATEROLE,
 * so `COPY … PROGRAM`, `ALTER SYSTEM` or other databases are out of its reach and it cannot
 * `reset role` into anything stronger — with `statement_timeout`, `lock_timeout` and an idle
 * timeout given as connection parameters. Since the SQL could change those settings itself, a
 * watchdog on the admin connection also terminates a backend that outlives its timeout.
 *
 * @example
 * ```ts
 * await using shadow = await createPostgresShadow({ adminUrl: Deno.env.get("SHADOW_DATABASE_URL")! });
 * await using session = await shadow.open();
 * await session.exec("create table public.notes (id bigint primary key)");
 * ```
 */
import type postgres from "postgres";
import { connect, type Sql } from "../db/mod.ts";
import { plainRows, sqlErrorFacts } from "./_values.ts";
import {
  type Identity,
  type Row,
  type RunOptions,
  ShadowClosedError,
  type ShadowDatabase,
  type ShadowSession,
  ShadowSqlError,
  ShadowTimeoutError,
  type StatementResult,
} from "./port.ts";
import { scriptsHash, SHADOW_OWNER, shadowBootstrapScripts } from "./platform.ts";
import { enterIdentity, KEEP_AND_LEAVE, UNDO_AND_LEAVE } from "./_identity.ts";
import { DEFAULT_STATEMENT_TIMEOUT_MS } from "./pglite_backend.ts";

/** Options of {@link createPostgresShadow}. */
export interface PostgresShadowOptions {
  /** URL of a role that may create roles and databases (a superuser, as on a local cluster). */
  adminUrl: string;
  /** Longest one statement may run, in ms (default 5000). */
  statementTimeoutMs?: number;
  /** Longest a statement may wait for a lock, in ms (default 2000). */
  lockTimeoutMs?: number;
  /** Keep the next sessions' databases created and logged in, in advance (default true). */
  spare?: boolean;
  /** How many such sessions to keep ready (default 2). */
  spares?: number;
}

type ReservedSql = postgres.ReservedSql;

const DB_PREFIX = "bt_shadow_";
const ORPHAN_AFTER_SECONDS = 60;

/** The password of the owner role: derived from the admin URL, so every process agrees on it. */
async function ownerPassword(adminUrl: string): Promise<string> {
  const data = new TextEncoder().encode(`${SHADOW_OWNER}\0${adminUrl}`);
  const digest = await crypto.subtle.digest("SHA-256", data);
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

function databaseUrl(adminUrl: string, database: string, user: string, password: string): string {
  const u = new URL(adminUrl);
  u.pathname = `/${database}`;
  u.username = user;
  u.password = password;
  return u.toString();
}

/** Creates the PostgreSQL shadow: owner role, template, and (by default) a spare database. */
export async function createPostgresShadow(
  options: PostgresShadowOptions,
): Promise<ShadowDatabase> {
  const admin = connect(options.adminUrl, { max: 3, applicationName: "backend-team shadow" });
  try {
    const password = await ownerPassword(options.adminUrl);
    await ensureOwnerRole(admin, password);
    const template = await ensureTemplate(admin, options.adminUrl);
    await dropOrphanDatabases(admin);
    return new PostgresShadow(admin, options, template, password);
  } catch (e) {
    await admin.end();
    throw e;
  }
}

async function ensureOwnerRole(admin: Sql, password: string): Promise<void> {
  await admin.begin(async (tx) => {
    await tx`select pg_advisory_xact_lock(hashtext('backend-team shadow owner'))`;
    await tx.unsafe(`
      do $$
      begin
        if not exists (select from pg_roles where rolname = '${SHADOW_OWNER}') then
          create role ${SHADOW_OWNER} login;
        end if;
      end
      $$`);
    // Re-asserted on every start, in case SQL in an earlier shadow changed its own settings.
    await tx.unsafe(
      `alter role ${SHADOW_OWNER} with login nosuperuser nocreatedb nocreaterole noreplication ` +
        `nobypassrls inherit connection limit 200 password '${password}'`,
    );
    await tx.unsafe(`alter role ${SHADOW_OWNER} reset all`);
    await tx.unsafe(`alter role ${SHADOW_OWNER} set temp_file_limit = '256MB'`);
  });
}

async function ensureTemplate(admin: Sql, adminUrl: string): Promise<string> {
  const scripts = await shadowBootstrapScripts();
  const name = `bt_shadow_tpl_${await scriptsHash(scripts)}`;
  const [found] = await admin`select 1 from pg_database where datname = ${name}`;
  if (found) return name;
  const lock = await admin.reserve();
  try {
    await lock`select pg_advisory_lock(hashtext('backend-team shadow template'))`;
    const [again] = await lock`select 1 from pg_database where datname = ${name}`;
    if (!again) {
      const building = `${name}_${Deno.pid}`;
      await lock.unsafe(`drop database if exists ${building}`);
      await lock.unsafe(`create database ${building}`);
      const u = new URL(adminUrl);
      u.pathname = `/${building}`;
      const db = connect(u.toString(), { max: 1, applicationName: "backend-team shadow" });
      try {
        for (const script of scripts) {
          try {
            await db.begin((tx) => tx.unsafe(script.sql));
          } catch (e) {
            throw new Error(`shadow template: ${script.name} failed: ${(e as Error).message}`, {
              cause: e,
            });
          }
        }
      } finally {
        await db.end();
      }
      await lock.unsafe(`revoke connect on database ${building} from public`);
      await lock.unsafe(`alter database ${building} rename to ${name}`);
      await lock.unsafe(`alter database ${name} is_template true`);
    }
    await lock`select pg_advisory_unlock(hashtext('backend-team shadow template'))`;
  } finally {
    lock.release();
  }
  return name;
}

/**
 * Drops shadow databases left by processes that ended without closing their shadow (a function
 * stopped by its gateway, a crash): every live session — spares included — holds a connection,
 * so a shadow database older than a minute with no connection is an orphan. The name carries
 * its creation time.
 */
async function dropOrphanDatabases(admin: Sql): Promise<void> {
  const rows = await admin<{ datname: string }[]>`
    select d.datname from pg_database d
    where d.datname ~ ${`^${DB_PREFIX}[0-9]+_[0-9a-f]+$`}
      and not exists (select 1 from pg_stat_activity a where a.datname = d.datname)`;
  const now = Math.floor(Date.now() / 1000);
  for (const { datname } of rows) {
    const created = Number(datname.slice(DB_PREFIX.length).split("_")[0]);
    if (now - created > ORPHAN_AFTER_SECONDS) {
      await admin.unsafe(`drop database if exists ${datname} with (force)`).catch(() => {});
    }
  }
}

class PostgresShadow implements ShadowDatabase {
  readonly backend = "postgres" as const;
  readonly notes: readonly string[] = [];
  readonly #admin: Sql;
  readonly #options: PostgresShadowOptions;
  readonly #template: string;
  readonly #password: string;
  readonly #drops = new Set<Promise<void>>();
  // The next sessions, databases created and connections logged in while the current one works.
  readonly #spares: Promise<PostgresSession>[] = [];
  #lastSweep = Date.now();
  #closed = false;

  constructor(admin: Sql, options: PostgresShadowOptions, template: string, password: string) {
    this.#admin = admin;
    this.#options = options;
    this.#template = template;
    this.#password = password;
    this.#prepareSpare();
  }

  #prepareSpare(): void {
    if (!(this.#options.spare ?? true) || this.#closed) return;
    while (this.#spares.length < (this.#options.spares ?? 2)) {
      const spare = this.#prepare();
      spare.catch(() => {});
      this.#spares.push(spare);
    }
  }

  #drop(name: string): void {
    const drop = this.#admin.unsafe(`drop database if exists ${name} with (force)`)
      .then(() => {}, () => {})
      .finally(() => this.#drops.delete(drop));
    this.#drops.add(drop);
  }

  /** A fresh database from the template and a started session on it as the owner role. */
  async #prepare(): Promise<PostgresSession> {
    const rand = crypto.randomUUID().replaceAll("-", "").slice(0, 12);
    const name = `${DB_PREFIX}${Math.floor(Date.now() / 1000)}_${rand}`;
    await this.#admin.unsafe(
      `create database ${name} template ${this.#template} owner ${SHADOW_OWNER}`,
    );
    const timeoutMs = this.#options.statementTimeoutMs ?? DEFAULT_STATEMENT_TIMEOUT_MS;
    const pool = connect(
      databaseUrl(this.#options.adminUrl, name, SHADOW_OWNER, this.#password),
      { max: 1, idleTimeout: 0, applicationName: "backend-team shadow" },
    );
    let conn: ReservedSql;
    try {
      conn = await pool.reserve();
    } catch (e) {
      await pool.end({ timeout: 1 }).catch(() => {});
      this.#drop(name);
      throw e;
    }
    const session = new PostgresSession(conn, this.#admin, timeoutMs, async () => {
      conn.release();
      await pool.end({ timeout: 2 }).catch(() => {});
      this.#drop(name);
    });
    try {
      await session.start(timeoutMs, this.#options.lockTimeoutMs ?? 2000);
    } catch (e) {
      await session.close();
      throw e;
    }
    return session;
  }

  async open(): Promise<ShadowSession> {
    if (this.#closed) throw new ShadowClosedError("the shadow is closed");
    if (Date.now() - this.#lastSweep > ORPHAN_AFTER_SECONDS * 1000) {
      this.#lastSweep = Date.now();
      dropOrphanDatabases(this.#admin).catch(() => {});
    }
    const spare = this.#spares.shift();
    this.#prepareSpare();
    const session = spare ? await spare.catch(() => undefined) : undefined;
    return session ?? await this.#prepare();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const spares = this.#spares.splice(0);
    await Promise.all(spares.map(async (spare) => (await spare.catch(() => undefined))?.close()));
    while (this.#drops.size > 0) await Promise.all([...this.#drops]);
    await this.#admin.end({ timeout: 5 });
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

class PostgresSession implements ShadowSession {
  readonly backend = "postgres" as const;
  readonly #sql: ReservedSql;
  readonly #admin: Sql;
  readonly #timeoutMs: number;
  readonly #dispose: () => Promise<void>;
  #pid = 0;
  #open = true;

  constructor(sql: ReservedSql, admin: Sql, timeoutMs: number, dispose: () => Promise<void>) {
    this.#sql = sql;
    this.#admin = admin;
    this.#timeoutMs = timeoutMs;
    this.#dispose = dispose;
  }

  async start(statementTimeoutMs: number, lockTimeoutMs: number): Promise<void> {
    const [row] = await this.#sql.unsafe(
      `select pg_backend_pid() as pid,
              set_config('statement_timeout', '${statementTimeoutMs}', false),
              set_config('lock_timeout', '${lockTimeoutMs}', false),
              set_config('idle_in_transaction_session_timeout', '60000', false),
              set_config('search_path', '"$user", public, extensions', false)`,
    );
    this.#pid = Number(row.pid);
  }

  get alive(): boolean {
    return this.#open;
  }

  async #guard<T>(timeoutMs: number | undefined, run: () => Promise<T>): Promise<T> {
    if (!this.#open) throw new ShadowClosedError();
    const limit = timeoutMs ?? this.#timeoutMs;
    let killed = false;
    const timer = setTimeout(() => {
      killed = true;
      this.#admin`select pg_terminate_backend(${this.#pid})`.catch(() => {});
    }, limit + 1000);
    try {
      return await run();
    } catch (e) {
      const facts = sqlErrorFacts(e);
      if (killed || facts.code === "57P01") {
        await this.close();
        throw new ShadowTimeoutError(limit);
      }
      if (facts.code === "57014") throw new ShadowTimeoutError(limit);
      if (facts.code === undefined && !(e instanceof ShadowSqlError)) {
        // Not a Postgres error: the connection is gone.
        await this.close();
        throw new ShadowClosedError(facts.message);
      }
      throw e instanceof ShadowSqlError ? e : new ShadowSqlError(facts);
    } finally {
      clearTimeout(timer);
    }
  }

  // Runs `fn` with the server's statement_timeout at `limit` (when given), then back.
  async #withTimeout<T>(limit: number | undefined, fn: () => Promise<T>): Promise<T> {
    if (limit === undefined || limit === this.#timeoutMs) return await fn();
    await this.#sql.unsafe(`set statement_timeout = ${Math.round(limit)}`);
    try {
      return await fn();
    } finally {
      await this.#sql.unsafe(`set statement_timeout = ${this.#timeoutMs}`).catch(() => {});
    }
  }

  exec(sql: string, options?: RunOptions): Promise<StatementResult> {
    return this.#guard(options?.timeoutMs, () =>
      this.#withTimeout(options?.timeoutMs, async () => {
        const result = await this.#sql.unsafe(sql).simple() as unknown as
          & Record<string, unknown>[]
          & { count: number };
        // Several statements give one result per statement.
        const last = Array.isArray(result[0])
          ? (result.at(-1) as unknown as typeof result)
          : result;
        const rows = plainRows([...(last ?? [])]);
        return { rows, rowCount: last?.count ?? rows.length };
      }));
  }

  query<T extends Row = Row>(
    sql: string,
    params: unknown[] = [],
    options?: RunOptions,
  ): Promise<T[]> {
    return this.#guard(options?.timeoutMs, () =>
      this.#withTimeout(options?.timeoutMs, async () => {
        const rows = await this.#sql.unsafe(sql, params as never[]);
        return plainRows([...rows]) as T[];
      }));
  }

  queryAs(
    identity: Identity,
    sql: string,
    params: unknown[] = [],
    options?: RunOptions & { keep?: boolean },
  ): Promise<StatementResult> {
    return this.#guard(options?.timeoutMs, async () => {
      await this.#sql.unsafe(enterIdentity(identity)).simple();
      try {
        const result = await this.#sql.unsafe(sql, params as never[]);
        const rows = plainRows([...result]);
        await this.#sql.unsafe(options?.keep ? KEEP_AND_LEAVE : UNDO_AND_LEAVE).simple();
        return { rows, rowCount: result.count ?? rows.length };
      } catch (e) {
        await this.#sql.unsafe(UNDO_AND_LEAVE).simple().catch(() => {});
        throw e;
      }
    });
  }

  async close(): Promise<void> {
    if (!this.#open) return;
    this.#open = false;
    await this.#dispose();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
