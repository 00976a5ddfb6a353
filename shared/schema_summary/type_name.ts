/**
 * Writes a parsed type name the way people write it in migrations (`bigint`, `numeric(10,2)`,
 * `text[]`, `timestamptz`), not the parser's internal spelling (`pg_catalog.int8`). Summaries
 * shown to agents use these, so they should read like the SQL the agents are asked to write.
 */
import { asNode, type PgNodeOf, stringList } from "../pg_ast/mod.ts";

const BUILTIN: Record<string, string> = {
  int8: "bigint",
  int4: "integer",
  int2: "smallint",
  float8: "double precision",
  float4: "real",
  bool: "boolean",
  bpchar: "char",
  varchar: "varchar",
  numeric: "numeric",
  timestamptz: "timestamptz",
  timestamp: "timestamp",
  timetz: "timetz",
  time: "time",
  interval: "interval",
  bit: "bit",
  varbit: "bit varying",
};

/** `bigint`, `numeric(10,2)`, `public.task_status` → `task_status`, `text[]`. */
export function formatTypeName(type: PgNodeOf<"TypeName"> | undefined): string {
  if (!type) return "unknown";
  const names = stringList(type.names);
  let base: string;
  if (names.length === 2 && names[0] === "pg_catalog") {
    base = BUILTIN[names[1]] ?? names[1];
  } else if (names.length === 2 && names[0] === "public") {
    base = names[1];
  } else {
    base = names.join(".");
  }
  const mods = (type.typmods ?? []).map(typmodText).filter((m) => m !== "");
  // interval's typmod is a field bitmask, not something people write as a number.
  if (mods.length > 0 && base !== "interval") base += `(${mods.join(",")})`;
  if (type.pct_type) base += "%type";
  if (type.setof) base = `setof ${base}`;
  for (const _ of type.arrayBounds ?? []) base += "[]";
  return base;
}

function typmodText(node: Parameters<typeof asNode>[0]): string {
  const c = asNode(node, "A_Const");
  if (c?.ival) return String(c.ival.ival ?? 0);
  if (c?.sval) return c.sval.sval ?? "";
  if (c?.fval) return c.fval.fval ?? "";
  return "";
}
