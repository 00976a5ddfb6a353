/**
 * The two facts about the local stack that the `bt` CLI and the stack's own scripts must agree on,
 * kept here so the CLI needs nothing from `supabase/local/`: where the local database listens
 * unless `DATABASE_URL` says otherwise, and how a user named on a command line (`bt --user`,
 * `deno task token --user`) maps to an id. An email always maps to the same id, so the same person
 * owns the same runs across restarts.
 *
 * @example
 * ```ts
 * parseLocalUser("Ada@Example.com"); // { sub: userIdForEmail("ada@example.com"), email: "ada@example.com" }
 * localDatabaseUrl(); // "postgresql://postgres:postgres@127.0.0.1:54322/postgres"
 * ```
 */
import { createHash } from "node:crypto";

/** The local database's port: `$BT_DB_PORT`, else 54322 (as `supabase start`). */
export function localDatabasePort(): number {
  return Number(Deno.env.get("BT_DB_PORT") ?? 54322);
}

/** The superuser URL of the local stack's database, honouring `DATABASE_URL`. */
export function localDatabaseUrl(options: { port?: number; password?: string } = {}): string {
  const override = Deno.env.get("DATABASE_URL");
  if (override) return override;
  const port = options.port ?? localDatabasePort();
  const password = options.password ?? "postgres";
  return `postgresql://postgres:${password}@127.0.0.1:${port}/postgres`;
}

/**
 * A stable user id for an email: SHA-256 of the trimmed, lower-cased address, shaped as a v4 UUID
 * so it fits `auth.users.id` and `uuid` columns.
 *
 * @example
 * ```ts
 * userIdForEmail("Ada@Example.com") === userIdForEmail("ada@example.com"); // true
 * ```
 */
export function userIdForEmail(email: string): string {
  const bytes = createHash("sha256").update(email.trim().toLowerCase()).digest().subarray(0, 16);
  bytes[6] = (bytes[6] & 0x0f) | 0x40; // version 4
  bytes[8] = (bytes[8] & 0x3f) | 0x80; // RFC 4122 variant
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${
    hex.slice(20)
  }`;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const EMAIL = /^[^\s@]+@[^\s@]+$/;

/**
 * The user a `--user` value names: a UUID is the id itself (lower-cased); an email gets
 * {@link userIdForEmail} and is kept (lower-cased) as the email claim. `undefined` for anything
 * else, which each command line reports as its own usage error.
 *
 * @example
 * ```ts
 * parseLocalUser("6F1C0000-0000-4000-8000-000000000000"); // { sub: "6f1c0000-0000-4000-8000-000000000000" }
 * parseLocalUser("ada"); // undefined
 * ```
 */
export function parseLocalUser(user: string): { sub: string; email?: string } | undefined {
  const trimmed = user.trim();
  if (UUID.test(trimmed)) return { sub: trimmed.toLowerCase() };
  if (!EMAIL.test(trimmed)) return undefined;
  const email = trimmed.toLowerCase();
  return { sub: userIdForEmail(email), email };
}
