/**
 * The PostgreSQL shadow, on a server of its own named by `SHADOW_DATABASE_URL` (an admin URL; never
 * the product's server — checked by `system_identifier` at start). A template database is
 * bootstrapped once per content of the platform SQL; each session gets its own database cloned
 * from it and its own login role (random name and password), made by an admin connection that
 * never runs untrusted SQL, and both are dropped together afterwards.
 *
 * The login role is a member of `bt_shadow_owner` (NOLOGIN; it owns the platform objects the SQL
 * may change and plays the part Supabase's `postgres` role plays for migrations) and nothing
 * else: not a superuser, no CREATEDB/CREATEROLE, CONNECT on its own database only. The session runs
 * as `bt_shadow_owner` (`set role`), but PostgreSQL judges `pg_stat_activity` and
 * `pg_terminate_backend` by the login role, so one validation cannot see or signal another's
 * backends. Limits: `statement_timeout`/`lock_timeout` per statement; a watchdog on the admin
 * connection that terminates a backend outliving its statement or session limit (the SQL could
 * change its own settings) and one that watches each database's size and ends a validation over
 * its disk cap with {@link ShadowResourceLimitError}; `temp_file_limit` on the role, which only a
 * superuser can change.
 *
 * @example
 * ```ts
 * await using shadow = await createPostgresShadow({ adminUrl: Deno.env.get("SHADOW_DATABASE_URL")! });
 * await using session = await shadow.open();
 * await session.exec("create table public.notes (id bigint primary key)");
 * ```
 */
import type postgres from "postgres";
import { AppError } from "../errors/mod.ts";
import { positiveNumber } from "../config/mod.ts";
import { connect, type Sql } from "../db/mod.ts";
import { plainRows, sqlErrorFacts } from "./_values.ts";
import {
  type Identity,
  type Row,
  type RunOptions,
  ShadowClosedError,
  type ShadowDatabase,
  ShadowResourceLimitError,
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
  /**
   * URL of the product's database (default `SUPABASE_DB_URL`): the shadow refuses to start when
   * `adminUrl` reaches the same server.
   */
  productUrl?: string;
  /** Longest one statement may run, in ms (default 5000). */
  statementTimeoutMs?: number;
  /** Longest a statement may wait for a lock, in ms (default 2000). */
  lockTimeoutMs?: number;
  /** Longest a session may live, in ms (default `BT_SHADOW_SESSION_MAX_MS` or 120000). */
  sessionMaxMs?: number;
  /** Most bytes one shadow database may hold (default `BT_SHADOW_MAX_DATABASE_MB` MiB or 128). */
  maxDatabaseBytes?: number;
  /** Keep the next sessions' databases created and logged in, in advance (default true). */
  spare?: boolean;
  /** How many such sessions to keep ready (default 2). */
  spares?: number;
}

type ReservedSql = postgres.ReservedSql;

const DB_PREFIX = "bt_shadow_";
const ROLE_PREFIX = "bt_sv_";
const ORPHAN_AFTER_SECONDS = 60;
const DISK_WATCH_MS = 200;
// Texts run with `prepare` (the validator's fixed few) that the sessions kept ready run ahead.
// They stay unnamed: a named prepared statement lives in the session the migrations also run in,
// where `DEALLOCATE` / `PREPARE` in a migration could replace it and fake the next catalog read.
const MAX_WARM_TEXTS = 8;

function randomHex(bytes: number): string {
  return [...crypto.getRandomValues(new Uint8Array(bytes))]
    .map((b) => b.toString(16).padStart(2, "0")).join("");
}

function databaseUrl(adminUrl: string, database: string, user: string, password: string): string {
  const u = new URL(adminUrl);
  u.pathname = `/${database}`;
  u.username = user;
  u.password = password;
  return u.toString();
}

/** Replaces the shadow server's host and port in text with placeholders. */
export function addressRedactor(adminUrl: string): (text: string) => string {
  const u = new URL(adminUrl);
  const host = u.hostname.replace(/^\[|\]$/g, "");
  const port = u.port || "5432";
  const hosts = [...new Set([host, "127.0.0.1", "localhost"])].filter((h) => h.length > 0);
  const escape = (t: string) => t.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const pattern = new RegExp(
    `${hosts.map(escape).join("|")}|(?<![0-9])${escape(port)}(?![0-9])`,
    "g",
  );
  return (text) => text.replace(pattern, (m) => m === port ? "<shadow-port>" : "<shadow-host>");
}

/**
 * Refuses a shadow server that is the product's server: compares `system_identifier`, which
 * two names for one server (host aliases, ports forwarded, another database) share.
 */
export async function assertSeparateServers(shadowUrl: string, productUrl: string): Promise<void> {
  const ids = await Promise.all([shadowUrl, productUrl].map(async (url) => {
    const sql = connect(url, { max: 1, applicationName: "backend-team shadow check" });
    try {
      const [row] = await sql<{ id: string }[]>`
        select system_identifier::text as id from pg_control_system()`;
      return row.id;
    } finally {
      await sql.end({ timeout: 1 });
    }
  }));
  if (ids[0] === ids[1]) {
    throw new AppError(
      "config_invalid",
      "configuration error: SHADOW_DATABASE_URL reaches the product's database server; untrusted " +
        "SQL must run on a server of its own (a second PostgreSQL server, or unset it for PGlite)",
      { variables: ["SHADOW_DATABASE_URL"] },
    );
  }
}

/** Creates the PostgreSQL shadow: roles, template, and (by default) spare databases. */
export async function createPostgresShadow(
  options: PostgresShadowOptions,
): Promise<ShadowDatabase> {
  const productUrl = options.productUrl ?? Deno.env.get("SUPABASE_DB_URL");
  if (productUrl) await assertSeparateServers(options.adminUrl, productUrl);
  const admin = connect(options.adminUrl, { max: 3, applicationName: "backend-team shadow" });
  try {
    await ensureServerSetup(admin);
    const template = await ensureTemplate(admin, options.adminUrl);
    await dropOrphans(admin);
    return new PostgresShadow(admin, options, template);
  } catch (e) {
    await admin.end();
    throw e;
  }
}

/**
 * The server-wide part: the owner group role, the API roles without leftover settings, and
 * CONNECT revoked from PUBLIC on every database that is not a shadow's own.
 */
async function ensureServerSetup(admin: Sql): Promise<void> {
  await admin.begin(async (tx) => {
    await tx`select pg_advisory_xact_lock(hashtext('backend-team shadow owner'))`;
    await tx.unsafe(`
      do $$
      begin
        if not exists (select from pg_roles where rolname = '${SHADOW_OWNER}') then
          create role ${SHADOW_OWNER} nologin;
        end if;
      end
      $$`);
    // Re-asserted on every start, in case SQL in an earlier shadow changed a shared role.
    await tx.unsafe(
      `alter role ${SHADOW_OWNER} with nologin nosuperuser nocreatedb nocreaterole ` +
        `noreplication nobypassrls inherit connection limit 0 password null`,
    );
    for (const role of [SHADOW_OWNER, "anon", "authenticated", "service_role"]) {
      const [found] = await tx`select 1 from pg_roles where rolname = ${role}`;
      if (found) await tx.unsafe(`alter role ${role} reset all`);
    }
    const databases = await tx<{ datname: string }[]>`
      select datname from pg_database
      where datallowconn and datname not like ${DB_PREFIX + "%"}`;
    for (const { datname } of databases) {
      await tx.unsafe(`revoke connect, temporary on database "${datname}" from public`);
    }
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
      await lock.unsafe(`revoke connect, temporary on database ${building} from public`);
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
 * Drops shadow databases and roles left by processes that ended without closing their shadow (a
 * function stopped by its gateway, a crash): every live session — spares included — holds a
 * connection, so a shadow database older than a minute with no connection is an orphan, and so is
 * a shadow role older than a minute whose database is gone. Names carry their creation time.
 */
async function dropOrphans(admin: Sql): Promise<void> {
  const now = Math.floor(Date.now() / 1000);
  const old = (name: string, prefix: string) =>
    now - Number(name.slice(prefix.length).split("_")[0]) > ORPHAN_AFTER_SECONDS;
  const dbs = await admin<{ datname: string }[]>`
    select d.datname from pg_database d
    where d.datname ~ ${`^${DB_PREFIX}[0-9]+_[0-9a-f]+$`}
      and not exists (select 1 from pg_stat_activity a where a.datname = d.datname)`;
  for (const { datname } of dbs) {
    if (!old(datname, DB_PREFIX)) continue;
    await admin.unsafe(`drop database if exists ${datname} with (force)`).catch(() => {});
  }
  const roles = await admin<{ rolname: string }[]>`
    select r.rolname from pg_roles r
    where r.rolname ~ ${`^${ROLE_PREFIX}[0-9]+_[0-9a-f]+$`}
      and not exists (
        select 1 from pg_database d
        where d.datname = ${DB_PREFIX} || substr(r.rolname, ${ROLE_PREFIX.length + 1}))`;
  for (const { rolname } of roles) {
    if (!old(rolname, ROLE_PREFIX)) continue;
    await admin.unsafe(`drop role if exists ${rolname}`).catch(() => {});
  }
}

class PostgresShadow implements ShadowDatabase {
  readonly backend = "postgres" as const;
  readonly notes: readonly string[] = [];
  readonly #admin: Sql;
  readonly #options: PostgresShadowOptions;
  readonly #template: string;
  readonly #maxBytes: number;
  readonly #sessionMaxMs: number;
  readonly #drops = new Set<Promise<void>>();
  // The fixed queries sessions ran with `prepare`, run ahead on each session kept ready.
  readonly #warm = new Set<string>();
  readonly #live = new Map<string, PostgresSession>();
  // The next sessions, databases created and connections logged in while the current one works.
  readonly #spares: Promise<PostgresSession>[] = [];
  #watch: ReturnType<typeof setInterval> | undefined;
  #watching = false;
  #lastSweep = Date.now();
  #closed = false;

  readonly #redact: (text: string) => string;

  constructor(admin: Sql, options: PostgresShadowOptions, template: string) {
    this.#redact = addressRedactor(options.adminUrl);
    this.#admin = admin;
    this.#options = options;
    this.#template = template;
    this.#maxBytes = options.maxDatabaseBytes ??
      positiveNumber(Deno.env.toObject(), "BT_SHADOW_MAX_DATABASE_MB", 128) * 1024 * 1024;
    this.#sessionMaxMs = options.sessionMaxMs ??
      positiveNumber(Deno.env.toObject(), "BT_SHADOW_SESSION_MAX_MS", 120_000);
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

  // In the background (a validation does not wait for it), tracked until the shadow closes.
  #drop(database: string, role: string, pool?: Sql): void {
    const drop = (async () => {
      await pool?.end({ timeout: 2 }).catch(() => {});
      await this.#admin.unsafe(`drop database if exists ${database} with (force)`);
      await this.#admin.unsafe(`drop role if exists ${role}`);
    })().then(() => {}, () => {}).finally(() => this.#drops.delete(drop));
    this.#drops.add(drop);
  }

  /** A fresh database and login role, and a started session on it. */
  async #prepare(): Promise<PostgresSession> {
    const suffix = `${Math.floor(Date.now() / 1000)}_${randomHex(6)}`;
    const database = `${DB_PREFIX}${suffix}`;
    const role = `${ROLE_PREFIX}${suffix}`;
    const password = randomHex(24);
    // temp_file_limit can only be set by a superuser: the role cannot raise it.
    await this.#admin.unsafe(
      `create role ${role} login password '${password}' nosuperuser nocreatedb nocreaterole ` +
        `noreplication nobypassrls inherit connection limit 2 in role ${SHADOW_OWNER}; ` +
        `alter role ${role} set temp_file_limit = '${Math.floor(this.#maxBytes / 1024)}kB'`,
    ).simple();
    try {
      // Not connectable until PUBLIC's default CONNECT is revoked: in between, another
      // validation's role could otherwise log in to it.
      await this.#admin.unsafe(
        `create database ${database} template ${this.#template} owner ${role} ` +
          `allow_connections false`,
      );
      await this.#admin.unsafe(
        `revoke connect, temporary on database ${database} from public; ` +
          `grant create, temporary on database ${database} to ${SHADOW_OWNER}; ` +
          `alter database ${database} allow_connections true`,
      ).simple();
    } catch (e) {
      this.#drop(database, role);
      throw e;
    }
    const timeoutMs = this.#options.statementTimeoutMs ?? DEFAULT_STATEMENT_TIMEOUT_MS;
    const pool = connect(
      databaseUrl(this.#options.adminUrl, database, role, password),
      // A direct connection. No named prepared statements: they would share the session with the
      // migrations, which could deallocate or replace them.
      { max: 1, idleTimeout: 0, applicationName: "backend-team shadow" },
    );
    let conn: ReservedSql;
    try {
      conn = await pool.reserve();
    } catch (e) {
      await pool.end({ timeout: 1 }).catch(() => {});
      this.#drop(database, role);
      throw e;
    }
    const session: PostgresSession = new PostgresSession(
      conn,
      this.#admin,
      { url: databaseUrl(this.#options.adminUrl, database, role, password), role },
      timeoutMs,
      () => {
        this.#live.delete(database);
        conn.release();
        this.#drop(database, role, pool);
        return Promise.resolve();
      },
      this.#redact,
      (sql) => {
        if (this.#warm.size < MAX_WARM_TEXTS) this.#warm.add(sql);
      },
    );
    try {
      await session.start(timeoutMs, this.#options.lockTimeoutMs ?? 2000);
      // The new backend's catalog caches filled now, while no validation waits for them. Only a
      // speed-up: a warm query that fails (a timeout under load) does not fail the session.
      for (const sql of this.#warm) await session.query(sql, []).catch(() => {});
    } catch (e) {
      await session.close();
      throw e;
    }
    this.#live.set(database, session);
    this.#startWatch();
    return session;
  }

  // One query per tick for every live session: size on disk and age.
  #startWatch(): void {
    if (this.#watch !== undefined || this.#closed) return;
    this.#watch = setInterval(() => {
      if (this.#watching) return;
      if (this.#live.size === 0) {
        clearInterval(this.#watch);
        this.#watch = undefined;
        return;
      }
      this.#watching = true;
      this.#checkLimits().catch(() => {}).finally(() => this.#watching = false);
    }, DISK_WATCH_MS);
    Deno.unrefTimer(Number(this.#watch));
  }

  async #checkLimits(): Promise<void> {
    const live = [...this.#live].map(([database, session]) => ({ database, session }));
    const names = live.filter((t) => t.session.opened).map((t) => t.database);
    const sizes = names.length === 0 ? [] : await this.#admin<{ datname: string; bytes: string }[]>`
      select datname, pg_database_size(oid)::text as bytes
      from pg_database where datname = any(${names})`;
    const size = new Map(sizes.map((r) => [r.datname, Number(r.bytes)]));
    for (const t of live) {
      const bytes = size.get(t.database) ?? 0;
      if (bytes > this.#maxBytes) {
        await t.session.stop(
          new ShadowResourceLimitError(
            "disk",
            `the shadow database grew past its disk cap (${
              Math.round(this.#maxBytes / 1048576)
            } MiB); the validation was stopped and its database dropped`,
          ),
        );
      } else if (t.session.opened && Date.now() - t.session.openedAt > this.#sessionMaxMs) {
        await t.session.stop(
          new ShadowResourceLimitError(
            "time",
            `the validation ran past the shadow's session limit (${this.#sessionMaxMs} ms)`,
          ),
        );
      }
    }
  }

  async open(): Promise<ShadowSession> {
    if (this.#closed) throw new ShadowClosedError("the shadow is closed");
    if (Date.now() - this.#lastSweep > ORPHAN_AFTER_SECONDS * 1000) {
      this.#lastSweep = Date.now();
      dropOrphans(this.#admin).catch(() => {});
    }
    const spare = this.#spares.shift();
    this.#prepareSpare();
    let session = spare ? await spare.catch(() => undefined) : undefined;
    if (session && !session.alive) session = undefined;
    session ??= await this.#prepare();
    session.markOpened();
    return session;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#watch !== undefined) clearInterval(this.#watch);
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
  readonly #redact: (text: string) => string;
  readonly #prepared: (sql: string) => void;
  #pid = 0;
  #open = true;
  #openedAt = 0;
  #stopped: Error | undefined;

  readonly #login: { url: string; role: string };

  constructor(
    sql: ReservedSql,
    admin: Sql,
    login: { url: string; role: string },
    timeoutMs: number,
    dispose: () => Promise<void>,
    redact: (text: string) => string,
    prepared: (sql: string) => void = () => {},
  ) {
    this.#prepared = prepared;
    this.#sql = sql;
    this.#admin = admin;
    this.#login = login;
    this.#timeoutMs = timeoutMs;
    this.#dispose = dispose;
    this.#redact = redact;
  }

  /**
   * This database's URL as its own login role; the role's connection limit is raised to
   * `connections` (at most 16) by the admin connection, the only one that may change it.
   */
  async connectionUrl(connections = 2): Promise<string> {
    if (!this.#open) throw new ShadowClosedError();
    const limit = Math.min(16, Math.max(2, Math.floor(connections)));
    await this.#admin.unsafe(`alter role ${this.#login.role} connection limit ${limit}`);
    return this.#login.url;
  }

  async start(statementTimeoutMs: number, lockTimeoutMs: number): Promise<void> {
    const results = await this.#sql.unsafe(
      `set role ${SHADOW_OWNER};
       select pg_backend_pid() as pid,
              set_config('statement_timeout', '${statementTimeoutMs}', false),
              set_config('lock_timeout', '${lockTimeoutMs}', false),
              set_config('idle_in_transaction_session_timeout', '60000', false),
              set_config('synchronous_commit', 'off', false),
              set_config('search_path', '"$user", public, extensions', false)`,
    ).simple() as unknown as Row[][];
    this.#pid = Number(results.at(-1)?.[0]?.pid);
  }

  /** Whether the session was handed out (a spare is not, yet). */
  get opened(): boolean {
    return this.#openedAt > 0;
  }

  /** When it was handed out (ms since the epoch). */
  get openedAt(): number {
    return this.#openedAt;
  }

  markOpened(): void {
    this.#openedAt = Date.now();
  }

  /** Ends the session for `reason`: its backend is terminated; later calls throw `reason`. */
  async stop(reason: Error): Promise<void> {
    if (!this.#open) return;
    this.#stopped = reason;
    await this.#admin`select pg_terminate_backend(${this.#pid})`.catch(() => {});
    await this.close();
  }

  get alive(): boolean {
    return this.#open;
  }

  async #guard<T>(timeoutMs: number | undefined, run: () => Promise<T>): Promise<T> {
    if (this.#stopped) throw this.#stopped;
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
      if (this.#stopped) throw this.#stopped;
      const facts = sqlErrorFacts(e);
      if (killed || facts.code === "57P01") {
        await this.close();
        throw new ShadowTimeoutError(limit);
      }
      if (facts.code === "57014") throw new ShadowTimeoutError(limit);
      if (facts.code === "53100" || facts.code === "54000") {
        // disk_full / program_limit_exceeded: temp_file_limit and friends.
        await this.close();
        throw new ShadowResourceLimitError(
          "disk",
          `the shadow hit a resource limit: ${facts.message}`,
        );
      }
      const sqlstate = facts.code !== undefined && /^[0-9A-Z]{5}$/.test(facts.code);
      if (!sqlstate && !(e instanceof ShadowSqlError)) {
        // Not a Postgres error (none, or the driver's own like CONNECTION_CLOSED): the
        // connection is gone. Its text names hosts and ports, so it stays in the log.
        console.error(`shadow session lost: ${facts.message}`);
        await this.close();
        throw new ShadowClosedError("the shadow connection was lost");
      }
      if (e instanceof ShadowSqlError) throw e;
      // SQL can read the server's address (`current_setting('port')`, `listen_addresses`) into
      // an error message; findings never carry it.
      throw new ShadowSqlError({
        ...facts,
        message: this.#redact(facts.message),
        detail: facts.detail && this.#redact(facts.detail),
        hint: facts.hint && this.#redact(facts.hint),
        where: facts.where && this.#redact(facts.where),
      });
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
        if (options?.prepare && params.length === 0) this.#prepared(sql);
        const rows = await this.#sql.unsafe(sql, params as never[], {});
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
