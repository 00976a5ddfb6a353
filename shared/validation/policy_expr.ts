/**
 * Reading row level security policies as parse trees. Supabase's linter matches the deparsed
 * policy text with LIKE; here the expression Postgres stored is parsed and walked, so a call
 * counts as "evaluated once" only when it really sits in a scalar `(select …)` without a FROM
 * (an initplan), a helper SQL function that calls `auth.uid()` is followed, and the columns a
 * policy compares with the caller's id are found whatever the spelling.
 *
 * @example
 * ```ts
 * const expr = await parseExpression("(user_id = auth.uid())");
 * perRowAuthCalls(expr!); // ["auth.uid"]
 * columnsComparedToUid(expr!); // ["user_id"]
 * ```
 */
import { asNode, funcCallName, type PgNode, stringList, walk } from "../pg_ast/mod.ts";

const AUTH_CALLS = new Set([
  "auth.uid",
  "auth.jwt",
  "auth.role",
  "auth.email",
  "current_setting",
  "pg_catalog.current_setting",
]);

/** Whether a function name (as called) is one of the per-request auth helpers. */
export function isAuthCall(name: string): boolean {
  return AUTH_CALLS.has(name);
}

/**
 * Whether a node sits in a scalar sub-select without FROM — `(select auth.uid())` — which
 * Postgres evaluates once per statement as an initplan.
 */
function inInitplan(ancestors: readonly PgNode[]): boolean {
  for (let i = ancestors.length - 1; i >= 0; i--) {
    const select = asNode(ancestors[i], "SelectStmt");
    if (select) {
      const inSubLink = ancestors.slice(0, i).some((a) => asNode(a, "SubLink"));
      return inSubLink && (select.fromClause ?? []).length === 0;
    }
  }
  return false;
}

/** Names of auth helper calls in `expr` evaluated per row (not wrapped in `(select …)`). */
export function perRowAuthCalls(expr: PgNode): string[] {
  const out: string[] = [];
  walk(expr, ({ node, ancestors }) => {
    const call = asNode(node, "FuncCall");
    if (!call) return;
    const name = funcCallName(call);
    if (isAuthCall(name) && !inInitplan(ancestors)) out.push(name);
  });
  return out;
}

/** Names of the functions `expr` calls per row (not in an initplan), as called. */
export function perRowCalls(expr: PgNode): string[] {
  const out: string[] = [];
  walk(expr, ({ node, ancestors }) => {
    const call = asNode(node, "FuncCall");
    if (call && !inInitplan(ancestors)) out.push(funcCallName(call));
  });
  return out;
}

/** Whether `node` computes the caller's user id: `auth.uid()`, `(select auth.uid())`, `auth.jwt() ->> 'sub'`, casts of these. */
export function isUidExpression(node: PgNode | undefined): boolean {
  if (!node) return false;
  const call = asNode(node, "FuncCall");
  if (call) return funcCallName(call) === "auth.uid";
  const cast = asNode(node, "TypeCast");
  if (cast) return isUidExpression(cast.arg);
  const sub = asNode(node, "SubLink");
  if (sub?.subLinkType === "EXPR_SUBLINK") {
    const select = asNode(sub.subselect, "SelectStmt");
    const target = asNode(select?.targetList?.[0], "ResTarget");
    return (select?.fromClause ?? []).length === 0 && isUidExpression(target?.val);
  }
  const op = asNode(node, "A_Expr");
  if (op && stringList(op.name).join() === "->>") {
    const left = asNode(op.lexpr, "FuncCall");
    const key = asNode(op.rexpr, "A_Const")?.sval?.sval;
    return !!left && funcCallName(left) === "auth.jwt" && key === "sub";
  }
  return false;
}

/** Columns `expr` compares for equality with the caller's user id (`user_id = auth.uid()`). */
export function columnsComparedToUid(expr: PgNode): string[] {
  const out = new Set<string>();
  walk(expr, ({ node, ancestors }) => {
    const op = asNode(node, "A_Expr");
    if (!op || op.kind !== "AEXPR_OP" || stringList(op.name).join() !== "=") return;
    // Inside a sub-select an unqualified column may belong to the sub-select's table.
    if (ancestors.some((a) => asNode(a, "SubLink"))) return;
    for (const [a, b] of [[op.lexpr, op.rexpr], [op.rexpr, op.lexpr]]) {
      const ref = asNode(a, "ColumnRef") ?? asNode(asNode(a, "TypeCast")?.arg, "ColumnRef");
      const fields = stringList(ref?.fields);
      const column = fields.at(-1);
      if (column && isUidExpression(b)) out.add(column);
    }
  });
  return [...out];
}

const JSON_ACCESS = new Set(["->", "->>", "#>", "#>>"]);
const JSON_EXTRACT = new Set([
  "jsonb_extract_path",
  "jsonb_extract_path_text",
  "json_extract_path",
  "json_extract_path_text",
  "pg_catalog.jsonb_extract_path",
  "pg_catalog.jsonb_extract_path_text",
]);

// A string constant (possibly cast, e.g. '{user_metadata,role}'::text[]).
function constantText(node: PgNode | undefined): string | undefined {
  const cast = asNode(node, "TypeCast");
  if (cast) return constantText(cast.arg);
  return asNode(node, "A_Const")?.sval?.sval;
}

/** Whether `node` (or anything below it) reads the request's JWT: auth.jwt(), request.jwt.claims. */
function readsJwt(node: PgNode | undefined): boolean {
  let found = false;
  walk(node, ({ node: n }) => {
    const call = asNode(n, "FuncCall");
    if (!call) return;
    const name = funcCallName(call);
    if (name === "auth.jwt") found = true;
    if (name === "current_setting" || name === "pg_catalog.current_setting") {
      const key = constantText(call.args?.[0]);
      if (key?.startsWith("request.jwt")) found = true;
    }
  });
  return found;
}

/**
 * Where `expr` (a policy expression or a helper function's body) reads user metadata, which every
 * user can change for themselves with `supabase.auth.updateUser({ data })`: the JWT's
 * `user_metadata` claim (`auth.jwt() -> 'user_metadata'`, `#>> '{user_metadata,role}'`,
 * `jsonb_extract_path(auth.jwt(), 'user_metadata', …)`, the same through
 * `current_setting('request.jwt.claims')`), or the `raw_user_meta_data` column of `auth.users`.
 * Returns a short description of each read.
 */
export function userMetadataReads(expr: PgNode): string[] {
  const out = new Set<string>();
  const mentions = (text: string | undefined) => !!text && /\buser_metadata\b/.test(text);
  walk(expr, ({ node }) => {
    const op = asNode(node, "A_Expr");
    if (op && op.kind === "AEXPR_OP") {
      const name = stringList(op.name).join();
      if (JSON_ACCESS.has(name) && mentions(constantText(op.rexpr)) && readsJwt(op.lexpr)) {
        out.add(`the JWT's user_metadata (${name} '${constantText(op.rexpr)}')`);
      }
    }
    const call = asNode(node, "FuncCall");
    if (call && JSON_EXTRACT.has(funcCallName(call))) {
      const [source, ...path] = call.args ?? [];
      if (path.some((p) => mentions(constantText(p))) && readsJwt(source)) {
        out.add(`the JWT's user_metadata (${funcCallName(call)})`);
      }
    }
    const ref = asNode(node, "ColumnRef");
    const column = asNode(ref?.fields?.at(-1), "String")?.sval;
    if (column === "raw_user_meta_data") out.add("auth.users.raw_user_meta_data");
  });
  return [...out];
}

/** Names of every function `expr` calls (sub-selects included), as called. */
export function calledFunctions(expr: PgNode): string[] {
  const out = new Set<string>();
  walk(expr, ({ node }) => {
    const call = asNode(node, "FuncCall");
    if (call) out.add(funcCallName(call));
  });
  return [...out];
}

/**
 * Whether `expr` is true whatever the row and the caller: `true`, `1 = 1`, `'t'::boolean`, and
 * `or`/`and`/parentheses of these. Splinter's 0024 matches the text `true` or `1=1`; this reads
 * the tree, so `(true)`, `TRUE OR false` and `2 = 2` count too and `false` does not.
 */
export function isConstantTrue(expr: PgNode | undefined): boolean {
  if (!expr) return false;
  const c = asNode(expr, "A_Const");
  if (c) return c.boolval?.boolval === true;
  const cast = asNode(expr, "TypeCast");
  if (cast) {
    const text = constantText(cast.arg);
    const type = stringList(cast.typeName?.names).at(-1);
    if (type === "bool" || type === "boolean") {
      return isConstantTrue(cast.arg) ||
        (text !== undefined && /^(t|true|y|yes|on|1)$/i.test(text.trim()));
    }
    return false;
  }
  const bool = asNode(expr, "BoolExpr");
  if (bool?.boolop === "OR_EXPR") return (bool.args ?? []).some(isConstantTrue);
  if (bool?.boolop === "AND_EXPR") return (bool.args ?? []).every(isConstantTrue);
  const op = asNode(expr, "A_Expr");
  if (op?.kind === "AEXPR_OP" && stringList(op.name).join() === "=") {
    const a = asNode(op.lexpr, "A_Const");
    const b = asNode(op.rexpr, "A_Const");
    return !!a && !!b && JSON.stringify(a) === JSON.stringify({ ...b, location: a.location });
  }
  return false;
}
