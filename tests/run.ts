/**
 * `deno task test`: gets the database servers ready (the local cluster, or `DATABASE_URL`, and
 * the shadow cluster, or `SHADOW_DATABASE_URL`), clears
 * what interrupted runs left behind, then runs every test with Deno's test runner. Extra arguments
 * go to `deno test` (e.g. a path or `--filter`).
 */
import { dropStaleTestDatabases, shadowAdminUrl, templateDatabase } from "./_support/db.ts";

const stale = await dropStaleTestDatabases();
if (stale > 0) console.error(`[tests] dropped ${stale} stale test database(s)`);
await templateDatabase();
// Both servers up before the parallel workers race to start them.
await shadowAdminUrl();

const args = Deno.args.length > 0 ? Deno.args : ["."];
const child = new Deno.Command(Deno.execPath(), {
  args: ["test", "-A", "--parallel", ...args],
  stdout: "inherit",
  stderr: "inherit",
}).spawn();
const { code } = await child.status;
Deno.exit(code);
