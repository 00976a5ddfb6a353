import assert from "node:assert/strict";
import { ShadowSqlError } from "../shadow/mod.ts";
import { parseSqlFile } from "./parse.ts";
import {
  filterLevel,
  type LintResult,
  parseLintOutput,
  plpgsqlCheckFindings,
  plpgsqlCheckSkipped,
  runPlpgsqlCheck,
} from "./plpgsql_check.ts";

const FIXTURES = new URL("../../tests/fixtures/validate/", import.meta.url);
// Real `supabase db lint --level warning` stdout (2.117.0, plpgsql_check 2.3) for the corpus case
// plpgsql_body_missing_column on top of _baseline/notes.sql, and for the product's migrations.
const brokenOutput = () =>
  Deno.readTextFile(new URL("plpgsql_check/plpgsql_body_missing_column.json", FIXTURES));
const productOutput = () =>
  Deno.readTextFile(new URL("plpgsql_check/product_wake_workers.json", FIXTURES));
const brokenFile = async () =>
  parseSqlFile({
    name: "plpgsql_body_missing_column.sql",
    sql: await Deno.readTextFile(new URL("corpus/plpgsql_body_missing_column.sql", FIXTURES)),
  });

Deno.test("the CLI's JSON is read function by function, issue by issue", async () => {
  const results = parseLintOutput(await brokenOutput());
  assert.deepEqual(results.map((r) => r.function), [
    "public.note_summary_length",
    "public.my_note_count",
  ]);
  const [missing] = results[0].issues;
  assert.equal(missing.level, "error");
  assert.equal(missing.message, "column n.summary does not exist");
  assert.deepEqual(missing.statement, { lineNumber: "5", text: "SQL statement" });
  assert.equal(missing.sqlState, "42703");
  assert.equal(results[1].issues[0].level, "warning");
});

Deno.test("a database without issues is an empty list (the CLI prints nothing then)", () => {
  assert.deepEqual(parseLintOutput(""), []);
  assert.deepEqual(parseLintOutput("\n"), []);
});

Deno.test("an error lands on the file line of the body line plpgsql_check names", async () => {
  const findings = plpgsqlCheckFindings(parseLintOutput(await brokenOutput()), {
    files: [await brokenFile()],
  });
  const error = findings.find((f) => f.rule === "plpgsql_check")!;
  assert.equal(error.level, "error");
  assert.equal(error.file, "plpgsql_body_missing_column.sql");
  // Body line 5 is file line 9: line 1 of a body is the rest of its `as $$` line (line 5).
  assert.equal(error.line, 9);
  assert.equal(error.object, "public.note_summary_length");
  assert.match(
    error.message,
    /^public\.note_summary_length line 5: column n\.summary does not exist \(SQLSTATE 42703\)/,
  );
  assert.match(error.message, /in: select char_length\(n\.summary\) from public\.notes n/);
  assert.match(error.statement!, /^create function public\.note_summary_length/);
});

Deno.test("a warning without a body line is placed on its function's create statement", async () => {
  const findings = plpgsqlCheckFindings(parseLintOutput(await brokenOutput()), {
    files: [await brokenFile()],
  });
  const warning = findings.find((f) => f.rule === "plpgsql_check_warning")!;
  assert.equal(warning.level, "warn");
  assert.equal(warning.line, 14);
  assert.equal(warning.message, 'public.my_note_count: unused variable "v_unused"');
  assert.equal(findings.length, 2);
});

Deno.test("issues the baseline already had are not reported again", async () => {
  const results = parseLintOutput(await brokenOutput());
  const findings = plpgsqlCheckFindings(results, {
    files: [await brokenFile()],
    before: [results[1]],
  });
  assert.deepEqual(findings.map((f) => f.rule), ["plpgsql_check"]);
});

Deno.test("a function the files replace later is placed in the later definition", async () => {
  const first = await parseSqlFile({
    name: "001.sql",
    sql: "create function public.f() returns int language plpgsql as $$ begin return 1; end $$;\n",
  });
  const second = await parseSqlFile({
    name: "002.sql",
    sql: "-- replaced\n\ncreate or replace function public.f() returns int\n" +
      "language plpgsql\nas $body$\nbegin\n  return (select x from public.t);\nend\n$body$;\n",
  });
  const results: LintResult[] = [{
    function: "public.f",
    issues: [{
      level: "error",
      message: 'relation "public.t" does not exist',
      statement: { lineNumber: "3", text: "RETURN" },
    }],
  }];
  const [f] = plpgsqlCheckFindings(results, { files: [first, second] });
  assert.equal(f.file, "002.sql");
  assert.equal(f.line, 7);
});

Deno.test("a baseline function the new files broke is reported without a place", async () => {
  const findings = plpgsqlCheckFindings(parseLintOutput(await productOutput()), {
    files: [await brokenFile()],
  });
  assert.equal(findings.length, 1);
  assert.equal(findings[0].object, "backend_team.wake_workers");
  assert.equal(findings[0].file, null);
  assert.equal(findings[0].line, null);
  assert.match(findings[0].message, /line 11: relation "vault\.decrypted_secrets" does not exist/);
});

Deno.test("--level keeps what the CLI keeps: warnings and extra warnings, not performance", () => {
  const results: LintResult[] = [{
    function: "public.f",
    issues: [
      { level: "error", message: "e" },
      { level: "warning", message: "w" },
      { level: "warning extra", message: "x" },
      { level: "performance", message: "p" },
    ],
  }, { function: "public.g", issues: [{ level: "performance", message: "p" }] }];
  assert.deepEqual(
    filterLevel(results, "warning").map((r) => r.issues.map((i) => i.message)),
    [["e", "w", "x"]],
  );
  assert.deepEqual(
    filterLevel(results, "error").map((r) => r.issues.map((i) => i.message)),
    [["e"]],
  );
});

Deno.test("without plpgsql_check, files with PL/pgSQL functions get one info saying so", async () => {
  const [skipped] = plpgsqlCheckSkipped([await brokenFile()], "no extension");
  assert.equal(skipped.rule, "checks_skipped");
  assert.equal(skipped.level, "info");
  assert.equal(skipped.line, 3);
  assert.match(skipped.message, /public\.note_summary_length, public\.my_note_count/);
  assert.match(skipped.message, /SHADOW_DATABASE_URL/);
  const triggerAndSql = await parseSqlFile({
    name: "t.sql",
    sql:
      "create function public.t() returns trigger language plpgsql as $$ begin return new; end $$;\n" +
      "create function public.s() returns int language sql as $$ select 1 $$;\n",
  });
  assert.deepEqual(plpgsqlCheckSkipped([triggerAndSql], "no extension"), []);
});

/** A session that answers the module's three queries from canned rows, recording the SQL. */
function fakeSession(answers: { extension?: string; results?: unknown[]; fail?: boolean }) {
  const seen: string[] = [];
  return {
    seen,
    query<T>(sql: string): Promise<T[]> {
      seen.push(sql);
      if (answers.fail) {
        return Promise.reject(new ShadowSqlError({ message: "function is not unique" }));
      }
      if (sql.includes("pg_extension")) {
        return Promise.resolve(
          (answers.extension ? [{ schema: answers.extension }] : []) as T[],
        );
      }
      if (sql.includes("pg_depend")) return Promise.resolve([{ nspname: "public" }] as T[]);
      return Promise.resolve((answers.results ?? []) as T[]);
    },
  };
}

Deno.test("through a session: the CLI's query, qualified by the extension's schema", async () => {
  const session = fakeSession({
    extension: "extensions",
    results: [
      {
        schema: "public",
        name: "f",
        result: JSON.stringify({
          function: "16385",
          issues: [{ level: "error", message: "e" }, { level: "performance", message: "p" }],
        }),
      },
      { schema: "public", name: "g", result: '{ "function":"16386",\n"issues":[]}' },
    ],
  });
  const run = await runPlpgsqlCheck(session);
  assert.deepEqual(run, {
    available: true,
    results: [{ function: "public.f", issues: [{ level: "error", message: "e" }] }],
  });
  assert.match(
    session.seen[2],
    /"extensions"\.plpgsql_check_function\(p\.oid::regprocedure, format := .json.\)/,
  );
  assert.match(session.seen[2], /p\.prorettype <> 2279/);
});

Deno.test("through a session: no extension, or a failing check, is 'not available'", async () => {
  const none = await runPlpgsqlCheck(fakeSession({}));
  assert.equal(none.available, false);
  const failed = await runPlpgsqlCheck(fakeSession({ fail: true }));
  assert.deepEqual(failed, {
    available: false,
    reason: "plpgsql_check failed: function is not unique",
  });
});
