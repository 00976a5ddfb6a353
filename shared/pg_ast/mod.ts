/**
 * The Postgres parse-tree vocabulary, typed from `@supabase/pg-parser`'s own PG 17 typings, and a
 * walker that keeps each node's ancestors. The schema summarizer and the validator both read SQL
 * through it, so a parser upgrade changes one file, and decisions such as "is this `auth.uid()`
 * call inside a scalar `(select …)`" are made on the tree, never on SQL text.
 *
 * @example
 * ```ts
 * walk(tree, ({ node }) => {
 *   const call = asNode(node, "FuncCall");
 *   if (call) console.log(funcCallName(call));
 * });
 * ```
 */
import type { ParseResult } from "@supabase/pg-parser";

/** A parsed script. */
export type PgTree = ParseResult<17>;
/** One raw statement of a script, with its byte position. */
export type PgRawStmt = NonNullable<PgTree["stmts"]>[number];
/** Any node: an object with exactly one key naming its type. */
export type PgNode = NonNullable<PgRawStmt["stmt"]>;
/** All node type names. */
export type PgNodeType = PgNode extends infer N ? N extends Record<infer K, unknown> ? K : never
  : never;
/** The payload of node type `K`, e.g. `PgNodeOf<"CreateStmt">`. */
export type PgNodeOf<K extends PgNodeType> = Extract<PgNode, Record<K, unknown>>[K];

/** The type name of a node. */
export function nodeType(node: PgNode): PgNodeType {
  return Object.keys(node)[0] as PgNodeType;
}

/** The payload of `node` when it is of type `type`, else undefined. */
export function asNode<K extends PgNodeType>(
  node: PgNode | undefined | null,
  type: K,
): PgNodeOf<K> | undefined {
  if (!node || typeof node !== "object" || !(type in node)) return undefined;
  return (node as unknown as Record<K, PgNodeOf<K>>)[type];
}

/** The string values of a list of `String` nodes (qualified names, column lists). */
export function stringList(nodes: readonly PgNode[] | undefined): string[] {
  const out: string[] = [];
  for (const n of nodes ?? []) {
    const s = asNode(n, "String");
    if (s?.sval !== undefined) out.push(s.sval);
  }
  return out;
}

/** `schema.name` of a relation, `public` when unqualified. */
export function relationName(rel: { schemaname?: string; relname?: string } | undefined): string {
  return `${rel?.schemaname || "public"}.${rel?.relname ?? ""}`;
}

/** `schema.name` of a qualified name list, `public` when unqualified. */
export function qualifiedName(names: readonly string[]): string {
  return names.length >= 2 ? names.slice(-2).join(".") : `public.${names[0] ?? ""}`;
}

/** A node met during a walk, with the nodes above it (nearest last). */
export interface Visit {
  type: PgNodeType;
  node: PgNode;
  ancestors: readonly PgNode[];
}

function isNode(value: unknown): value is PgNode {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return false;
  const keys = Object.keys(value);
  return keys.length === 1 && /^[A-Z]/.test(keys[0]) &&
    typeof (value as Record<string, unknown>)[keys[0]] === "object";
}

/** Calls `visit` for every node below `root`, `root` included, depth first. */
export function walk(root: unknown, visit: (v: Visit) => void): void {
  const stack: PgNode[] = [];
  const go = (value: unknown) => {
    if (Array.isArray(value)) {
      for (const item of value) go(item);
      return;
    }
    if (value === null || typeof value !== "object") return;
    if (isNode(value)) {
      visit({ type: nodeType(value), node: value, ancestors: stack });
      stack.push(value);
      go(Object.values(value)[0]);
      stack.pop();
      return;
    }
    for (const child of Object.values(value)) go(child);
  };
  go(root);
}

/** The qualified name of a function call, lowercased (`auth.uid`, `current_setting`). */
export function funcCallName(call: PgNodeOf<"FuncCall">): string {
  return stringList(call.funcname).join(".").toLowerCase();
}

/** The type name of a `TypeName` node without `pg_catalog.` (`int8`, `timestamp`, `my.enum`). */
export function typeNameOf(type: PgNodeOf<"TypeName"> | undefined): string {
  const names = stringList(type?.names);
  return (names[0] === "pg_catalog" ? names.slice(1) : names).join(".").toLowerCase();
}
