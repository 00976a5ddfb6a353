import assert from "node:assert/strict";
import {
  appliedFiles,
  cliDatabaseUrl,
  cliEnvironment,
  failureLine,
  parseMigrationList,
  parsePushFailure,
  runSupabaseCli,
  SupabaseCliError,
} from "./supabase_cli.ts";

// What `supabase db push` 2.117.0 printed on stderr for a view naming a missing column.
const FAILED_PUSH = `Connecting to local database...
Do you want to push these migrations to the local database?
 • 20250101000000_notes.sql
 [Y/n] y
Applying migration 20250101000000_notes.sql...
ERROR: column n.title does not exist (SQLSTATE 42703)
At statement: 1
-- The view names a column notes lack.
create view public.note_titles as
select
  n.id,
  n.title
  ^
Try rerunning the command with --debug to troubleshoot the error.
`;

const NOTES_SQL = `-- Notes and a view of them.
create table public.notes (id bigint primary key);

-- The view names a column notes lack.
create view public.note_titles as
select
  n.id,
  n.title
from public.notes n;
`;

Deno.test("a failed push names the file, the SQLSTATE, the statement and the marked line", () => {
  const failure = parsePushFailure(FAILED_PUSH);
  assert.equal(failure.file, "20250101000000_notes.sql");
  assert.equal(failure.message, "column n.title does not exist");
  assert.equal(failure.sqlstate, "42703");
  assert.equal(failure.statementIndex, 1);
  assert.ok(failure.marked);
  assert.match(failure.statement!, /^-- The view names a column notes lack\.\ncreate view/);
  assert.match(failure.statement!, /n\.title$/);
  assert.equal(failureLine(NOTES_SQL, failure), 8);
});

Deno.test("a failure without a position is placed at the statement's first line", () => {
  const stderr = FAILED_PUSH.replace("  ^\n", "");
  const failure = parsePushFailure(stderr);
  assert.equal(failure.marked, false);
  assert.equal(failureLine(NOTES_SQL, failure), 4);
  assert.equal(failureLine("something else entirely", failure), undefined);
});

Deno.test("the applied files are read from db push's progress lines, in order", () => {
  const stderr = "Connecting to local database...\n" +
    "Applying migration 20261125000100_product_schema.sql...\n" +
    "Applying migration 20261125000200_state_machine.sql...\n";
  assert.deepEqual(appliedFiles(stderr), [
    "20261125000100_product_schema.sql",
    "20261125000200_state_machine.sql",
  ]);
  assert.deepEqual(appliedFiles("Connecting to local database...\n"), []);
});

Deno.test("migration list's table is read as local and remote versions", () => {
  // As `supabase migration list` 2.117.0 prints it without a terminal.
  const stdout = `
  
   Local            | Remote           | Time (UTC)            
  ------------------|------------------|-----------------------
   \`20250101000000\` | \`20250101000000\` | \`2025-01-01 00:00:00\` 
   \`20250101000100\` | \` \`              | \`2025-01-01 00:01:00\` 
   \` \`              | \`20250101000200\` | \`2025-01-01 00:02:00\` 

`;
  assert.deepEqual(parseMigrationList(stdout), [
    { local: "20250101000000", remote: "20250101000000", time: "2025-01-01 00:00:00" },
    { local: "20250101000100", remote: null, time: "2025-01-01 00:01:00" },
    { local: null, remote: "20250101000200", time: "2025-01-01 00:02:00" },
  ]);
});

Deno.test("the password leaves the URL and loopback servers get sslmode=disable", () => {
  assert.deepEqual(cliDatabaseUrl("postgresql://postgres:p%40ss@127.0.0.1:54322/postgres"), {
    url: "postgresql://postgres@127.0.0.1:54322/postgres?sslmode=disable",
    password: "p@ss",
  });
  assert.deepEqual(cliDatabaseUrl("postgresql://u:x@localhost:5432/db?sslmode=require"), {
    url: "postgresql://u@localhost:5432/db?sslmode=require",
    password: "x",
  });
  assert.deepEqual(cliDatabaseUrl("postgresql://u@db.example.com:5432/postgres"), {
    url: "postgresql://u@db.example.com:5432/postgres",
    password: undefined,
  });
});

Deno.test("the CLI gets no variable of this process but PATH", () => {
  const env = cliEnvironment("/tmp/home");
  assert.deepEqual(Object.keys(env).sort(), [
    "DO_NOT_TRACK",
    "HOME",
    "HTTPS_PROXY",
    "HTTP_PROXY",
    "PATH",
    "SUPABASE_NO_KEYRING",
    "SUPABASE_TELEMETRY_DISABLED",
  ]);
  assert.equal(env.HOME, "/tmp/home");
});

Deno.test("a missing binary is a not_installed error that says how to install it", async () => {
  const workdir = await Deno.makeTempDir();
  try {
    await assert.rejects(
      () => runSupabaseCli(["--version"], { workdir, binary: `${workdir}/no-such-supabase` }),
      (e) =>
        e instanceof SupabaseCliError && e.reason === "not_installed" &&
        e.code === "config_missing" && /bootstrap\.sh/.test(e.message),
    );
  } finally {
    await Deno.remove(workdir, { recursive: true });
  }
});

Deno.test("a command that outlives its timeout is stopped and reported as timed_out", async () => {
  const workdir = await Deno.makeTempDir();
  const binary = `${workdir}/slow-supabase`;
  await Deno.writeTextFile(binary, "#!/bin/sh\nexec sleep 30\n");
  await Deno.chmod(binary, 0o755);
  try {
    const started = Date.now();
    await assert.rejects(
      () => runSupabaseCli(["db", "push"], { workdir, binary, timeoutMs: 300 }),
      (e) => e instanceof SupabaseCliError && e.reason === "timed_out",
    );
    assert.ok(Date.now() - started < 5000);
  } finally {
    await Deno.remove(workdir, { recursive: true });
  }
});

Deno.test("a failing command is a failed error carrying its exit code and output", async () => {
  const workdir = await Deno.makeTempDir();
  const binary = `${workdir}/failing-supabase`;
  await Deno.writeTextFile(binary, "#!/bin/sh\necho 'ERROR: nope' >&2\nexit 3\n");
  await Deno.chmod(binary, 0o755);
  try {
    await assert.rejects(
      () => runSupabaseCli(["db", "lint"], { workdir, binary }),
      (e) =>
        e instanceof SupabaseCliError && e.reason === "failed" &&
        (e.details as { exitCode: number }).exitCode === 3 && /ERROR: nope/.test(e.message),
    );
  } finally {
    await Deno.remove(workdir, { recursive: true });
  }
});
