/**
 * Attack suite, delivered code (issue 12 §5): function sources a user posts to `/validate` or a
 * steered model delivers try to make `deno check` read files of the server — the process's
 * environment (`/proc/<pid>/environ`: JWT secret, service key), `/etc/passwd`, a file planted
 * beside the submission — through every way a specifier reaches Deno. Each attempt must come back
 * as `import_not_allowed`, with nothing of the host file in any finding, and without `deno check`
 * running at all (it never gets a temporary folder). The same boundary must leave real functions
 * alone: files importing each other and npm packages still type-check, also from an empty cache.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import type { Finding } from "../../shared/validation/finding.ts";
import { type FunctionFile, typecheckFunctions } from "../../shared/validation/typecheck.ts";

/** A file of the server that no answer may quote, with a line Deno would show in a snippet. */
const host = await Deno.makeTempDir({ prefix: "bt_host_" });
const CANARY = `BT-CANARY-${crypto.randomUUID()}`;
const SECRET_FILE = join(host, "secret.ts");
await Deno.writeTextFile(
  SECRET_FILE,
  `export const k = 1;\n${CANARY} is a line that never parses\n`,
);
const SECRET_URL = `file://${SECRET_FILE}`;

/** What the server holds that must never appear in a finding. */
async function hostSecrets(): Promise<string[]> {
  const environ = await Deno.readTextFile(`/proc/${Deno.pid}/environ`).catch(() => "");
  const passwd = await Deno.readTextFile("/etc/passwd").catch(() => "");
  return [
    CANARY,
    ...environ.split("\0").filter((entry) => entry.length >= 12),
    ...passwd.split("\n").filter((line) => line.length >= 12),
  ];
}
const SECRETS = await hostSecrets();

/**
 * Type-checks `files` with its temporary folders made under an empty, watched folder: `deno check`
 * runs only in a temporary folder of its own, so one created there means it ran. (Not by setting
 * TMPDIR: the environment is shared by every test module running in parallel.)
 */
async function check(
  files: FunctionFile[],
): Promise<{ findings: Finding[]; ranDenoCheck: boolean }> {
  const tmp = await Deno.makeTempDir({ prefix: "bt_watch_" });
  const created: string[] = [];
  const watcher = Deno.watchFs(tmp);
  const watching = (async () => {
    for await (const event of watcher) created.push(...event.paths);
  })();
  try {
    const findings = await typecheckFunctions(files, { tempDir: tmp });
    await new Promise((resolve) => setTimeout(resolve, 50));
    return { findings, ranDenoCheck: created.length > 0 };
  } finally {
    watcher.close();
    await watching;
    await Deno.remove(tmp, { recursive: true });
  }
}

/** No finding quotes the host; the attacker's own specifier may be quoted back, it is theirs. */
function assertNothingLeaks(findings: Finding[]): void {
  const text = JSON.stringify(findings);
  for (const secret of SECRETS) {
    assert.ok(!text.includes(secret), `a finding quotes the host: ${secret.slice(0, 40)}…`);
  }
}

async function assertRefused(files: FunctionFile[], line = 1): Promise<void> {
  const { findings, ranDenoCheck } = await check(files);
  assertNothingLeaks(findings);
  assert.equal(ranDenoCheck, false, "deno check ran on a submission with an escaping import");
  const refused = findings.filter((f) => f.rule === "import_not_allowed");
  assert.ok(refused.length > 0, `not refused: ${JSON.stringify(findings)}`);
  assert.equal(refused[0].level, "error");
  assert.equal(refused[0].file, files[0].name);
  assert.equal(refused[0].line, line);
}

const fn = (source: string, name = "attack/index.ts"): FunctionFile[] => [{ name, source }];

Deno.test("importing file:///proc/self/environ is refused and nothing of it is read", async () => {
  await assertRefused(fn(`import "file:///proc/self/environ";\n`));
});

Deno.test("importing the server process's own environ file is refused", async () => {
  await assertRefused(
    fn(`import env from "file:///proc/${Deno.pid}/environ";\nconsole.log(env);\n`),
  );
});

Deno.test("importing /etc/passwd by absolute path is refused", async () => {
  await assertRefused(fn(`import x from "/etc/passwd";\nconsole.log(x);\n`));
});

Deno.test("importing ../../../../etc/passwd out of the submission is refused", async () => {
  await assertRefused(fn(`import "../../../../etc/passwd";\n`));
});

Deno.test("importing a remote https URL is refused", async () => {
  await assertRefused(fn(`import "https://example.com/x.ts";\n`));
});

Deno.test("a reference path directive to an absolute host file is refused", async () => {
  await assertRefused(fn(`/// <reference path="${SECRET_FILE}" />\nexport {};\n`));
});

Deno.test("a @deno-types comment pointing at a host file is refused", async () => {
  await assertRefused(fn(`// @deno-types="${SECRET_FILE}"\nimport * as z from "npm:zod@4.6.7";\n`));
});

Deno.test("a @ts-types comment pointing at a host file is refused", async () => {
  await assertRefused(fn(`// @ts-types="${SECRET_URL}"\nimport * as z from "npm:zod@4.6.7";\n`));
});

Deno.test("import type, export-from and import-equals of a host file are refused", async () => {
  await assertRefused(fn(`import type { K } from "${SECRET_URL}";\nexport type { K };\n`));
  await assertRefused(fn(`export * from "${SECRET_FILE}";\n`));
  await assertRefused(fn(`import k = require("${SECRET_FILE}");\nexport { k };\n`));
  await assertRefused(fn(`type T = typeof import("${SECRET_URL}");\nexport type { T };\n`));
});

Deno.test("a dynamic import of a host file, literal or computed, is refused", async () => {
  await assertRefused(fn(`export const m = await import("${SECRET_URL}");\n`));
  await assertRefused(
    fn(`const dir = "${host}";\nexport const m = await import(\`\${dir}/secret.ts\`);\n`),
    2,
  );
});

Deno.test("a module augmentation naming a host file is refused", async () => {
  await assertRefused(
    fn(`export {};\ndeclare module "${SECRET_URL}" { export const q: number; }\n`),
    2,
  );
});

Deno.test("JSDoc import types and @ts-self-types in a JavaScript file are refused", async () => {
  await assertRefused(
    fn(`/** @type {import("${SECRET_FILE}").K} */\nexport const a = 1;\n`, "attack/index.js"),
  );
  await assertRefused(
    fn(`// @ts-self-types="${SECRET_FILE}"\nexport const a = 1;\n`, "attack/index.js"),
  );
});

Deno.test("a @jsxImportSource pragma pointing at a host folder is refused", async () => {
  await assertRefused(
    fn(
      `/** @jsxImportSource file://${host} */\nexport const A = () => <div />;\n`,
      "attack/index.tsx",
    ),
  );
});

Deno.test("data: URLs, unmapped bare names and files not submitted are refused", async () => {
  await assertRefused(fn(`import "data:application/typescript,export {}";\n`));
  await assertRefused(fn(`import _ from "lodash";\nconsole.log(_);\n`));
  await assertRefused(fn(`import { x } from "./not_submitted.ts";\nconsole.log(x);\n`));
});

Deno.test("one escaping file keeps deno check off the whole submission", async () => {
  await assertRefused([
    { name: "attack/index.ts", source: `import "./ok.ts";\nimport "${SECRET_URL}";\n` },
    { name: "attack/ok.ts", source: "export const ok = 1;\n" },
  ], 2);
});

Deno.test("a file name leaving the functions folder is refused before anything is written", async () => {
  const { findings, ranDenoCheck } = await check(fn("export {};\n", "../../../tmp/evil.ts"));
  assert.equal(ranDenoCheck, false);
  assert.equal(findings.length, 1);
  assert.equal(findings[0].rule, "typecheck_error");
});

const CORS = `import type { Handler } from "../notes/index.ts";
export const corsHeaders = { "Access-Control-Allow-Origin": "*" };
export function withCors(handler: Handler): Handler {
  return async (req) => {
    const res = await handler(req);
    for (const [k, v] of Object.entries(corsHeaders)) res.headers.set(k, v);
    return res;
  };
}
`;
const NOTES = `import { z } from "npm:zod@4.6.7";
import "jsr:@supabase/functions-js/edge-runtime.d.ts";
import { withCors } from "../_shared/cors.ts";
export type Handler = (req: Request) => Promise<Response>;
const Body = z.object({ title: z.string().min(1) });
export const handle: Handler = withCors(async (req) => {
  const body = Body.parse(await req.json());
  return Response.json({ title: body.title.trim() });
});
`;

Deno.test("two submitted files importing each other plus an npm package still type-check", async () => {
  const { findings, ranDenoCheck } = await check([
    { name: "notes/index.ts", source: NOTES },
    { name: "_shared/cors.ts", source: CORS },
  ]);
  assert.deepEqual(findings, []);
  assert.equal(ranDenoCheck, true);
});

Deno.test("a type error in a submitted file is still reported at its line", async () => {
  const { findings } = await check([
    { name: "notes/index.ts", source: NOTES + "export const n: number = 'x';\n" },
    { name: "_shared/cors.ts", source: CORS },
  ]);
  assert.deepEqual(findings.map((f) => [f.rule, f.file, f.line]), [
    ["typecheck_error", "notes/index.ts", 10],
  ]);
  assertNothingLeaks(findings);
});

Deno.test("a delivered function's npm package downloads into an empty Deno cache", async () => {
  // The child gets this machine's certificates and proxies; without them it cannot download.
  const cache = await Deno.makeTempDir({ prefix: "bt_deno_dir_" });
  try {
    const findings = await typecheckFunctions(
      fn(
        `import { parse } from "npm:smol-toml@1.9.1";\nexport const v: unknown = parse("a = 1");\n`,
        "toml/index.ts",
      ),
      { denoDir: cache },
    );
    assert.deepEqual(findings, []);
  } finally {
    await Deno.remove(cache, { recursive: true });
  }
});

globalThis.addEventListener("unload", () => {
  Deno.removeSync(host, { recursive: true });
});
