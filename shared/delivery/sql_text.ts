/**
 * Writing SQL text safely for generated files: identifiers quoted only when they must be (so the
 * generated tests read like hand-written ones), string literals escaped, and dollar quotes that
 * cannot collide with the text they wrap.
 *
 * @example
 * ```ts
 * `select ${literal("it's")} from ${qualified("public", "order")}`; // … from public."order"
 * ```
 */

// Keywords that cannot be bare column or table names (the reserved ones of PostgreSQL 15).
const RESERVED = new Set(
  ("all analyse analyze and any array as asc asymmetric authorization binary both case cast check " +
    "collate collation column concurrently constraint create cross current_catalog current_date " +
    "current_role current_schema current_time current_timestamp current_user default deferrable " +
    "desc distinct do else end except false fetch for foreign freeze from full grant group having " +
    "ilike in initially inner intersect into is isnull join lateral leading left like limit " +
    "localtime localtimestamp natural not notnull null offset on only or order outer overlaps " +
    "placing primary references returning right select session_user similar some symmetric " +
    "system_user table tablesample then to trailing true union unique user using variadic verbose " +
    "when where window with").split(" "),
);

/** An identifier, double-quoted when it is not a plain lowercase name. */
export function ident(name: string): string {
  if (/^[a-z_][a-z0-9_]*$/.test(name) && !RESERVED.has(name)) return name;
  return `"${name.replaceAll('"', '""')}"`;
}

/** `schema.name`, each part quoted as needed. */
export function qualified(schema: string, name: string): string {
  return `${ident(schema)}.${ident(name)}`;
}

/** A string literal. */
export function literal(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

/** A `name[]` array literal of plain strings, e.g. `array['id']::name[]`. */
export function nameArray(values: string[]): string {
  return values.length === 0 ? "'{}'::name[]" : `array[${values.map(literal).join(", ")}]::name[]`;
}

/** `text` wrapped in a dollar quote whose tag does not occur in it. */
export function dollarQuoted(text: string): string {
  let tag = "$q$";
  for (let n = 1; text.includes(tag); n++) tag = `$q${n}$`;
  return `${tag}${text}${tag}`;
}
