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

/**
 * An amount of US dollars, or `null` when it is unknown (a model without a price answered).
 * `numeric` columns arrive from postgres.js as decimal strings and are read as numbers here.
 */
export const Dollars = z.preprocess(
  (v) => (typeof v === "string" && /^\d{1,12}(\.\d{1,6})?$/.test(v) ? Number(v) : v),
  z.number().nonnegative().nullable(),
);

/**
 * US dollars as people read a bill: cents from a dollar up, else the micro-dollars the product
 * stores without trailing zeros (`$0.00072`, `$0.50`).
 *
 * @example
 * ```ts
 * formatUsd(0.00072); // "$0.00072"
 * formatUsd(12.5); // "$12.50"
 * ```
 */
export function formatUsd(usd: number): string {
  if (usd >= 1) return `$${usd.toFixed(2)}`;
  const [whole, cents] = usd.toFixed(6).replace(/0+$/, "").split(".");
  return `$${whole}.${(cents ?? "").padEnd(2, "0")}`;
}

/** Postgres `text` cannot hold NUL; rejecting it here keeps it a 400 and not a database error. */
export function UserText(max: number): z.ZodString {
  return z.string().max(max).refine((s) => !s.includes("\0"), "must not contain NUL characters");
}

/** A JSON object (jsonb) whose shape another part of the product defines. */
export const JsonObject = z.record(z.string(), z.unknown());
