/**
 * `deno task validate` as a person runs it: a real `deno` process on SQL files in a temporary
 * folder, judged by its exit status (0 clean, 1 an error-level finding, 2 usage) and its output —
 * the `--json` report or the readable one grouped by file — on both shadow backends.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { runValidateCli, ValidationReport } from "../../shared/validation/mod.ts";
import { shadowAdminUrl } from "../_support/db.ts";

const CLI = fileURLToPath(new URL("../../shared/validation/cli.ts", import.meta.url));

const CLEAN = `create table public.todos (
  id bigint generated always as identity primary key,
  user_id uuid not null default auth.uid() references auth.users (id) on delete cascade,
  title text not null
);
create index todos_user_id_idx on public.todos (user_id);
alter table public.todos enable row level security;
create policy "todos: owner all" on public.todos for all to authenticated
  using ((select auth.uid()) = user_id) with check ((select auth.uid()) = user_id);
`;

async function run(args: string[], env: Record<string, string> = {}) {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", CLI, ...args],
    env: { NO_COLOR: "1", ...env },
    stdout: "piped",
    stderr: "piped",
  }).output();
  return {
    code: output.code,
    stdout: new TextDecoder().decode(output.stdout),
    stderr: new TextDecoder().decode(output.stderr),
  };
}

async function folder(files: Record<string, string>): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "bt_validate_cli_" });
  for (const [name, sql] of Object.entries(files)) await Deno.writeTextFile(join(dir, name), sql);
  return dir;
}

Deno.test("a clean migration exits 0 and --json prints exactly ok, findings and durationMs", async () => {
  const dir = await folder({ "001_todos.sql": CLEAN });
  try {
    const { code, stdout, stderr } = await run(["--json", join(dir, "001_todos.sql")]);
    assert.equal(code, 0, stderr);
    const report = JSON.parse(stdout);
    assert.deepEqual(Object.keys(report).sort(), ["durationMs", "findings", "ok"]);
    assert.equal(ValidationReport.parse(report).ok, true);
    assert.deepEqual(report.findings, []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("an error-level finding exits 1 with a report grouped by file, naming the line", async () => {
  const dir = await folder({
    "001_todos.sql": CLEAN,
    "002_invoices.sql": "-- invoices\n\ncreate table public.invoices (id bigint primary key);\n",
  });
  try {
    const { code, stdout, stderr } = await run([
      join(dir, "001_todos.sql"),
      join(dir, "002_invoices.sql"),
    ]);
    assert.equal(code, 1, stderr);
    const section = stdout.slice(stdout.indexOf("002_invoices.sql"));
    assert.match(section, /error rls_disabled_in_public \(line 3\)/);
    assert.match(stdout, /^FAILED: 1 error\(s\)/m);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("X.down.sql beside X.sql is checked as its rollback, on the postgres shadow too", async () => {
  const dir = await folder({
    "001_todos.sql": CLEAN,
    "001_todos.down.sql": 'drop policy "todos: owner all" on public.todos;\n',
  });
  try {
    const pglite = await run(["--json", join(dir, "001_todos.sql")]);
    const postgres = await run(["--json", "--shadow", "postgres", join(dir, "001_todos.sql")], {
      SHADOW_DATABASE_URL: await shadowAdminUrl(),
    });
    for (const { code, stdout, stderr } of [pglite, postgres]) {
      assert.equal(code, 1, stderr);
      const report = ValidationReport.parse(JSON.parse(stdout));
      const mismatch = report.findings.filter((f) => f.rule === "rollback_mismatch");
      assert.ok(mismatch.length > 0, stdout);
      assert.ok(mismatch.every((f) => f.file === "001_todos.down.sql"));
      assert.ok(mismatch.some((f) => f.message.includes("table public.todos is left behind")));
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("usage errors exit 2 and say what is wrong", async () => {
  const dir = await folder({ "001_todos.sql": CLEAN, "001_todos.down.sql": "select 1;" });
  const lines: string[] = [];
  const io = { out: (t: string) => lines.push(t), err: (t: string) => lines.push(t) };
  try {
    assert.equal(await runValidateCli([], io), 2);
    assert.match(lines.join("\n"), /no SQL file given/);
    assert.equal(await runValidateCli(["--nope", "a.sql"], io), 2);
    assert.equal(await runValidateCli(["--shadow", "mysql", "a.sql"], io), 2);
    assert.equal(await runValidateCli([join(dir, "missing.sql")], io), 2);
    assert.match(lines.join("\n"), /cannot read/);
    assert.equal(await runValidateCli([join(dir, "001_todos.down.sql")], io), 2);
    assert.match(lines.join("\n"), /is a rollback/);
    const spawned = await run(["--shadow", "postgres", join(dir, "001_todos.sql")], {
      SHADOW_DATABASE_URL: "",
    });
    assert.equal(spawned.code, 2);
    assert.match(spawned.stderr, /SHADOW_DATABASE_URL/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
