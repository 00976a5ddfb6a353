import assert from "node:assert/strict";
import { parseCliArgs, UsageError } from "./args.ts";

const ID = "6f1c2a4e-8b3d-4c5e-9f10-1a2b3c4d5e6f";

Deno.test("submit takes the request, follow, out, context file and limits", () => {
  assert.deepEqual(
    parseCliArgs([
      "submit",
      "A todo API",
      "--follow",
      "--out",
      "out/todo",
      "--context-file",
      "schema.sql",
      "--max-parallel",
      "3",
      "--budget",
      "50000",
    ]),
    {
      name: "submit",
      request: "A todo API",
      follow: true,
      out: "out/todo",
      contextFile: "schema.sql",
      maxParallel: 3,
      budget: 50000,
      auth: {},
    },
  );
});

Deno.test("limits outside what the API accepts are usage errors, before any request", () => {
  assert.throws(() => parseCliArgs(["submit", "x", "--budget", "10"]), UsageError);
  assert.throws(() => parseCliArgs(["submit", "x", "--max-parallel", "17"]), UsageError);
  assert.throws(() => parseCliArgs(["submit", "x", "--max-parallel", "two"]), /whole number/);
});

Deno.test("an unquoted request (several words as arguments) is refused with a hint to quote it", () => {
  assert.throws(() => parseCliArgs(["submit", "A", "todo", "API"]), /quote the request/);
  assert.throws(() => parseCliArgs(["submit", "   "]), /blank/);
});

Deno.test("answer collects repeated --answer flags and refuses ones without '='", () => {
  const command = parseCliArgs(["answer", ID, "-a", "a=1", "--answer", "b=x=y"]);
  assert.equal(command.name, "answer");
  assert.deepEqual(command.name === "answer" && command.answers, ["a=1", "b=x=y"]);
  assert.throws(() => parseCliArgs(["answer", ID, "--answer", "novalue"]), /<question id>=<value>/);
});

Deno.test("a run id that is not a UUID is a usage error", () => {
  assert.throws(() => parseCliArgs(["status", "123"]), /not a run id/);
  assert.throws(() => parseCliArgs(["cancel"]), /missing the run id/);
});

Deno.test("deliverable needs --out and a known format", () => {
  assert.deepEqual(parseCliArgs(["deliverable", ID, "--out", "d"]), {
    name: "deliverable",
    runId: ID,
    out: "d",
    format: "json",
    auth: {},
  });
  assert.throws(() => parseCliArgs(["deliverable", ID]), /--out DIR is required/);
  assert.throws(() => parseCliArgs(["deliverable", ID, "--out", "d", "--format", "zip"]), /format/);
});

Deno.test("validate takes files and a shadow backend", () => {
  assert.deepEqual(parseCliArgs(["validate", "a.sql", "b.sql", "--json", "--shadow", "postgres"]), {
    name: "validate",
    files: ["a.sql", "b.sql"],
    json: true,
    shadow: "postgres",
    auth: {},
  });
  assert.throws(() => parseCliArgs(["validate"]), /at least one SQL file/);
  assert.throws(() => parseCliArgs(["validate", "a.sql", "--shadow", "mysql"]), /--shadow/);
});

Deno.test("--token and --user are accepted on every API command, but not both", () => {
  const status = parseCliArgs(["status", ID, "--user", "ada@example.com"]);
  assert.deepEqual(status.name === "status" && status.auth, { user: "ada@example.com" });
  assert.throws(() => parseCliArgs(["status", ID, "--user", "a@b.c", "--token", "t"]), /not both/);
  assert.throws(() => parseCliArgs(["login"]), /--user/);
});

Deno.test("unknown commands and flags are usage errors; no command or --help is help", () => {
  assert.throws(() => parseCliArgs(["deploy"]), /unknown command/);
  assert.throws(() => parseCliArgs(["status", ID, "--verbose"]), UsageError);
  assert.deepEqual(parseCliArgs([]), { name: "help" });
  assert.deepEqual(parseCliArgs(["submit", "--help"]), { name: "help" });
});
