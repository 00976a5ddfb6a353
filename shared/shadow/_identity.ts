/**
 * The SQL that runs a statement as a Supabase API caller and back, shared by both backends: a
 * savepoint, then `role` and `request.jwt.claims` set local to the transaction, as PostgREST sets
 * them per request. Leaving either keeps the statement's effects (release, then back to the owner
 * role) or undoes them (rollback to the savepoint, which also undoes the settings). Each step is
 * one simple-protocol round trip.
 */
import type { Identity } from "./port.ts";
import { SHADOW_OWNER } from "./platform.ts";

function literal(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}

/** Opens the savepoint and becomes `identity`. */
export function enterIdentity(identity: Identity): string {
  return `savepoint bt_shadow_as; ` +
    `select set_config('role', ${literal(identity.role)}, true), ` +
    `set_config('request.jwt.claims', ${literal(JSON.stringify(identity.claims))}, true)`;
}

/** Keeps what the statement did and becomes the owner again. */
export const KEEP_AND_LEAVE = `release savepoint bt_shadow_as; ` +
  `select set_config('role', '${SHADOW_OWNER}', true), set_config('request.jwt.claims', '', true)`;

/** Undoes what the statement did (and the identity with it). */
export const UNDO_AND_LEAVE = "rollback to savepoint bt_shadow_as";
