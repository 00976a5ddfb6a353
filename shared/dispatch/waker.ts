/**
 * Wake-ups: right after a transaction enqueues work, the worker function that owns the queue is
 * called over HTTP so it starts at once instead of at the next poll. A wake-up carries no data
 * and may be lost (the safety-net schedule wakes every queue with visible messages), so it is
 * fire-and-forget: the caller never waits for the worker's work.
 *
 * @example
 * ```ts
 * const wake = createWaker({ functionsUrl: `${SUPABASE_URL}/functions/v1`, secret });
 * wake(["security", "query-optimizer"]);
 * ```
 */
import { functionOf, type WorkerName } from "./workers.ts";

/** Wakes workers; never throws. */
export type Waker = (workers: Iterable<WorkerName>) => void;

/** How to reach the worker functions. */
export interface WakerOptions {
  /** `<project URL>/functions/v1`. */
  functionsUrl: string;
  /** The worker secret the functions accept (sent as `apikey` and as a bearer token). */
  secret: string;
  /** Reports a failed wake-up (default: console.error); the safety net recovers from it. */
  onError?(error: unknown, worker: WorkerName): void;
}

/** A {@link Waker} calling `POST <functionsUrl>/<function>/wake`. */
export function createWaker(options: WakerOptions): Waker {
  const base = options.functionsUrl.replace(/\/$/, "");
  const report = options.onError ??
    ((e: unknown, w: WorkerName) => console.error(`wake ${w} failed:`, e));
  return (workers) => {
    for (const worker of new Set(workers)) {
      fetch(`${base}/${functionOf(worker)}/wake`, {
        method: "POST",
        headers: { apikey: options.secret, authorization: `Bearer ${options.secret}` },
      }).then(async (res) => {
        await res.body?.cancel();
        if (!res.ok) report(new Error(`HTTP ${res.status}`), worker);
      }, (e) => report(e, worker));
    }
  };
}
