/**
 * `deno task db start|stop|status|migrate`: manage the local PostgreSQL cluster on its own, like
 * `supabase db start` / `supabase stop`. `migrate` applies platform SQL and `migrations/`.
 */
import { fileURLToPath } from "node:url";
import { connect } from "../../shared/db/mod.ts";
import { applyMigrations, readMigrationDir } from "../../shared/migrations/mod.ts";
import { applyPlatformSql } from "./platform.ts";
import { ensureCluster, localDatabaseUrl, stopCluster } from "./postgres_cluster.ts";

const USAGE = "usage: deno task db start|stop|status|migrate";

async function migrate(url: string): Promise<void> {
  const sql = connect(url, { max: 1 });
  try {
    await applyPlatformSql(sql);
    const dir = fileURLToPath(new URL("../../migrations", import.meta.url));
    const report = await applyMigrations(sql, await readMigrationDir(dir));
    for (const f of report.applied) console.log(`applied ${f}`);
    console.log(
      `${report.applied.length} applied, ${report.alreadyApplied.length} already applied`,
    );
  } finally {
    await sql.end();
  }
}

if (import.meta.main) {
  const [command] = Deno.args;
  const external = Deno.env.get("DATABASE_URL");
  try {
    switch (command) {
      case "start": {
        const c = await ensureCluster();
        console.log(c.started ? `started: ${c.url}` : `already running: ${c.url}`);
        break;
      }
      case "stop":
        console.log((await stopCluster()) ? "stopped" : "not running");
        break;
      case "status":
        console.log(localDatabaseUrl());
        break;
      case "migrate":
        await migrate(external ?? (await ensureCluster()).url);
        break;
      default:
        console.error(USAGE);
        Deno.exit(2);
    }
  } catch (e) {
    console.error((e as Error).message);
    Deno.exit(1);
  }
}
