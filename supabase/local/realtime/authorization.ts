/**
 * Private-channel authorization as Supabase Realtime does it: row level security on
 * `realtime.messages`, evaluated with the joining user's claims. Read: in a transaction that is
 * always rolled back, insert probe rows for the topic (as the server), then become the caller
 * (`role`, `request.jwt.claims`, `realtime.topic`) and see which probes the SELECT policies let
 * through. Write: as the caller, try inserting a probe inside a savepoint; an
 * `insufficient_privilege` error means the INSERT policies say no. Nothing is ever committed, and
 * the probes' NOTIFYs die with the rollback.
 *
 * @example
 * ```ts
 * const read = await readPolicies(sql, { topic: "room:1", claims });
 * if (!read.broadcast && !read.presence) refuse();
 * ```
 */
import type { Sql, TransactionSql } from "../../../shared/db/mod.ts";
import type { Claims } from "../../../shared/auth/mod.ts";

/** Who asks, about which topic (the channel name without `realtime:`). */
export interface AuthorizationContext {
  topic: string;
  claims: Claims;
  /** Request headers, exposed to policies as `request.headers` (JSON). */
  headers?: Record<string, string>;
}

/** What the SELECT policies allow. */
export interface ReadPolicies {
  broadcast: boolean;
  presence: boolean;
}

/** What the INSERT policies allow. */
export interface WritePolicies {
  broadcast: boolean;
  presence: boolean;
}

/** The probe transaction's outcome, carried out of `sql.begin` by throwing (which rolls back). */
class ProbeOutcome<T> {
  constructor(readonly value: T) {}
}

async function probe<T>(sql: Sql, fn: (tx: TransactionSql) => Promise<T>): Promise<T> {
  try {
    await sql.begin(async (tx) => {
      throw new ProbeOutcome(await fn(tx));
    });
  } catch (e) {
    if (e instanceof ProbeOutcome) return e.value as T;
    throw e;
  }
  throw new Error("unreachable: the probe transaction always rolls back");
}

async function becomeCaller(tx: TransactionSql, ctx: AuthorizationContext): Promise<void> {
  const { claims } = ctx;
  await tx`
    select set_config('role', ${claims.role}, true),
           set_config('realtime.topic', ${ctx.topic}, true),
           set_config('request.jwt.claims', ${JSON.stringify(claims)}, true),
           set_config('request.jwt.claim.sub', ${claims.sub ?? ""}, true),
           set_config('request.jwt.claim.role', ${claims.role}, true),
           set_config('request.headers', ${JSON.stringify(ctx.headers ?? {})}, true)`;
}

/** Evaluates the SELECT policies on `realtime.messages` for a caller and topic. */
export function readPolicies(sql: Sql, ctx: AuthorizationContext): Promise<ReadPolicies> {
  return probe(sql, async (tx) => {
    const probes = await tx<{ id: string; extension: string }[]>`
      insert into realtime.messages (topic, extension)
      values (${ctx.topic}, 'broadcast'), (${ctx.topic}, 'presence')
      returning id::text, extension`;
    const broadcastId = probes.find((p) => p.extension === "broadcast")!.id;
    const presenceId = probes.find((p) => p.extension === "presence")!.id;
    await becomeCaller(tx, ctx);
    const visible = await tx<{ id: string }[]>`
      select id::text from realtime.messages
       where topic = ${ctx.topic}
         and ((extension = 'broadcast' and id = ${broadcastId}::uuid)
           or (extension = 'presence' and id = ${presenceId}::uuid))`;
    const ids = new Set(visible.map((r) => r.id));
    return { broadcast: ids.has(broadcastId), presence: ids.has(presenceId) };
  });
}

const INSUFFICIENT_PRIVILEGE = "42501";

/** Evaluates the INSERT policies on `realtime.messages` for a caller and topic. */
export function writePolicies(sql: Sql, ctx: AuthorizationContext): Promise<WritePolicies> {
  return probe(sql, async (tx) => {
    await becomeCaller(tx, ctx);
    const canInsert = async (extension: "broadcast" | "presence") => {
      try {
        await tx.savepoint((sp) =>
          sp`insert into realtime.messages (topic, extension) values (${ctx.topic}, ${extension})`
        );
        return true;
      } catch (e) {
        if ((e as { code?: string }).code === INSUFFICIENT_PRIVILEGE) return false;
        throw e;
      }
    };
    return { broadcast: await canInsert("broadcast"), presence: await canInsert("presence") };
  });
}
