/**
 * The local stack's stand-in for the pg_cron + pg_net safety net: once a second it asks which
 * queues hold visible messages (work whose wake-up was lost, or whose lease ran out because a
 * worker died) and wakes their worker functions. On Supabase the migration
 * `*_worker_schedule.sql` schedules the same check with pg_cron.
 *
 * @example
 * ```ts
 * const schedule = startWorkerSchedule({ sql, wake, intervalMs: 1000 });
 * await schedule.stop();
 * ```
 */
import type { Sql } from "../../shared/db/mod.ts";
import { type Waker, type WorkerName, workerOfQueue } from "../../shared/dispatch/mod.ts";

/** A running schedule. */
export interface WorkerSchedule {
  stop(): Promise<void>;
}

/** Starts the loop; each tick wakes the workers of queues with visible messages. */
export function startWorkerSchedule(options: {
  sql: Sql;
  wake: Waker;
  intervalMs?: number;
}): WorkerSchedule {
  let stopped = false;
  let tick: Promise<void> = Promise.resolve();
  const run = async () => {
    try {
      const rows = await options.sql<{ queue: string }[]>`
        select q as queue from backend_team.queues_with_visible_messages() as q`;
      const workers = rows.map((r) => workerOfQueue(r.queue)).filter((w): w is WorkerName => !!w);
      if (workers.length > 0) options.wake(workers);
    } catch (e) {
      if (!stopped) console.error("[schedule] could not check the queues:", (e as Error).message);
    }
  };
  const timer = setInterval(() => {
    tick = tick.then(run);
  }, options.intervalMs ?? 1000);
  return {
    async stop() {
      stopped = true;
      clearInterval(timer);
      await tick;
    },
  };
}

/** The local stack's worker secret: derived from the JWT secret, so it is stable across restarts. */
export async function localWorkerSecret(jwtSecret: string): Promise<string> {
  const key = await crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(jwtSecret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const mac = await crypto.subtle.sign("HMAC", key, new TextEncoder().encode("bt worker secret"));
  return "bt_worker_" +
    [...new Uint8Array(mac)].map((b) => b.toString(16).padStart(2, "0")).join("");
}
