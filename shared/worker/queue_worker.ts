/**
 * The drain loop every queue worker runs (the agents' and the orchestrator's): woken by an HTTP
 * call or the safety-net schedule, it reads messages with a visibility timeout as their lease,
 * runs up to `concurrency` handlers at once, keeps each lease alive while its handler works (a long
 * LLM call), and stops when the queue is empty, the wall-clock budget is spent or the runtime
 * shuts down. A handler that throws, or a process that dies, leaves its message to come back when
 * the lease runs out: nothing is acknowledged here, handlers finish messages in SQL.
 *
 * @example
 * ```ts
 * const worker = new QueueWorker({ queue, vtSeconds: 30, concurrency: 4, handle });
 * worker.wake(); // from the function's HTTP handler
 * ```
 */
import type { Queue, QueueMessage } from "../queue/mod.ts";

/** What a handler gets besides its message: the lease it holds. */
export interface Lease {
  /** Aborted when the lease is lost (the message was archived elsewhere) or the worker stops. */
  readonly signal: AbortSignal;
}

/** How a {@link QueueWorker} runs. */
export interface QueueWorkerOptions {
  queue: Queue;
  /** Lease length in seconds; it is renewed every half of it while the handler runs. */
  vtSeconds: number;
  /** Messages handled at the same time. */
  concurrency: number;
  /** Handles one message. It finishes the message itself (in SQL) or leaves it for redelivery. */
  handle(message: QueueMessage, lease: Lease): Promise<void>;
  /** Wall-clock budget of one drain in ms (Edge Functions stop at 150 s / 400 s); default 120 s. */
  drainBudgetMs?: number;
  /** Where failures are reported (default: console.error). */
  onError?(error: unknown, message?: QueueMessage): void;
}

/** Drains a queue whenever woken; at most one drain loop runs per worker. */
export class QueueWorker {
  readonly #options: QueueWorkerOptions;
  readonly #stopping = new AbortController();
  #running: Promise<void> | undefined;
  #wokenWhileRunning = false;
  #nudge: (() => void) | undefined;

  constructor(options: QueueWorkerOptions) {
    this.#options = options;
  }

  /** Starts a drain, or makes the running one look again; returns when that drain ends. */
  wake(): Promise<void> {
    if (this.#stopping.signal.aborted) return Promise.resolve();
    if (this.#running) {
      this.#wokenWhileRunning = true;
      this.#nudge?.();
      return this.#running;
    }
    this.#running = this.#drain().finally(() => this.#running = undefined);
    return this.#running;
  }

  /** Stops reading and aborts every lease; unfinished messages come back after their lease. */
  async stop(): Promise<void> {
    this.#stopping.abort();
    this.#nudge?.();
    await this.#running?.catch(() => {});
  }

  /** Whether a drain is running. */
  get busy(): boolean {
    return this.#running !== undefined;
  }

  async #drain(): Promise<void> {
    const { queue, concurrency } = this.#options;
    const deadline = Date.now() + (this.#options.drainBudgetMs ?? 120_000);
    const inFlight = new Set<Promise<void>>();
    let readFailures = 0;
    while (!this.#stopping.signal.aborted && Date.now() < deadline) {
      this.#wokenWhileRunning = false;
      let read: QueueMessage[] = [];
      const free = concurrency - inFlight.size;
      if (free > 0) {
        try {
          read = await queue.read({ vtSeconds: this.#options.vtSeconds, qty: free });
          readFailures = 0;
        } catch (e) {
          this.#report(e);
          if (++readFailures >= 3) break;
          await delay(200 * readFailures);
          continue;
        }
      }
      for (const message of read) {
        const job = this.#run(message).finally(() => inFlight.delete(job));
        inFlight.add(job);
      }
      if (read.length === free && free > 0) continue;
      // A wake-up that came while this read was under way may announce work the read missed.
      if (this.#wokenWhileRunning && inFlight.size < concurrency) continue;
      if (inFlight.size === 0) break;
      // Wait for a slot to free up, or for a wake-up saying there is new work.
      await new Promise<void>((resolve) => {
        this.#nudge = resolve;
        Promise.race(inFlight).then(resolve, resolve);
      });
      this.#nudge = undefined;
    }
    await Promise.allSettled(inFlight);
  }

  async #run(message: QueueMessage): Promise<void> {
    const lease = new AbortController();
    const onStop = () => lease.abort(new Error("worker stopping"));
    this.#stopping.signal.addEventListener("abort", onStop);
    const renewEveryMs = Math.max(200, (this.#options.vtSeconds * 1000) / 2);
    const timer = setInterval(() => {
      this.#options.queue.setVt(message.msg_id, this.#options.vtSeconds).then((held) => {
        if (!held) lease.abort(new Error("lease lost: the message is gone"));
      }, (e) => this.#report(e, message));
    }, renewEveryMs);
    try {
      await this.#options.handle(message, { signal: lease.signal });
    } catch (e) {
      this.#report(e, message);
    } finally {
      clearInterval(timer);
      this.#stopping.signal.removeEventListener("abort", onStop);
    }
  }

  #report(error: unknown, message?: QueueMessage): void {
    if (this.#options.onError) this.#options.onError(error, message);
    else console.error(`[worker ${this.#options.queue.name}]`, error);
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
