/**
 * N+1 queries in edge function sources, found on the syntax tree (`@babel/parser`): a database
 * call inside a loop — `for`/`for…of`/`while`, or the callback of `.map`/`.forEach`/… — whose
 * iterated value comes from another database call's result. Each such loop is one round trip per
 * row; one query (a join, `in (…)`, a PostgREST embedded select) does the same in one. Database
 * calls are recognised by shape: supabase-js (`.from(…)`, `.rpc(…)`), postgres.js tagged
 * templates (`sql\`…\``), and `.query(…)`/`.queryObject(…)`/`.execute(…)` clients. A warning:
 * a loop over a handful of rows can be a deliberate choice.
 *
 * @example
 * ```ts
 * const findings = await nPlusOneFindings([{ name: "notes/index.ts", source }]);
 * ```
 */
import { type Finding, finding } from "./finding.ts";

/** A function source to inspect. */
export interface SourceFile {
  name: string;
  source: string;
}

// deno-lint-ignore no-explicit-any
type Node = any;

const QUERY_METHODS = new Set(["from", "rpc", "query", "queryObject", "queryArray", "execute"]);
const ITERATING_METHODS = new Set([
  "map",
  "forEach",
  "flatMap",
  "filter",
  "reduce",
  "some",
  "every",
  "find",
]);
const LOOPS = new Set([
  "ForStatement",
  "ForOfStatement",
  "ForInStatement",
  "WhileStatement",
  "DoWhileStatement",
]);

function isQueryCall(node: Node): boolean {
  if (node?.type === "TaggedTemplateExpression") {
    const tag = node.tag;
    return (tag.type === "Identifier" && /^(sql|tx|db)$/.test(tag.name)) ||
      (tag.type === "MemberExpression" && tag.property?.name === "sql");
  }
  if (node?.type !== "CallExpression") return false;
  const callee = node.callee;
  return callee?.type === "MemberExpression" && !callee.computed &&
    QUERY_METHODS.has(callee.property?.name) &&
    // `Array.from(…)`, `Buffer.from(…)` are not queries.
    !(callee.object?.type === "Identifier" && /^[A-Z]/.test(callee.object.name));
}

function children(node: Node): Node[] {
  const out: Node[] = [];
  for (const key of Object.keys(node)) {
    if (key === "loc" || key === "start" || key === "end" || key === "extra") continue;
    const v = node[key];
    if (Array.isArray(v)) out.push(...v.filter((x) => x && typeof x.type === "string"));
    else if (v && typeof v.type === "string") out.push(v);
  }
  return out;
}

function contains(node: Node, test: (n: Node) => boolean): Node | undefined {
  if (test(node)) return node;
  for (const c of children(node)) {
    const hit = contains(c, test);
    if (hit) return hit;
  }
  return undefined;
}

/** Names bound by a pattern: `x`, `{ data: notes }`, `[a, b]`. */
function boundNames(pattern: Node, out: string[] = []): string[] {
  if (!pattern) return out;
  if (pattern.type === "Identifier") out.push(pattern.name);
  else if (pattern.type === "ObjectPattern") {
    for (const p of pattern.properties) boundNames(p.type === "RestElement" ? p : p.value, out);
  } else if (pattern.type === "ArrayPattern") {
    pattern.elements.forEach((e: Node) => boundNames(e, out));
  } else if (pattern.type === "RestElement") boundNames(pattern.argument, out);
  else if (pattern.type === "AssignmentPattern") boundNames(pattern.left, out);
  return out;
}

/** The variable an expression is rooted in: `rows`, `data.items`, `(rows ?? [])`. */
function rootName(node: Node): string | undefined {
  if (!node) return undefined;
  if (node.type === "Identifier") return node.name;
  if (node.type === "MemberExpression" || node.type === "OptionalMemberExpression") {
    return rootName(node.object);
  }
  if (node.type === "LogicalExpression") return rootName(node.left);
  if (node.type === "TSNonNullExpression" || node.type === "TSAsExpression") {
    return rootName(node.expression);
  }
  if (node.type === "AwaitExpression") return rootName(node.argument);
  if (node.type === "CallExpression" && node.callee?.type === "MemberExpression") {
    return rootName(node.callee.object); // rows.filter(…).map(…)
  }
  return undefined;
}

/** Finds N+1 loops in one parsed program. Pure. */
export function nPlusOneSites(program: Node): { line: number; loop: string }[] {
  // Variables assigned from a query's result, anywhere in the file (names are local enough).
  const fromQuery = new Set<string>();
  const scan = (node: Node) => {
    if (node.type === "VariableDeclarator" && node.init && contains(node.init, isQueryCall)) {
      for (const n of boundNames(node.id)) fromQuery.add(n);
    }
    if (
      node.type === "AssignmentExpression" && contains(node.right, isQueryCall)
    ) { for (const n of boundNames(node.left)) fromQuery.add(n); }
    children(node).forEach(scan);
  };
  scan(program);
  const out: { line: number; loop: string }[] = [];
  const visit = (node: Node) => {
    let iterated: Node | undefined;
    let body: Node | undefined;
    let loop = "";
    if (LOOPS.has(node.type)) {
      iterated = node.right ?? node.test;
      body = node.body;
      loop = node.type === "ForOfStatement" ? "for…of" : node.type.replace("Statement", "");
    } else if (
      node.type === "CallExpression" && node.callee?.type === "MemberExpression" &&
      ITERATING_METHODS.has(node.callee.property?.name) && node.arguments?.length
    ) {
      iterated = node.callee.object;
      body = node.arguments[0];
      loop = `.${node.callee.property.name}(…)`;
    }
    const root = rootName(iterated);
    const overQueryRows = !!iterated && (
      (root !== undefined && fromQuery.has(root)) || !!contains(iterated, isQueryCall)
    );
    if (body && overQueryRows) {
      const call = contains(body, isQueryCall);
      if (call) out.push({ line: call.loc?.start?.line ?? node.loc?.start?.line ?? 1, loop });
    }
    children(node).forEach(visit);
  };
  visit(program);
  return out;
}

/** `n_plus_one` warnings for the given sources (files that do not parse are left to typecheck). */
export async function nPlusOneFindings(files: readonly SourceFile[]): Promise<Finding[]> {
  if (files.length === 0) return [];
  const { parse } = await import("@babel/parser");
  const out: Finding[] = [];
  for (const f of files) {
    let program: Node;
    try {
      program = parse(f.source, {
        sourceType: "module",
        plugins: f.name.endsWith(".tsx") ? ["jsx", "typescript"] : ["typescript"],
        errorRecovery: true,
      }).program;
    } catch {
      continue;
    }
    for (const site of nPlusOneSites(program)) {
      out.push(finding(
        "n_plus_one",
        `${f.name} runs a query inside a ${site.loop} loop over another query's rows (one round ` +
          "trip per row); fetch the rows together: a join, `.in(column, ids)`, or an embedded " +
          "select (`.select('*, child(*)')`)",
        { file: f.name, line: site.line },
      ));
    }
  }
  return out;
}
