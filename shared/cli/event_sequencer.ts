/**
 * Puts a run's events back in order. Events reach a follower two ways — the catch-up read of
 * `GET /runs/:id/events?after=` and live Realtime broadcasts — which overlap, and a broadcast can
 * be missed while a socket reconnects. Every event has a gapless `seq`, so the sequencer releases
 * events strictly in `seq` order, drops ones it has seen, and holds any that arrive past a gap
 * until the gap is filled (it tells the follower there is one, so it reads the log). Pure.
 *
 * @example
 * ```ts
 * const s = new EventSequencer();
 * s.accept([{ seq: 2 }]); // [] — seq 1 is missing: s.hasGap === true
 * s.accept([{ seq: 1 }, { seq: 2 }]); // [{ seq: 1 }, { seq: 2 }]
 * ```
 */

/** Anything with a run-wide sequence number. */
export interface Sequenced {
  seq: number;
}

/** Orders, de-duplicates and gap-checks events by `seq`. */
export class EventSequencer<E extends Sequenced> {
  #last: number;
  readonly #held = new Map<number, E>();

  /** `after`: the last seq already handled (0 for none). */
  constructor(after = 0) {
    this.#last = after;
  }

  /** The last seq released. */
  get lastSeq(): number {
    return this.#last;
  }

  /** Whether events past a missing seq are held back. */
  get hasGap(): boolean {
    return this.#held.size > 0;
  }

  /** Takes events in any order, with repeats; returns those now in order, each once. */
  accept(events: Iterable<E>): E[] {
    for (const event of events) {
      if (!Number.isSafeInteger(event.seq) || event.seq <= this.#last) continue;
      if (!this.#held.has(event.seq)) this.#held.set(event.seq, event);
    }
    const ready: E[] = [];
    for (let next = this.#held.get(this.#last + 1); next; next = this.#held.get(this.#last + 1)) {
      this.#held.delete(next.seq);
      this.#last = next.seq;
      ready.push(next);
    }
    return ready;
  }
}
