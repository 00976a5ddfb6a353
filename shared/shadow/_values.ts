/**
 * Both backends hand back the same plain data: driver errors become {@link SqlErrorFacts}, and
 * rows become JSON-safe values (int8 and numeric as strings as postgres.js gives them, timestamps
 * as ISO strings, bytea as `\x` hex), so checks never branch on the backend and PGlite rows can
 * cross a process boundary unchanged.
 */
import type { Row, SqlErrorFacts } from "./port.ts";

/** The facts of a postgres.js or PGlite error (or anything else thrown). */
export function sqlErrorFacts(e: unknown): SqlErrorFacts {
  const o = (typeof e === "object" && e !== null ? e : {}) as Record<string, unknown>;
  const text = (v: unknown) => (typeof v === "string" && v !== "" ? v : undefined);
  const position = Number(o.position);
  return {
    message: e instanceof Error ? e.message : String(e),
    code: text(o.code),
    position: Number.isFinite(position) && position > 0 ? position : undefined,
    detail: text(o.detail),
    hint: text(o.hint),
    where: text(o.where),
  };
}

/** A value as plain JSON data. */
export function plainValue(v: unknown): unknown {
  if (v === null || v === undefined) return null;
  if (typeof v === "bigint") return v.toString();
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? String(v) : v.toISOString();
  if (v instanceof Uint8Array) {
    return "\\x" + [...v].map((b) => b.toString(16).padStart(2, "0")).join("");
  }
  if (Array.isArray(v)) return v.map(plainValue);
  if (typeof v === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) out[k] = plainValue(x);
    return out;
  }
  return v;
}

/** Rows as plain JSON data. */
export function plainRows(rows: readonly Record<string, unknown>[]): Row[] {
  return rows.map((r) => plainValue(r) as Row);
}
