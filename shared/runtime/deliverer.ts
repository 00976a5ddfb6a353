/**
 * Phase 7 as the orchestrator worker runs it: `deliverRun` from shared/delivery, with the merged
 * migrations validated on a disposable shadow database — a fresh database per delivery on the
 * server named by `SHADOW_DATABASE_URL` (the local stack sets it to its own cluster), else in PGlite
 * in process, as the agents' validator does.
 *
 * @example
 * ```ts
 * const deliver = await createDeliverer(sql);
 * await deliver(run, msgId);
 * ```
 */
import type { Sql } from "../db/mod.ts";
import { deliverRun, pgliteDeliveryShadow, postgresDeliveryShadow } from "../delivery/mod.ts";
import type { RunRecord } from "../orchestration/mod.ts";
import { applyPlatformSql, platformFiles } from "../../supabase/local/platform.ts";

/** The `deliver` step of the orchestrator worker. */
export async function createDeliverer(
  sql: Sql,
  env: Record<string, string | undefined> = Deno.env.toObject(),
): Promise<(run: RunRecord, msgId: number) => Promise<void>> {
  const shadowUrl = env.SHADOW_DATABASE_URL;
  // The same choice as the agents' validator: the server named, else PGlite in process.
  const shadow = shadowUrl
    ? postgresDeliveryShadow({ adminUrl: shadowUrl, prepare: applyPlatformSql })
    : pgliteDeliveryShadow({ platformSql: await platformFiles() });
  return async (run, msgId) => {
    await deliverRun({ sql, shadow }, run, msgId);
  };
}
