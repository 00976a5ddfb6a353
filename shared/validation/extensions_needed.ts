/**
 * Which extensions' code a shadow session must load for a set of parsed files: those the files
 * create, plus `pgcrypto` and `uuid-ossp` when their functions are called. PGlite loads extension
 * code only when asked (each bundle costs startup time), so this is a load-time optimisation and a
 * text match is enough for the calls — a miss only means a slower, still correct, instance.
 * Shared by `validateMigrations` and delivery's integration check, so both open their
 * sessions alike.
 *
 * @example
 * ```ts
 * const session = await shadow.open({ extensions: extensionsNeeded(parsedFiles) });
 * ```
 */
import { asNode } from "../pg_ast/mod.ts";
import type { ParsedFile } from "./parse.ts";

const PGCRYPTO_CALL =
  /\b(gen_random_bytes|crypt|gen_salt|digest|hmac|pgp_\w+|armor|dearmor|encrypt|decrypt|encrypt_iv|decrypt_iv)\s*\(/i;
const UUID_OSSP_CALL = /\buuid_(generate_v[1345]\w*|nil|ns_\w+)\s*\(/i;

/** Extension names the files create or call into (lowercase, without duplicates). */
export function extensionsNeeded(files: readonly ParsedFile[]): string[] {
  const out = new Set<string>();
  for (const f of files) {
    for (const s of f.statements) {
      const ext = asNode(s.node, "CreateExtensionStmt");
      if (ext?.extname) out.add(ext.extname.toLowerCase());
    }
    if (PGCRYPTO_CALL.test(f.sql)) out.add("pgcrypto");
    if (UUID_OSSP_CALL.test(f.sql)) out.add("uuid-ossp");
  }
  return [...out];
}
