/**
 * Fan-out in memory: which channel joins listen on which topic, with public and private joins kept
 * in separate namespaces as Supabase does (`<tenant>:<topic>` vs `<tenant>-private:<topic>`), so a
 * private message never reaches a public join of the same name and the reverse. A message is
 * encoded once per serializer version, not once per subscriber.
 *
 * @example
 * ```ts
 * const hub = new Hub();
 * hub.add(subscriber);
 * hub.publish({ topic: "room:1", private: true, event: "msg", body: { kind: "json", value: {} } });
 * ```
 */
import { encodeBroadcast, type OutgoingBroadcast, type Vsn } from "./frames.ts";

/** A broadcast addressed to a topic (without the `realtime:` prefix) in one namespace. */
export interface Publication {
  topic: string;
  private: boolean;
  event: string;
  body: OutgoingBroadcast["body"];
  meta?: Record<string, unknown>;
}

/** A channel join that receives publications. */
export interface Subscriber {
  readonly topic: string;
  readonly private: boolean;
  /** Whether this join may receive broadcasts (a private join may be authorized for presence only). */
  readonly receivesBroadcasts: boolean;
  readonly vsn: Vsn;
  /** Sends an already encoded frame. */
  deliver(frame: string | Uint8Array): void;
}

function key(topic: string, isPrivate: boolean): string {
  return `${isPrivate ? "private" : "public"}:${topic}`;
}

/** The registry of joins and the fan-out of publications to them. */
export class Hub {
  readonly #byTopic = new Map<string, Set<Subscriber>>();

  /** Starts delivering the join's topic to `subscriber`. */
  add(subscriber: Subscriber): void {
    const k = key(subscriber.topic, subscriber.private);
    let set = this.#byTopic.get(k);
    if (!set) this.#byTopic.set(k, set = new Set());
    set.add(subscriber);
  }

  /** Stops delivering to `subscriber`. */
  remove(subscriber: Subscriber): void {
    const k = key(subscriber.topic, subscriber.private);
    const set = this.#byTopic.get(k);
    if (!set) return;
    set.delete(subscriber);
    if (set.size === 0) this.#byTopic.delete(k);
  }

  /** Number of joins listening on a topic in one namespace. */
  count(topic: string, isPrivate: boolean): number {
    return this.#byTopic.get(key(topic, isPrivate))?.size ?? 0;
  }

  /**
   * Delivers a publication to every join of its topic and namespace except `except` (the sender of
   * a client broadcast without `self`). Returns how many joins it reached.
   */
  publish(publication: Publication, except?: Subscriber): number {
    const set = this.#byTopic.get(key(publication.topic, publication.private));
    if (!set) return 0;
    const message: OutgoingBroadcast = {
      topic: `realtime:${publication.topic}`,
      event: publication.event,
      body: publication.body,
      meta: publication.meta,
    };
    const encoded = new Map<Vsn, string | Uint8Array | undefined>();
    let reached = 0;
    for (const subscriber of set) {
      if (subscriber === except || !subscriber.receivesBroadcasts) continue;
      if (!encoded.has(subscriber.vsn)) {
        encoded.set(subscriber.vsn, encodeBroadcast(subscriber.vsn, message));
      }
      const frame = encoded.get(subscriber.vsn);
      if (frame === undefined) continue;
      subscriber.deliver(frame);
      reached++;
    }
    return reached;
  }
}
