/**
 * Names for the Postgres parse-tree nodes this folder reads, derived from `@supabase/pg-parser`'s
 * own typings (PG 17 grammar), plus the few accessors every reader needs. Keeping the derivation in
 * one place means a parser upgrade changes one file.
 */
import type { ParseResult } from "@supabase/pg-parser";

/** A parsed script. */
export type PgTree = ParseResult<17>;
/** One statement of a script with its byte position. */
export type PgRawStmt = NonNullable<PgTree["stmts"]>[number];
/** Any node: an object with exactly one key naming its type. */
export type PgNode = NonNullable<PgRawStmt["stmt"]>;
/** All node type names. */
export type PgNodeType = PgNode extends infer N ? N extends Record<infer K, unknown> ? K : never
  : never;
/** The payload of node type `K`, e.g. `PgNodeOf<"CreateStmt">`. */
export type PgNodeOf<K extends PgNodeType> = Extract<PgNode, Record<K, unknown>>[K];

/** The type name and payload of a node. */
export function nodeType(node: PgNode): PgNodeType {
  return Object.keys(node)[0] as PgNodeType;
}

/** The payload of `node` when it is of type `type`, else undefined. */
export function asNode<K extends PgNodeType>(
  node: PgNode | undefined,
  type: K,
): PgNodeOf<K> | undefined {
  if (!node || !(type in node)) return undefined;
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

/** `schema.name` for a relation, with `public` as the default schema. */
export function relationKey(rel: { schemaname?: string; relname?: string } | undefined): string {
  return `${rel?.schemaname || "public"}.${rel?.relname ?? ""}`;
}

/** `schema.name` for a qualified name list (`["auth", "uid"]` → `auth.uid`, `["f"]` → `public.f`). */
export function qualifiedKey(names: readonly string[]): string {
  return names.length >= 2 ? names.slice(-2).join(".") : `public.${names[0] ?? ""}`;
}

/** Calls `visit` on every node below `root` (depth first), including `root` itself. */
export function walkNodes(root: unknown, visit: (node: PgNode) => void): void {
  if (Array.isArray(root)) {
    for (const item of root) walkNodes(item, visit);
    return;
  }
  if (root === null || typeof root !== "object") return;
  const keys = Object.keys(root);
  if (keys.length === 1 && /^[A-Z]/.test(keys[0])) visit(root as PgNode);
  for (const value of Object.values(root)) walkNodes(value, visit);
}
