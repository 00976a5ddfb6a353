/**
 * `deno task test`: gets a database server ready (the local cluster, or `DATABASE_URL`), clears
 * what interrupted runs left behind, then runs every test with Deno's test runner. Extra arguments
 * go to `deno test` (e.g. a path or `--filter`).
 */
import { dropStaleTestDatabases, templateDatabase } from "./_support/db.ts";

const stale = await dropStaleTestDatabases();
if (stale > 0) console.error(`[tests] dropped ${stale} stale test database(s)`);
await templateDatabase();

const args = Deno.args.length > 0 ? Deno.args : ["."];
const child = new Deno.Command(Deno.execPath(), {
  args: ["test", "-A", "--parallel", ...args],
  stdout: "inherit",
  stderr: "inherit",
}).spawn();
const { code } = await child.status;
Deno.exit(code);
