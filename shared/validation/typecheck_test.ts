import assert from "node:assert/strict";
import {
  importEscapes,
  type ImportPolicy,
  importRefusal,
  importSites,
  parseDiagnostics,
  redactPaths,
  typecheckChildEnv,
  typecheckImportMap,
} from "./typecheck.ts";

const POLICY: ImportPolicy = {
  files: new Set(["notes/index.ts", "notes/handler.ts", "_shared/cors.ts"]),
  importMap: {
    zod: "npm:zod@4.6.7",
    hono: "npm:hono@4.13.19",
    "hono/": "npm:/hono@4.13.19/",
  },
};

async function specifiers(name: string, source: string): Promise<(string | null)[]> {
  const sites = await importSites(name, source);
  assert.ok(Array.isArray(sites), JSON.stringify(sites));
  return sites.map((s) => s.specifier);
}

Deno.test("deno check diagnostics become findings in the submitted file and line", () => {
  const output = `TS2322 [ERROR]: Type 'number' is not assignable to type 'string'.
  const length: string = body.title.length;
        ~~~~~~
    at file:///tmp/bt_typecheck_x/notes/index.ts:7:9

TS2304 [ERROR]: Cannot find name 'nope'.
nope();
~~~~
    at file:///tmp/bt_typecheck_x/notes/index.ts:9:1

error: Type checking failed.`;
  const source = "1\n2\n3\n4\n5\n6\n  const length: string = body.title.length;\n8\nnope();";
  const found = parseDiagnostics(output, "/tmp/bt_typecheck_x", [
    { name: "notes/index.ts", source },
  ]);
  assert.deepEqual(found.map((f) => [f.rule, f.file, f.line, f.statement]), [
    ["typecheck_error", "notes/index.ts", 7, "const length: string = body.title.length;"],
    ["typecheck_error", "notes/index.ts", 9, "nope();"],
  ]);
  assert.match(found[0].message, /^TS2322: Type 'number' is not assignable/);
});

Deno.test("a diagnostic located in a file that was not submitted is dropped with its snippet", () => {
  const output = `TS1005 [ERROR]: ';' expected.
root:x:0:0:root:/root:/bin/bash
        ~
    at file:///etc/passwd:1:9

TS2307 [ERROR]: Cannot find module 'file:///tmp/bt/functions/notes/gone.ts'.
    at file:///tmp/bt/functions/notes/index.ts:1:8`;
  const files = [{ name: "notes/index.ts", source: 'import "./gone.ts";' }];
  const found = parseDiagnostics(output, "/tmp/bt/functions", files);
  assert.equal(found.length, 1);
  assert.equal(found[0].file, "notes/index.ts");
  assert.equal(found[0].message, "TS2307: Cannot find module '<file outside the submission>'.");
  assert.doesNotMatch(JSON.stringify(found), /root:x|passwd|\/tmp\/bt/);
});

Deno.test("server paths in a message become submitted names or placeholders", () => {
  const files = [{ name: "fn/index.ts", source: "" }];
  assert.equal(
    redactPaths(
      "at file:///tmp/d/functions/fn/index.ts:3:1, from file:///root/.cache/deno/npm/x.d.ts, " +
        "via https://registry.internal:4873/zod",
      "/tmp/d/functions",
      files,
    ),
    "at fn/index.ts:3:1, from <file outside the submission>, via <url>",
  );
});

Deno.test("the deno check child gets the cache, registry, certificates and proxies, and no secret", () => {
  const parent: Record<string, string> = {
    HOME: "/home/u",
    PATH: "/usr/bin",
    DENO_DIR: "/cache/deno",
    SSL_CERT_FILE: "/etc/ssl/ca.pem",
    SSL_CERT_DIR: "/etc/ssl/certs",
    DENO_CERT: "/etc/ssl/extra.pem",
    DENO_TLS_CA_STORE: "system",
    HTTPS_PROXY: "http://proxy:3128",
    https_proxy: "http://proxy:3128",
    HTTP_PROXY: "http://proxy:3128",
    NO_PROXY: "localhost",
    no_proxy: "localhost",
    NPM_CONFIG_REGISTRY: "https://registry.npmjs.org/",
    SUPABASE_SERVICE_ROLE_KEY: "service-role",
    JWT_SECRET: "jwt-secret",
    DATABASE_URL: "postgresql://postgres:pw@db/postgres",
    DENO_AUTH_TOKENS: "token@host",
    OPENAI_API_KEY: "sk-x",
    BT_WORKER_SECRET: "worker",
  };
  const env = typecheckChildEnv((name) => parent[name]);
  for (
    const name of [
      "SSL_CERT_FILE",
      "SSL_CERT_DIR",
      "DENO_CERT",
      "DENO_TLS_CA_STORE",
      "HTTPS_PROXY",
      "https_proxy",
      "HTTP_PROXY",
      "NO_PROXY",
      "no_proxy",
      "DENO_DIR",
      "HOME",
      "PATH",
      "NPM_CONFIG_REGISTRY",
    ]
  ) assert.equal(env[name], parent[name], name);
  for (
    const name of [
      "SUPABASE_SERVICE_ROLE_KEY",
      "JWT_SECRET",
      "DATABASE_URL",
      "DENO_AUTH_TOKENS",
      "OPENAI_API_KEY",
      "BT_WORKER_SECRET",
    ]
  ) assert.equal(env[name], undefined, name);
  assert.equal(env.DENO_NO_PACKAGE_JSON, "1");
});

Deno.test("relative imports of submitted files, packages, built-ins and mapped names are allowed", () => {
  for (
    const spec of [
      "./handler.ts",
      "../_shared/cors.ts",
      "npm:@supabase/supabase-js@2.119.1",
      "npm:zod@4.6.7",
      "npm:/hono@4.13.19/cors",
      "jsr:@supabase/functions-js/edge-runtime.d.ts",
      "jsr:@std/assert@1",
      "node:crypto",
      "node:fs/promises",
      "zod",
      "hono",
      "hono/cors",
    ]
  ) assert.equal(importRefusal(spec, "notes/index.ts", POLICY), null, spec);
});

Deno.test("file URLs, absolute and escaping paths, remote URLs and unmapped names are refused", () => {
  const refused: Record<string, RegExp> = {
    "file:///proc/self/environ": /file: URL/,
    "FILE:///etc/passwd": /file: URL/,
    "/etc/passwd": /absolute path/,
    "../../../../etc/passwd": /out of the submission/,
    "../../x.ts": /out of the submission/,
    "./missing.ts": /not part of the submission/,
    "./handler": /not part of the submission/,
    "./%2e%2e/%2e%2e/etc/passwd": /unexpected characters/,
    "./handler.ts?x": /unexpected characters/,
    "https://example.com/x.ts": /https: URL/,
    "http://127.0.0.1/x.ts": /http: URL/,
    "data:application/typescript,export {}": /data: URL/,
    "blob:https://x/y": /blob: URL/,
    " file:///etc/passwd": /not in the import map/,
    "lodash": /not in the import map/,
    "hono/../../../etc/passwd": /mapped outside/,
    "npm:hono@4/../../etc/passwd": /malformed package/,
    "npm:x@file:../../etc": /malformed package/,
    "jsr:@std/path@1/../../x": /malformed package/,
    "node:../../etc/passwd": /malformed node/,
  };
  for (const [spec, why] of Object.entries(refused)) {
    assert.match(importRefusal(spec, "notes/index.ts", POLICY) ?? "allowed", why, spec);
  }
});

Deno.test("every way a TypeScript file names a module is found", async () => {
  const source = `/// <reference path="./a.d.ts" />
/// <reference types="npm:@types/b" />
/// <reference lib="deno.ns" />
// @deno-types="./c.d.ts"
import c from "npm:c@1";
// @ts-types='./d.d.ts'
import type { D } from "d";
export * from "./e.ts";
export { f } from "./f.ts";
import g = require("./g.ts");
type H = typeof import("./h.ts");
const i = await import("./i.ts");
const j = await import(\`./j.ts\`);
const k = await import(name);
declare module "./l.ts" { export const l: number; }
/** @type {import("./m.ts").M} */
const n = require("./n.ts");
import o from "./o.json" with { type: "json" };
`;
  assert.deepEqual((await specifiers("fn/index.ts", source)).sort(bySpecifier), [
    "./a.d.ts",
    "./c.d.ts",
    "./d.d.ts",
    "./e.ts",
    "./f.ts",
    "./g.ts",
    "./h.ts",
    "./i.ts",
    "./j.ts",
    "./l.ts",
    "./m.ts",
    "./n.ts",
    "./o.json",
    "d",
    "npm:@types/b",
    "npm:c@1",
    null,
  ]);
});

function bySpecifier(a: string | null, b: string | null): number {
  const [x, y] = [String(a), String(b)];
  return x < y ? -1 : x > y ? 1 : 0;
}

Deno.test("JSX import sources, self types and JSDoc imports are found in their comments", async () => {
  const tsx = `/** @jsxImportSource npm:preact@10 */
export const App = () => <div />;`;
  assert.deepEqual(await specifiers("fn/app.tsx", tsx), ["npm:preact@10/jsx-runtime"]);
  const js = `// @ts-self-types="./types.d.ts"
/** @import { X } from "./x.ts" */
/** @param {import('./y.ts').Y} y */
export function f(y) { return y; }`;
  assert.deepEqual((await specifiers("fn/lib.js", js)).sort(bySpecifier), [
    "./types.d.ts",
    "./x.ts",
    "./y.ts",
  ]);
});

Deno.test("every path and types of one reference directive is found", async () => {
  const source = `/// <reference types="npm:@types/x" path="/etc/passwd" />\nexport {};`;
  assert.deepEqual((await specifiers("fn/index.ts", source)).sort(bySpecifier), [
    "/etc/passwd",
    "npm:@types/x",
  ]);
});

Deno.test("a relative path is resolved as on disk, so leaving and re-entering the folder is exact", () => {
  assert.equal(importRefusal("../submission/notes/handler.ts", "index.ts", POLICY), null);
  assert.match(importRefusal("../functions/notes/handler.ts", "index.ts", POLICY) ?? "", /out of/);
  assert.match(importRefusal("../deno.json", "notes/index.ts", POLICY) ?? "", /not part of/);
});

Deno.test("a directive whose target cannot be read is reported, not skipped", async () => {
  const sites = await importSites("fn/index.ts", "// @deno-types\nexport {};");
  assert.ok(Array.isArray(sites));
  assert.deepEqual(sites.map((s) => [s.specifier, s.line]), [[null, 1]]);
});

Deno.test("a file that does not parse is reported with its line, not scanned", async () => {
  const result = await importSites("fn/index.ts", "const ok = 1;\nconst = 2;\n");
  assert.ok(!Array.isArray(result));
  assert.equal(result.line, 2);
});

Deno.test("decorators of either kind, using, satisfies and .d.ts files parse", async () => {
  for (
    const [name, source] of [
      ["a.ts", "class A { constructor(@Inject() x: number) {} }"],
      ["b.ts", "@dec class B { accessor q = 1 }"],
      ["c.ts", "{ using x = f(); } const y = {} satisfies object; enum E { A }"],
      ["d.d.ts", "export declare function f(): void;\ndeclare global { var x: number }"],
    ]
  ) assert.ok(Array.isArray(await importSites(name, source)), name);
});

Deno.test("the generated import map holds only the product's npm packages", async () => {
  const map = await typecheckImportMap();
  assert.match(map.zod ?? "", /^npm:zod@\d/);
  for (const value of Object.values(map)) assert.match(value, /^npm:/);
});

Deno.test("a file naming thousands of refused modules gets a bounded list, quickly", async () => {
  const source = 'import "/etc/passwd";\n'.repeat(5000) +
    "/* " + 'import("/etc/shadow") '.repeat(5000) + "*/\n";
  const started = performance.now();
  const found = await importEscapes([{ name: "fn/index.ts", source }], POLICY.importMap);
  assert.ok(performance.now() - started < 5_000);
  assert.equal(found.length, 101);
  assert.equal(found[100].message, "9900 more like the above were not listed");
});

Deno.test("a name declared twice is left to deno check, not refused as unparsable", async () => {
  const sites = await importSites(
    "fn/index.ts",
    'import "npm:zod@4";\nconst a = 1;\nconst a = 2;\n',
  );
  assert.deepEqual(Array.isArray(sites) ? sites.map((s) => s.specifier) : sites, ["npm:zod@4"]);
});
