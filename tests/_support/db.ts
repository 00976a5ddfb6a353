/**
 * Databases for tests: each test gets a fresh database cloned from a template that holds the
 * platform SQL and every migration. The template's name carries a hash of that SQL, so changing a
 * migration rebuilds it and nothing stale is ever reused. Runs against the local stack's cluster
 * (started if needed) or the server named by `DATABASE_URL`.
 */
import { connect, type Sql } from "../../shared/db/mod.ts";
import { readMigrationDir } from "../../shared/migrations/mod.ts";
import { applyPlatformSql, platformFiles } from "../../shared/platform/mod.ts";
import { ensureCluster, ensureShadowCluster } from "../../supabase/local/postgres_cluster.ts";
import { pushProductMigrations, SUPABASE_CLI_VERSION } from "../../supabase/local/supabase_cli.ts";
import { fileURLToPath as fromFileUrl } from "node:url";

/** Folder of the product's migrations. */
export const MIGRATIONS_DIR = fromFileUrl(new URL("../../migrations/", import.meta.url));

/** A database of one's own, dropped by `close()`. */
export interface TestDatabase {
  name: string;
  /** Superuser URL of this database. */
  url: string;
  /** A superuser pool on it. */
  sql: Sql;
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

let adminUrlPromise: Promise<string> | undefined;

/** The superuser URL of the server tests use (`DATABASE_URL`, else the local cluster). */
export function adminUrl(): Promise<string> {
  adminUrlPromise ??= (async () => {
    const override = Deno.env.get("DATABASE_URL");
    if (override) return override;
    return (await ensureCluster()).url;
  })();
  return adminUrlPromise;
}

let shadowUrlPromise: Promise<string> | undefined;

/**
 * The superuser URL of the shadow server tests use (`SHADOW_DATABASE_URL`, else the local shadow
 * cluster): a second server, never the one holding product databases.
 */
export function shadowAdminUrl(): Promise<string> {
  shadowUrlPromise ??= (async () => {
    const override = Deno.env.get("SHADOW_DATABASE_URL");
    if (override) return override;
    return (await ensureShadowCluster()).url;
  })();
  return shadowUrlPromise;
}

/** URL of database `name` on the same server as `url`. */
export function withDatabase(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

let templatePromise: Promise<string> | undefined;

/** Name of the template database holding platform SQL and migrations (built once per content). */
export function templateDatabase(): Promise<string> {
  templatePromise ??= buildTemplate();
  return templatePromise;
}

async function contentHash(): Promise<string> {
  // How the template is built is part of its name: a CLI upgrade rebuilds it.
  const parts: string[] = ["supabase db push", SUPABASE_CLI_VERSION];
  for (const f of await platformFiles()) parts.push(f.name, f.sql);
  for (const f of await readMigrationDir(MIGRATIONS_DIR)) parts.push(f.fileName, f.sql);
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(parts.join("\0")));
  return [...new Uint8Array(digest).slice(0, 6)].map((b) => b.toString(16).padStart(2, "0")).join(
    "",
  );
}

async function buildTemplate(): Promise<string> {
  const admin = await adminUrl();
  const name = `bt_tpl_${await contentHash()}`;
  const sql = connect(admin, { max: 1 });
  try {
    await sql`select pg_advisory_lock(hashtext('backend-team test template'))`;
    const [found] = await sql`select 1 from pg_database where datname = ${name}`;
    if (!found) {
      const building = `${name}_${Deno.pid}`;
      await sql.unsafe(`drop database if exists ${building}`);
      await sql.unsafe(`create database ${building}`);
      const db = connect(withDatabase(admin, building), { max: 1 });
      try {
        await applyPlatformSql(db);
      } finally {
        await db.end();
      }
      // With the real CLI, as the local stack does; once per content hash, so the CLI's start-up
      // (about 0.6 s) is paid when a migration changes, not per test.
      await pushProductMigrations(withDatabase(admin, building));
      await sql.unsafe(`alter database ${building} rename to ${name}`);
      await sql.unsafe(`alter database ${name} is_template true`);
    }
    await sql`select pg_advisory_unlock(hashtext('backend-team test template'))`;
  } finally {
    await sql.end();
  }
  return name;
}

/** A fresh database with the platform SQL and every migration applied. */
export async function freshDatabase(options: { template?: boolean } = {}): Promise<TestDatabase> {
  const admin = await adminUrl();
  const name = `bt_test_${crypto.randomUUID().replaceAll("-", "").slice(0, 16)}`;
  const sql0 = connect(admin, { max: 1 });
  try {
    if (options.template === false) await sql0.unsafe(`create database ${name}`);
    else await sql0.unsafe(`create database ${name} template ${await templateDatabase()}`);
  } finally {
    await sql0.end();
  }
  const url = withDatabase(admin, name);
  const sql = connect(url, { max: 10 });
  const close = async () => {
    await sql.end({ timeout: 5 });
    const a = connect(admin, { max: 1 });
    try {
      await a.unsafe(`drop database if exists ${name} with (force)`);
    } finally {
      await a.end();
    }
  };
  return { name, url, sql, close, [Symbol.asyncDispose]: close };
}

/** Drops test databases and stale templates left behind by earlier, interrupted runs. */
export async function dropStaleTestDatabases(): Promise<number> {
  const admin = await adminUrl();
  const keep = `bt_tpl_${await contentHash()}`;
  const sql = connect(admin, { max: 1 });
  try {
    const rows = await sql<{ datname: string }[]>`
      select datname from pg_database
      where (datname like 'bt\_test\_%' or datname like 'bt\_tpl\_%'
             or datname like 'bt\_delivery\_%' or datname like 'bt\_shadow\_%')
        and datname <> ${keep}`;
    for (const { datname } of rows) {
      await sql.unsafe(`alter database ${datname} is_template false`);
      await sql.unsafe(`drop database if exists ${datname} with (force)`);
    }
    return rows.length;
  } finally {
    await sql.end();
  }
}
