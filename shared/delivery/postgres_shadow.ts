/**
 * The PostgreSQL backend of the delivery shadow: a fresh database per validation on a cluster the
 * caller names (the local stack's, or `SHADOW_DATABASE_URL`'s), prepared with the platform SQL and
 * pgTAP, reached over one connection with statement and lock timeouts, and dropped afterwards.
 *
 * @example
 * ```ts
 * const shadow = postgresDeliveryShadow({ adminUrl, prepare: applyPlatformSql });
 * await shadow.withDatabase((db) => db.exec("select 1"));
 * ```
 */
import { connect, type Sql } from "../db/mod.ts";
import type { DeliveryShadow, Row, ShadowSession } from "./shadow_port.ts";

/** How {@link postgresDeliveryShadow} makes its databases. */
export interface PostgresShadowOptions {
  /** URL of a role that may create and drop databases on the cluster. */
  adminUrl: string;
  /** Installs the platform SQL (roles, auth, realtime) in a fresh database. */
  prepare(sql: Sql): Promise<void>;
  /** Longest a statement may run, in ms (default 30 s). */
  statementTimeoutMs?: number;
}

/** A {@link DeliveryShadow} on a PostgreSQL cluster. */
export function postgresDeliveryShadow(options: PostgresShadowOptions): DeliveryShadow {
  return {
    backend: "postgresql",
    async withDatabase<T>(fn: (db: ShadowSession) => Promise<T>): Promise<T> {
      // The name carries its creation time, so databases left by a worker killed mid-validation
      // can be told apart from live ones and swept.
      const name = `bt_delivery_${Math.floor(Date.now() / 1000)}_${
        crypto.randomUUID().replaceAll("-", "").slice(0, 12)
      }`;
      const admin = connect(options.adminUrl, { max: 1, applicationName: "backend-team delivery" });
      try {
        await dropAbandonedShadows(admin);
        await admin.unsafe(`create database ${name}`);
        const url = new URL(options.adminUrl);
        url.pathname = `/${name}`;
        const sql = connect(url.toString(), { max: 1, applicationName: "backend-team delivery" });
        try {
          await options.prepare(sql);
          await sql.unsafe("create extension if not exists pgtap with schema extensions");
          await sql.unsafe(
            `set statement_timeout = ${
              options.statementTimeoutMs ?? 30_000
            }; set lock_timeout = 5000`,
          );
          return await fn(postgresSession(sql));
        } finally {
          await sql.end({ timeout: 5 });
        }
      } finally {
        try {
          await admin.unsafe(`drop database if exists ${name} with (force)`);
        } finally {
          await admin.end();
        }
      }
    },
  };
}

// Shadows older than this are abandoned: no validation runs that long (statement timeout 30 s).
const ABANDONED_AFTER_SECONDS = 600;

/** Drops shadow databases a dead worker left behind (old, and nobody connected). */
async function dropAbandonedShadows(admin: Sql): Promise<void> {
  const cutoff = Math.floor(Date.now() / 1000) - ABANDONED_AFTER_SECONDS;
  const stale = await admin<{ datname: string }[]>`
    select d.datname from pg_database d
     where d.datname ~ '^bt_delivery_[0-9]+_[0-9a-f]+$'
       and split_part(d.datname, '_', 3)::bigint < ${cutoff}
       and not exists (select 1 from pg_stat_activity a where a.datname = d.datname)`;
  for (const { datname } of stale) {
    await admin.unsafe(`drop database if exists ${datname} with (force)`).catch(() => {});
  }
}

/** A {@link ShadowSession} over a one-connection postgres.js pool. */
export function postgresSession(sql: Sql): ShadowSession {
  return {
    async exec(text: string): Promise<Row[]> {
      const result = await sql.unsafe(text) as unknown as unknown[];
      // Several statements give one result per statement; one statement gives its rows.
      const results = result.length > 0 && Array.isArray(result[0]) ? result as Row[][] : [
        result as Row[],
      ];
      return results.flatMap((r) => [...r]);
    },
    async query<T extends Row = Row>(text: string, params: unknown[] = []): Promise<T[]> {
      const rows = await sql.unsafe(text, params as never[]);
      return [...rows] as unknown as T[];
    },
  };
}
