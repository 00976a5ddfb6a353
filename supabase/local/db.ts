/**
 * `deno task db start|stop|status|migrate`: manage the local PostgreSQL cluster on its own, like
 * `supabase db start` / `supabase stop`. `migrate` applies the platform SQL, then `migrations/` with
 * the real CLI's `supabase db push --db-url` (see supabase_cli.ts).
 */
import { connect } from "../../shared/db/mod.ts";
import { applyPlatformSql } from "../../shared/platform/mod.ts";
import { ensureCluster, localDatabaseUrl, stopCluster } from "./postgres_cluster.ts";
import { pushProductMigrations } from "./supabase_cli.ts";

const USAGE = "usage: deno task db start|stop|status|migrate";

async function migrate(url: string): Promise<void> {
  const sql = connect(url, { max: 1 });
  try {
    await applyPlatformSql(sql);
  } finally {
    await sql.end();
  }
  const report = await pushProductMigrations(url);
  for (const f of report.applied) console.log(`applied ${f}`);
  console.log(
    report.applied.length === 0
      ? "up to date"
      : `${report.applied.length} applied (supabase db push, ${report.durationMs} ms)`,
  );
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
