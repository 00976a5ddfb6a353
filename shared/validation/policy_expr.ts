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
