/**
 * Field schemas the runs domain repeats: ids, timestamps, counters and user text. They are written
 * once so a rule (such as "Postgres text cannot hold NUL") is enforced the same way everywhere.
 *
 * @example
 * ```ts
 * Id.parse("6f1c2d3e-4b5a-4c6d-8e7f-8091a2b3c4d5");
 * UserText(100).parse("hello");
 * ```
 */
import { z } from "zod";

/** A row id (Postgres `uuid`): any 8-4-4-4-12 hex form, which is all Postgres accepts. */
export const Id = z.guid();

/** A point in time as an ISO 8601 string in UTC (rows arrive as `Date`; see `rowToJson`). */
export const Timestamp = z.iso.datetime();

/**
 * A non-negative whole number. `bigint` columns arrive from postgres.js as digit strings, which are
 * read as numbers here (every count the product stores stays far below 2^53).
 */
export const Count = z.preprocess(
  (v) => (typeof v === "string" && /^\d{1,15}$/.test(v) ? Number(v) : v),
  z.int().nonnegative(),
);

/** Postgres `text` cannot hold NUL; rejecting it here keeps it a 400 and not a database error. */
export function UserText(max: number): z.ZodString {
  return z.string().max(max).refine((s) => !s.includes("\0"), "must not contain NUL characters");
}

/** A JSON object (jsonb) whose shape another part of the product defines. */
export const JsonObject = z.record(z.string(), z.unknown());
