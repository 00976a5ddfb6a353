/**
 * A sliding-window rate cap: at most `limit` events in any `windowMs` span. It keeps the times of
 * the accepted events only (never more than `limit` of them), so a client flooding a refused
 * operation costs no memory and does not push its own window further out.
 *
 * @example
 * ```ts
 * const joins = new RateWindow(100, 1_000);
 * if (!joins.take()) refuse("ClientJoinRateLimitReached: Too many joins per second");
 * ```
 */
export class RateWindow {
  readonly #times: number[] = [];
  #head = 0;

  constructor(readonly limit: number, readonly windowMs = 1_000) {}

  /** Counts one event and returns true, or returns false (counting nothing) if the cap is reached. */
  take(now = performance.now()): boolean {
    while (this.#head < this.#times.length && now - this.#times[this.#head] >= this.windowMs) {
      this.#head++;
    }
    if (this.#times.length - this.#head >= this.limit) return false;
    if (this.#head > this.limit) {
      this.#times.splice(0, this.#head);
      this.#head = 0;
    }
    this.#times.push(now);
    return true;
  }
}
