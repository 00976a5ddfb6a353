/**
 * Type-checks edge function source the way Supabase would bundle it, without letting the source
 * reach anything on the server. Delivered code is untrusted, and `deno check` reads whatever a
 * module names (`file:` URLs, absolute paths, `..`, remote URLs, `@deno-types`, `/// <reference>`)
 * and quotes it back in its diagnostics, so the check runs in three steps:
 *
 * 1. Every specifier a submitted file can hand to Deno is found with a real parser
 *    (`@babel/parser`, loaded on first use: a few MB, against ~50 MB for TypeScript's own) and its
 *    comments: static imports and re-exports, `import type`, `import x = require()`, type-level
 *    `import("…")`, dynamic `import()`, `require("…")`, `/// <reference path|types>`,
 *    `@deno-types`/`@ts-types`/`@ts-self-types`, `@jsxImportSource[Types]` and JSDoc imports.
 *    Allowed: a relative path to another submitted file, `npm:`/`jsr:` packages, `node:`
 *    built-ins, and bare names of this repository's import map. Anything else is an
 *    `import_not_allowed` finding, and `deno check` does not run at all for that submission, so
 *    nothing it names is ever read.
 * 2. The files are written to a temporary folder beside a generated `deno.json` (the product's
 *    pinned npm imports; Supabase's `edge-runtime.d.ts` mapped to a local declaration of
 *    `EdgeRuntime`, since JSR may not be reachable) and `deno check` runs with a cleared
 *    environment that keeps only what it needs to reach the npm registry: its cache, the registry,
 *    certificates and proxies — no keys or tokens.
 * 3. Diagnostics become `typecheck_error` findings only when they are located in a submitted file;
 *    paths of the server are redacted from every message, and source lines are quoted from the
 *    submission itself, never from Deno's output.
 *
 * Where this process may not start subprocesses (Supabase Edge Runtime, `--deny-run` as in the
 * local host's hosted-limits mode) step 1 still runs, and step 2 is replaced by one
 * `typecheck_not_run` info finding per submission saying what was not checked and where it can be.
 *
 * @example
 * ```ts
 * const findings = await typecheckFunctions([{ name: "hello/index.ts", source }]);
 * ```
 */
import { join } from "node:path";
import { z } from "zod";
import type { ParserPlugin } from "@babel/parser";
import { type Finding, finding } from "./finding.ts";
import { DENO_CHILD_ENV, denoChildEnv } from "../config/child_env.ts";
import { canSpawnProcesses } from "../shadow/mod.ts";
// The import map ships with every deploy (config.toml's import_map): a module, not a file read.
import denoConfig from "../../deno.json" with { type: "json" };

/** One edge function source file. */
export const FunctionFile = z.object({
  /** Path relative to the functions folder, e.g. `hello/index.ts`. */
  name: z.string().min(1).max(200).regex(
    /^(?!\/)(?!.*\.\.)[A-Za-z0-9_\-./]+\.(ts|tsx|mts|js|mjs)$/,
    "must be a relative .ts/.js path without ..",
  ),
  source: z.string().max(512 * 1024),
});
export type FunctionFile = z.infer<typeof FunctionFile>;

const EDGE_RUNTIME_TYPES = `
declare namespace EdgeRuntime {
  function waitUntil(promise: Promise<unknown>): void;
}
`;

// Supabase's runtime types, which the generated `deno.json` maps to a local declaration.
const EDGE_RUNTIME_SPECIFIER = "jsr:@supabase/functions-js/edge-runtime.d.ts";

/** The variables the `deno check` child gets from this process (see `shared/config/child_env.ts`). */
export const TYPECHECK_CHILD_ENV = DENO_CHILD_ENV;

/**
 * The environment of the `deno check` child: {@link TYPECHECK_CHILD_ENV} taken from `source`,
 * plus settings that keep Deno from reading anything but the generated config (no `package.json`
 * discovery).
 *
 * @example
 * ```ts
 * const env = typecheckChildEnv((name) => Deno.env.get(name));
 * ```
 */
export function typecheckChildEnv(
  source: (name: string) => string | undefined,
): Record<string, string> {
  return { ...denoChildEnv(source), DENO_NO_PACKAGE_JSON: "1" };
}

// ---------------------------------------------------------------------------------------------
// Which specifiers a submission may use.

// `npm:` and `jsr:` specifiers as Deno parses them: optional leading slash, package name, optional
// version requirement, optional subpath. Only characters that can appear there; no `..` segments
// (checked separately), no `%` escapes, no whitespace, no `:`.
const NPM_SPECIFIER =
  /^npm:\/?(?:@[A-Za-z0-9~-][A-Za-z0-9._~-]*\/)?[A-Za-z0-9~-][A-Za-z0-9._~-]*(?:@[A-Za-z0-9.^~<>=*|+-]+)?(?:\/[A-Za-z0-9._@+~-]+)*\/?$/;
const JSR_SPECIFIER =
  /^jsr:\/?@[a-z0-9_-]+\/[a-z0-9_-]+(?:@[A-Za-z0-9.^~<>=*|+-]+)?(?:\/[A-Za-z0-9._@+~-]+)*\/?$/;
const NODE_SPECIFIER = /^node:[a-z_]+(?:\/[a-z_]+)*$/;
const RELATIVE_SPECIFIER = /^\.\.?\/[A-Za-z0-9_\-./]*$/;
// Specifiers are resolved against this root, named like the folder the files are written to, so
// that `..` leaves (or re-enters) it exactly as it would on disk.
const SUBMISSION_DIR = "submission";
const SUBMISSION_ROOT = `file:///${SUBMISSION_DIR}/`;

function hasDotSegment(specifier: string): boolean {
  return specifier.split("/").some((s) => s === "." || s === "..");
}

/**
 * True for an `npm:` or `jsr:` specifier Deno fetches from its registry, and nothing else (no
 * `..` in a subpath, no escapes, no `file:` version). Pure.
 *
 * @example
 * ```ts
 * isPackageSpecifier("npm:zod@4.6.7"); // true
 * isPackageSpecifier("npm:x@1/../../etc/passwd"); // false
 * ```
 */
export function isPackageSpecifier(specifier: string): boolean {
  if (!NPM_SPECIFIER.test(specifier) && !JSR_SPECIFIER.test(specifier)) return false;
  return !hasDotSegment(specifier.slice(4));
}

function submissionPath(name: string): string | null {
  try {
    const url = new URL(name, SUBMISSION_ROOT);
    return url.href.startsWith(SUBMISSION_ROOT) ? url.href.slice(SUBMISSION_ROOT.length) : null;
  } catch {
    return null;
  }
}

/** What a submission's specifiers are checked against. */
export interface ImportPolicy {
  /** The submitted files, by their normalized path (`hello/index.ts`). */
  files: ReadonlySet<string>;
  /** The import map of the generated `deno.json` (keys to `npm:`/`jsr:` specifiers). */
  importMap: Readonly<Record<string, string>>;
}

/**
 * Why `specifier`, written in the submitted file `from`, may not be used — or null when it may:
 * a relative path to another submitted file, an `npm:`/`jsr:` package, a `node:` built-in (part
 * of Deno; nothing is read from disk for it), or a bare name of the import map. Pure.
 *
 * @example
 * ```ts
 * importRefusal("file:///etc/passwd", "fn/index.ts", policy); // "a file: URL …"
 * importRefusal("./util.ts", "fn/index.ts", policy); // null when fn/util.ts was submitted
 * ```
 */
export function importRefusal(
  specifier: string,
  from: string,
  policy: ImportPolicy,
): string | null {
  if (specifier.startsWith("npm:") || specifier.startsWith("jsr:")) {
    return isPackageSpecifier(specifier) ? null : "a malformed package specifier";
  }
  if (specifier.startsWith("node:")) {
    return NODE_SPECIFIER.test(specifier) ? null : "a malformed node: specifier";
  }
  if (specifier.startsWith("./") || specifier.startsWith("../")) {
    if (!RELATIVE_SPECIFIER.test(specifier)) return "a relative path with unexpected characters";
    const base = submissionPath(from);
    if (base === null) return "a relative path from a file outside the submission";
    let target: string | null;
    try {
      const url = new URL(specifier, SUBMISSION_ROOT + base);
      target = url.href.startsWith(SUBMISSION_ROOT) ? url.href.slice(SUBMISSION_ROOT.length) : null;
    } catch {
      target = null;
    }
    if (target === null) return "a relative path leading out of the submission";
    if (!policy.files.has(target)) return `a file that is not part of the submission (${target})`;
    return null;
  }
  if (/^[A-Za-z][A-Za-z0-9+.-]*:/.test(specifier)) {
    const scheme = specifier.slice(0, specifier.indexOf(":") + 1).toLowerCase();
    return `a ${scheme} URL`;
  }
  if (specifier.startsWith("/") || specifier.startsWith("\\")) return "an absolute path";
  const mapped = mapBare(specifier, policy.importMap);
  if (mapped === null) return "a bare specifier that is not in the import map";
  return isPackageSpecifier(mapped) ? null : "a bare specifier mapped outside npm/jsr";
}

function mapBare(specifier: string, importMap: Readonly<Record<string, string>>): string | null {
  const exact = importMap[specifier];
  if (exact !== undefined) return exact;
  let best: string | null = null;
  for (const key of Object.keys(importMap)) {
    if (
      key.endsWith("/") && specifier.startsWith(key) && (best === null || key.length > best.length)
    ) {
      best = key;
    }
  }
  if (best === null) return null;
  return importMap[best] + specifier.slice(best.length);
}

// ---------------------------------------------------------------------------------------------
// Finding every specifier in a file.

/** One place a submitted file hands Deno a module specifier. */
export interface ImportSite {
  /** The specifier, or null when it is computed at run time (a dynamic `import(expr)`). */
  specifier: string | null;
  /** What names it: `import`, `dynamic import`, `reference path`, `@deno-types`, … */
  via: string;
  /** 1-based line in the file. */
  line: number;
}

interface AstNode {
  type: string;
  loc?: { start: { line: number } } | null;
  [key: string]: unknown;
}

function isAstNode(value: unknown): value is AstNode {
  return typeof value === "object" && value !== null && !Array.isArray(value) &&
    typeof (value as { type?: unknown }).type === "string";
}

function lineOf(node: AstNode): number {
  return node.loc?.start.line ?? 1;
}

/** The value of a string literal, or of a template literal without substitutions. */
function literalValue(value: unknown): string | null {
  if (!isAstNode(value)) return null;
  if (value.type === "StringLiteral" && typeof value.value === "string") return value.value;
  if (value.type === "TSLiteralType") return literalValue(value.literal);
  if (value.type === "TemplateLiteral") {
    const expressions = value.expressions;
    const quasis = value.quasis;
    if (!Array.isArray(expressions) || expressions.length > 0) return null;
    if (!Array.isArray(quasis) || quasis.length !== 1) return null;
    const element: unknown = quasis[0];
    if (!isAstNode(element)) return null;
    const cooked = (element.value as { cooked?: unknown } | undefined)?.cooked;
    return typeof cooked === "string" ? cooked : null;
  }
  return null;
}

// AST keys that never hold code.
const SKIPPED_KEYS = new Set([
  "loc",
  "start",
  "end",
  "range",
  "extra",
  "comments",
  "leadingComments",
  "trailingComments",
  "innerComments",
  "errors",
  "tokens",
]);

function* children(node: AstNode): Generator<AstNode> {
  for (const [key, value] of Object.entries(node)) {
    if (SKIPPED_KEYS.has(key)) continue;
    if (Array.isArray(value)) {
      for (const item of value) if (isAstNode(item)) yield item;
    } else if (isAstNode(value)) {
      yield value;
    }
  }
}

function codeSites(program: AstNode): ImportSite[] {
  const sites: ImportSite[] = [];
  const add = (node: AstNode, value: unknown, via: string, literalOnly = false) => {
    const specifier = literalValue(value);
    if (specifier === null && literalOnly) return;
    sites.push({ specifier, via, line: lineOf(isAstNode(value) ? value : node) });
  };
  // Iterative, so a deeply nested file cannot overflow the stack here.
  const stack: AstNode[] = [program];
  while (stack.length > 0) {
    const node = stack.pop()!;
    switch (node.type) {
      case "ImportDeclaration":
        add(node, node.source, "import");
        break;
      case "ExportAllDeclaration":
        add(node, node.source, "export from");
        break;
      case "ExportNamedDeclaration":
        if (node.source) add(node, node.source, "export from");
        break;
      case "TSExternalModuleReference":
        add(node, node.expression, "import = require");
        break;
      case "TSImportType":
        // `source` in Babel 8, `argument` before it.
        add(node, node.source ?? node.argument, "import type");
        break;
      case "TSModuleDeclaration":
        // `declare module "x"` in a module augments "x", and TypeScript resolves (reads) it.
        add(node, node.id, "declare module", true);
        break;
      case "ImportExpression":
        add(node, node.source, "dynamic import");
        break;
      case "CallExpression": {
        const callee = node.callee;
        const args = Array.isArray(node.arguments) ? node.arguments : [];
        if (isAstNode(callee) && callee.type === "Import") {
          add(node, args[0], "dynamic import");
        } else if (isAstNode(callee) && callee.type === "Identifier" && callee.name === "require") {
          // A call of a local `require` runs nothing at check time; refuse only what it names.
          add(node, args[0], "require", true);
        }
        break;
      }
    }
    for (const child of children(node)) stack.push(child);
  }
  return sites;
}

// Deno reads these from comments (deno_graph's own patterns, loosened: case-insensitive and
// anywhere in the comment). A directive whose target cannot be read is refused, not skipped.
const TYPES_PRAGMA = /@(?:deno-types|ts-types|ts-self-types)\b/gi;
const TYPES_PRAGMA_TARGET = /^\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'*]+))/;
const REFERENCE = /<reference\b([^>]*)/gi;
const REFERENCE_TARGET = /\b(path|types)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"']+))/gi;
const JSX_SOURCE = /@jsxImportSource(?:Types)?\b/gi;
const JSX_SOURCE_TARGET = /^\s+([^\s*]+)/;
const JSDOC_IMPORT_TYPE = /\bimport\s*\(\s*(?:"([^"]*)"|'([^']*)'|`([^`]*)`)/g;
const JSDOC_IMPORT_TAG = /@import\b[^@]*?\bfrom\s*(?:"([^"]*)"|'([^']*)')/g;

function commentSites(text: string, firstLine: number): ImportSite[] {
  const sites: ImportSite[] = [];
  const newlines: number[] = [];
  for (let i = text.indexOf("\n"); i !== -1; i = text.indexOf("\n", i + 1)) newlines.push(i);
  const lineAt = (index: number) => {
    let [low, high] = [0, newlines.length];
    while (low < high) {
      const mid = (low + high) >> 1;
      if (newlines[mid] < index) low = mid + 1;
      else high = mid;
    }
    return firstLine + low;
  };
  for (const m of text.matchAll(TYPES_PRAGMA)) {
    const target = TYPES_PRAGMA_TARGET.exec(text.slice(m.index + m[0].length));
    const specifier = target ? target[1] ?? target[2] ?? target[3] ?? null : null;
    sites.push({ specifier, via: m[0], line: lineAt(m.index) });
  }
  for (const m of text.matchAll(REFERENCE)) {
    const attributes = m[1] ?? "";
    // `lib` and `no-default-lib` load nothing; every `path` and `types` is checked, not only the
    // first, since Deno and TypeScript differ in which one they honour.
    const targets = [...attributes.matchAll(REFERENCE_TARGET)];
    if (targets.length === 0 && /\b(path|types)\b/i.test(attributes)) {
      sites.push({ specifier: null, via: "reference", line: lineAt(m.index) });
    }
    for (const target of targets) {
      const kind = target[1].toLowerCase();
      let specifier = target[2] ?? target[3] ?? target[4] ?? "";
      // A reference path is a file path: `x.d.ts` means the file beside this one.
      if (kind === "path" && !/^(\.\.?\/|\/|[A-Za-z][A-Za-z0-9+.-]*:)/.test(specifier)) {
        specifier = `./${specifier}`;
      }
      sites.push({ specifier, via: `reference ${kind}`, line: lineAt(m.index) });
    }
  }
  for (const m of text.matchAll(JSX_SOURCE)) {
    const target = JSX_SOURCE_TARGET.exec(text.slice(m.index + m[0].length));
    // Deno loads `<source>/jsx-runtime` (and its types): that is what must be allowed.
    const specifier = target?.[1] ? `${target[1]}/jsx-runtime` : null;
    sites.push({ specifier, via: m[0], line: lineAt(m.index) });
  }
  for (const m of text.matchAll(JSDOC_IMPORT_TYPE)) {
    sites.push({
      specifier: m[1] ?? m[2] ?? m[3] ?? "",
      via: "JSDoc import",
      line: lineAt(m.index),
    });
  }
  for (const m of text.matchAll(JSDOC_IMPORT_TAG)) {
    sites.push({ specifier: m[1] ?? m[2] ?? "", via: "@import", line: lineAt(m.index) });
  }
  return sites;
}

/** A file that does not parse: where, and the parser's message (no source text). */
export interface ParseFailure {
  message: string;
  line: number | null;
}

type BabelParse = typeof import("@babel/parser").parse;
let babelParse: Promise<BabelParse> | undefined;
function parser(): Promise<BabelParse> {
  // Loaded on first use: most validations carry no function sources.
  babelParse ??= import("@babel/parser").then((m) => m.parse);
  return babelParse;
}

function pluginSets(name: string): ParserPlugin[][] {
  const proposals: ParserPlugin[] = [
    "sourcePhaseImports",
    "deferredImportEvaluation",
    "decoratorAutoAccessors",
  ];
  if (/\.d\.m?ts$/.test(name)) return [[["typescript", { dts: true }], ...proposals]];
  const language: ParserPlugin[] = name.endsWith(".tsx")
    ? ["jsx", "typescript"]
    : /\.m?ts$/.test(name)
    ? ["typescript"]
    : [];
  // Standard and legacy (TypeScript's experimentalDecorators) decorators exclude each other.
  return [[...language, "decorators", ...proposals], [
    ...language,
    "decorators-legacy",
    ...proposals,
  ]];
}

/**
 * Every place `source` (the submitted file `name`) hands Deno a module specifier, found by
 * parsing it; or why it does not parse.
 *
 * @example
 * ```ts
 * const sites = await importSites("fn/index.ts", 'import { z } from "zod";');
 * // [{ specifier: "zod", via: "import", line: 1 }]
 * ```
 */
export async function importSites(
  name: string,
  source: string,
): Promise<ImportSite[] | ParseFailure> {
  const parse = await parser();
  let failure: ParseFailure | null = null;
  for (const plugins of pluginSets(name)) {
    try {
      const file = parse(source, {
        sourceType: "module",
        plugins,
        // Errors Babel recovers from are about meaning (a name declared twice), not structure:
        // the tree is whole, and `deno check` reports them itself. Others throw: refused below.
        errorRecovery: true,
        attachComment: false,
        tokens: false,
      });
      const program: unknown = file.program;
      if (!isAstNode(program)) return { message: "the parser returned no program", line: null };
      const sites = codeSites(program);
      for (const comment of file.comments ?? []) {
        sites.push(...commentSites(comment.value, comment.loc?.start.line ?? 1));
      }
      return sites;
    } catch (e) {
      if (failure !== null) continue;
      const err = e as { message?: unknown; loc?: { line?: unknown } };
      const message = typeof err.message === "string"
        ? err.message.replace(/\s*\(\d+:\d+\)\s*$/, "")
        : "the file does not parse";
      failure = { message, line: typeof err.loc?.line === "number" ? err.loc.line : null };
    }
  }
  return failure ?? { message: "the file does not parse", line: null };
}

/** Most findings one submission reports; a file can name thousands of modules. */
const MAX_FINDINGS = 100;

function capped(findings: Finding[]): Finding[] {
  if (findings.length <= MAX_FINDINGS) return findings;
  const rest = findings.length - MAX_FINDINGS;
  return [
    ...findings.slice(0, MAX_FINDINGS),
    finding(findings[MAX_FINDINGS].rule, `${rest} more like the above were not listed`, {}),
  ];
}

function lineText(source: string | readonly string[], line: number | null): string | null {
  if (line === null) return null;
  const lines = typeof source === "string" ? source.split("\n") : source;
  const text = lines[line - 1]?.trim();
  return text ? text.slice(0, 300) : null;
}

/**
 * The specifiers of `files` that Deno may not be given, as `import_not_allowed` findings (and a
 * `typecheck_error` per file that does not parse, since its imports cannot be known). Reads
 * nothing but the submission itself.
 *
 * @example
 * ```ts
 * const escapes = await importEscapes(files, { "zod": "npm:zod@4.6.7" });
 * if (escapes.length > 0) return escapes; // deno check never runs
 * ```
 */
export async function importEscapes(
  files: readonly FunctionFile[],
  importMap: Readonly<Record<string, string>>,
): Promise<Finding[]> {
  const names = new Set<string>();
  for (const f of files) {
    const path = submissionPath(f.name);
    if (path !== null) names.add(path);
  }
  const policy: ImportPolicy = { files: names, importMap };
  const out: Finding[] = [];
  for (const f of files) {
    const sites = await importSites(f.name, f.source);
    if (!Array.isArray(sites)) {
      out.push(finding(
        "typecheck_error",
        `the file does not parse, so its imports cannot be checked: ${sites.message}`,
        { file: f.name, line: sites.line, statement: lineText(f.source, sites.line) },
      ));
      continue;
    }
    const from = submissionPath(f.name) ?? f.name;
    const lines = f.source.split("\n");
    for (const site of sites) {
      const why = site.specifier !== null
        ? importRefusal(site.specifier, from, policy)
        : site.via === "dynamic import"
        ? "a module computed at run time (only string literals can be checked)"
        : "a target that cannot be read";
      if (why === null) continue;
      const shown = site.specifier === null
        ? ""
        : ` ${JSON.stringify(site.specifier.slice(0, 200))}`;
      out.push(finding(
        "import_not_allowed",
        `${site.via}${shown} names ${why}; functions may import only their own submitted files ` +
          "(relative paths), npm:/jsr: packages, node: built-ins and the project's import map",
        { file: f.name, line: site.line, statement: lineText(lines, site.line) },
      ));
    }
  }
  return capped(out);
}

// ---------------------------------------------------------------------------------------------
// Running deno check.

/**
 * The import map of the generated `deno.json`: the product's own pinned npm packages (so `hono`,
 * `zod`, `@supabase/supabase-js` resolve as in this repository) and the local `EdgeRuntime`
 * declaration. Entries that are not well-formed package specifiers are left out, so nothing in
 * it can point Deno at a file of the server.
 *
 * @example
 * ```ts
 * const map = await typecheckImportMap(); // { zod: "npm:zod@4.6.7", hono: "npm:hono@…", … }
 * ```
 */
export function typecheckImportMap(): Promise<Record<string, string>> {
  const map: Record<string, string> = {};
  for (const [key, value] of Object.entries(denoConfig.imports as Record<string, unknown>)) {
    if (typeof value === "string" && value.startsWith("npm:") && isPackageSpecifier(value)) {
      map[key] = value;
    }
  }
  return Promise.resolve(map);
}

function badNames(files: readonly FunctionFile[]): Finding[] {
  const out: Finding[] = [];
  const seen = new Set<string>();
  for (const f of files) {
    const path = submissionPath(f.name);
    if (!FunctionFile.shape.name.safeParse(f.name).success || path === null) {
      out.push(finding(
        "typecheck_error",
        "a function file name must be a relative .ts/.tsx/.mts/.js/.mjs path without ..; " +
          "not checked",
        { file: f.name.slice(0, 200) },
      ));
    } else if (seen.has(path)) {
      out.push(finding("typecheck_error", "two function files have the same path", {
        file: f.name,
      }));
    }
    if (path !== null) seen.add(path);
  }
  return out;
}

/**
 * Checks that `files` import nothing outside the submission (see the module doc), then runs
 * `deno check` on them; a finding per problem (none when they type-check).
 *
 * @example
 * ```ts
 * const findings = await typecheckFunctions([{ name: "hello/index.ts", source }]);
 * ```
 */
export async function typecheckFunctions(
  files: readonly FunctionFile[],
  options: {
    timeoutMs?: number;
    /** Where its temporary folder goes (default the system's). */
    tempDir?: string;
    /** Deno's cache for the child (default `DENO_DIR` of this process). */
    denoDir?: string;
  } = {},
): Promise<Finding[]> {
  if (files.length === 0) return [];
  const invalid = badNames(files);
  if (invalid.length > 0) return invalid;
  const importMap = await typecheckImportMap();
  const escapes = await importEscapes(files, importMap);
  if (escapes.length > 0) return escapes;
  if (!canSpawnProcesses()) return [typecheckNotRun(files)];

  const dir = await Deno.makeTempDir({ prefix: "bt_typecheck_", dir: options.tempDir });
  // The submission lives in its own folder, so no file of it can stand in for the config or the
  // runtime declaration.
  const root = join(dir, SUBMISSION_DIR);
  try {
    await Deno.mkdir(join(dir, "_runtime"));
    await Deno.writeTextFile(join(dir, "_runtime", "edge_runtime.d.ts"), EDGE_RUNTIME_TYPES);
    await Deno.writeTextFile(
      join(dir, "deno.json"),
      JSON.stringify({
        imports: { ...importMap, [EDGE_RUNTIME_SPECIFIER]: "./_runtime/edge_runtime.d.ts" },
        compilerOptions: { strict: true },
        nodeModulesDir: "none",
        lock: false,
      }),
    );
    const paths: string[] = [];
    for (const f of files) {
      const path = join(root, submissionPath(f.name)!);
      await Deno.mkdir(join(path, ".."), { recursive: true });
      await Deno.writeTextFile(path, f.source);
      paths.push(path);
    }
    let child: Deno.ChildProcess;
    try {
      child = new Deno.Command(Deno.execPath(), {
        args: ["check", "--quiet", "--no-lock", "--config", join(dir, "deno.json"), ...paths],
        cwd: dir,
        env: typecheckChildEnv((name) =>
          name === "DENO_DIR" && options.denoDir ? options.denoDir : Deno.env.get(name)
        ),
        clearEnv: true,
        stdout: "piped",
        stderr: "piped",
      }).spawn();
    } catch (e) {
      // The runtime refused the process after all (a sandbox canSpawnProcesses could not see).
      if (e instanceof Deno.errors.NotCapable || e instanceof Deno.errors.PermissionDenied) {
        return [typecheckNotRun(files)];
      }
      throw e;
    }
    const limit = options.timeoutMs ?? 120_000;
    let killed = false;
    const timer = setTimeout(() => {
      killed = true;
      child.kill("SIGKILL");
    }, limit);
    const output = await child.output().finally(() => clearTimeout(timer));
    if (output.success) return [];
    if (killed) {
      return [finding("typecheck_error", `deno check did not finish within ${limit / 1000} s`, {})];
    }
    const text = new TextDecoder().decode(output.stderr) + "\n" +
      new TextDecoder().decode(output.stdout);
    const found = parseDiagnostics(text, root, files);
    if (found.length > 0) return capped(found);
    return [finding("typecheck_error", `deno check failed: ${errorLines(text, root, files)}`, {})];
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/**
 * The finding for sources whose types could not be checked because `deno check` cannot run in
 * this process: what was checked, what was not, and where to get the rest. Pure.
 *
 * @example
 * ```ts
 * typecheckNotRun([{ name: "hello/index.ts", source }]).rule; // "typecheck_not_run"
 * ```
 */
export function typecheckNotRun(files: readonly FunctionFile[]): Finding {
  const names = files.map((f) => f.name);
  const shown = names.slice(0, 5).join(", ") + (names.length > 5 ? `, +${names.length - 5}` : "");
  return finding(
    "typecheck_not_run",
    `the edge function sources (${shown}) were not type-checked: \`deno check\` runs as a ` +
      "subprocess, and this runtime allows none (Supabase Edge Runtime, or --deny-run in " +
      "hosted-limits mode); their imports were checked. To type-check them, validate where " +
      "subprocesses run: POST /functions/v1/validate with `functions` on the local stack " +
      "(`deno task dev`, without BT_HOSTED_LIMITS), or `deno check` on the delivered files with " +
      "the project's deno.json. A shadow database (SHADOW_DATABASE_URL) does not change this",
    { file: files.length === 1 ? files[0].name : null },
  );
}

/**
 * `text` with the server's paths taken out: a submitted file's path or `file:` URL becomes its
 * name, any other `file:` URL a placeholder, and remote URLs (the registry may be an internal
 * host) `<url>`. Pure.
 *
 * @example
 * ```ts
 * redactPaths("at file:///tmp/x/submission/fn/index.ts:1:1", "/tmp/x/submission", files);
 * // "at fn/index.ts:1:1"
 * ```
 */
export function redactPaths(text: string, root: string, files: readonly FunctionFile[]): string {
  const prefix = root.endsWith("/") ? root : root + "/";
  const submitted = (path: string): string | null => {
    if (!path.startsWith(prefix)) return null;
    const name = submissionPath(path.slice(prefix.length));
    return name !== null && files.some((f) => submissionPath(f.name) === name) ? name : null;
  };
  return text
    .replace(/\b(?:file|https?|data|blob):[^\s"'`)\]]*/g, (match) => {
      const trail = /[.,;:]+$/.exec(match)?.[0] ?? "";
      const url = match.slice(0, match.length - trail.length);
      if (!url.startsWith("file:")) return "<url>" + trail;
      const position = /(?::\d+){1,2}$/.exec(url)?.[0] ?? "";
      let path: string;
      try {
        path = decodeURIComponent(new URL(url.slice(0, url.length - position.length)).pathname);
      } catch {
        return "<file outside the submission>" + trail;
      }
      const name = submitted(path);
      return (name !== null ? name + position : "<file outside the submission>") + trail;
    })
    .replaceAll(prefix, "");
}

// What Deno printed when it stopped before type-checking (a module that failed to load or
// parse): its `error:` lines only — never the source snippets under them — with the server's
// paths redacted (here bare absolute paths too: these lines are Deno's, not the submission's).
function errorLines(text: string, root: string, files: readonly FunctionFile[]): string {
  const lines = text.split("\n").map((l) => l.trim()).filter((l) => /^error: /.test(l));
  const shown = lines.slice(-3).map((l) =>
    redactPaths(l, root, files)
      .replace(/(^|[\s"'(])\/[^\s"'`)\]]+/g, "$1<path>")
      .slice(0, 500)
  );
  return shown.join(" | ") || "no output";
}

/**
 * Turns `deno check` output into findings located in the submitted files (which live under
 * `root`). A diagnostic located anywhere else is dropped; the statement is quoted from the
 * submitted source, and the message has the server's paths redacted. Pure.
 *
 * @example
 * ```ts
 * const findings = parseDiagnostics(output, "/tmp/bt_typecheck_x/submission", files);
 * ```
 */
export function parseDiagnostics(
  text: string,
  root: string,
  files: readonly FunctionFile[],
): Finding[] {
  const out: Finding[] = [];
  const prefix = root.endsWith("/") ? root : root + "/";
  const blocks = text.split(/\n(?=TS\d+ \[ERROR\]|error: )/);
  for (const block of blocks) {
    const head = /(TS\d+) \[ERROR\]: ([^\n]+)/.exec(block);
    if (!head) continue;
    const at = /at file:\/\/(\S+?):(\d+):(\d+)/.exec(block);
    let file: string | null = null;
    if (at) {
      let path: string;
      try {
        path = decodeURIComponent(at[1]);
      } catch {
        continue;
      }
      const name = path.startsWith(prefix) ? submissionPath(path.slice(prefix.length)) : null;
      const submitted = name === null
        ? undefined
        : files.find((f) => submissionPath(f.name) === name);
      // Located outside the submission: nothing of it may reach the caller.
      if (!submitted) continue;
      file = submitted.name;
    }
    const line = at ? Number(at[2]) : null;
    const source = files.find((f) => f.name === file)?.source;
    out.push(finding("typecheck_error", `${head[1]}: ${redactPaths(head[2], root, files)}`, {
      file,
      line,
      statement: source && line ? lineText(source, line) : null,
    }));
  }
  return out;
}

/** The functions of a submission: the folders with an `index.ts`, `_shared`-style ones excepted. */
export function functionEntries(files: readonly FunctionFile[]): string[] {
  return files
    .map((f) => /^([A-Za-z0-9][A-Za-z0-9_-]*)\/index\.(ts|js|mjs|mts|tsx)$/.exec(f.name))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => m[0])
    .sort();
}
