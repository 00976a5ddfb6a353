/**
 * A counting semaphore: at most `size` holders at once, the rest wait in arrival order. The agent
 * workers take one per shadow validation, so a worker with many messages in flight holds a
 * bounded number of validations (each a shadow session and its parse trees) in memory at once.
 *
 * @example
 * ```ts
 * const slots = createSlots(2);
 * const report = await slots.run(() => validateMigrations(options));
 * ```
 */

/** A bounded set of slots. */
export interface Slots {
  /** Runs `work` once a slot is free, and frees it when `work` settles. */
  run<T>(work: () => Promise<T>): Promise<T>;
  /** Holders now, and callers waiting. */
  readonly busy: number;
  readonly waiting: number;
}

/** Slots for at most `size` concurrent holders (`size` ≥ 1). */
export function createSlots(size: number): Slots {
  if (!Number.isInteger(size) || size < 1) throw new RangeError(`slots: size ${size} < 1`);
  let busy = 0;
  const queue: (() => void)[] = [];
  const acquire = (): Promise<void> => {
    if (busy < size) {
      busy++;
      return Promise.resolve();
    }
    // The slot passes straight to the next waiter: `busy` stays the same.
    return new Promise((resolve) => queue.push(resolve));
  };
  const release = () => {
    const next = queue.shift();
    if (next) next();
    else busy--;
  };
  return {
    async run(work) {
      await acquire();
      try {
        return await work();
      } finally {
        release();
      }
    },
    get busy() {
      return busy;
    },
    get waiting() {
      return queue.length;
    },
  };
}
