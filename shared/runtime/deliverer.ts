/**
 * Phase 7 as the orchestrator worker runs it: `deliverRun` from shared/delivery, with the merged
 * migrations validated on a disposable shadow database — a fresh database per delivery on the
 * server named by `SHADOW_DATABASE_URL` (the local stack sets it to its own cluster). Without a
 * shadow server the deliverable is assembled without integration evidence, and says so.
 *
 * @example
 * ```ts
 * const deliver = createDeliverer(sql);
 * await deliver(run, msgId);
 * ```
 */
import type { Sql } from "../db/mod.ts";
import { deliverRun, postgresDeliveryShadow } from "../delivery/mod.ts";
import type { RunRecord } from "../orchestration/mod.ts";
import { applyPlatformSql } from "../../supabase/local/platform.ts";

/** The `deliver` step of the orchestrator worker. */
export function createDeliverer(
  sql: Sql,
  env: Record<string, string | undefined> = Deno.env.toObject(),
): (run: RunRecord, msgId: number) => Promise<void> {
  const shadowUrl = env.SHADOW_DATABASE_URL;
  const shadow = shadowUrl
    ? postgresDeliveryShadow({ adminUrl: shadowUrl, prepare: applyPlatformSql })
    : undefined;
  return async (run, msgId) => {
    await deliverRun({ sql, shadow }, run, msgId);
  };
}
