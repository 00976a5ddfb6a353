/**
 * One joined channel on one socket, as a Realtime channel process holds it: its topic and
 * namespace (public or private), its broadcast options (`self`, `ack`), the token it was authorized
 * with, the policies found for that token, and the timer that closes it when the token expires.
 * The socket session owns these and drives them; the hub delivers to them.
 *
 * @example
 * ```ts
 * const join = new ChannelJoin({ topic: "room:1", joinRef: "1", private: true, ... });
 * hub.add(join);
 * ```
 */
import type { Vsn } from "./frames.ts";
import type { Subscriber } from "./hub.ts";
import type { ReadPolicies } from "./authorization.ts";
import type { ChannelClaims } from "./tokens.ts";

/** The most a timer waits before the token is looked at again (setTimeout's range is limited). */
const MAX_TIMER_MS = 60 * 60 * 1000;

/** What a join was created with. */
export interface ChannelJoinInit {
  /** The channel name without `realtime:`. */
  topic: string;
  joinRef: string | null;
  private: boolean;
  self: boolean;
  ack: boolean;
  presenceEnabled: boolean;
  token: string;
  claims: ChannelClaims;
  read: ReadPolicies | null;
  vsn: Vsn;
  send: (frame: string | Uint8Array) => void;
}

/** A joined channel: a hub subscriber plus the state Realtime keeps per channel. */
export class ChannelJoin implements Subscriber {
  readonly topic: string;
  readonly joinRef: string | null;
  readonly private: boolean;
  readonly self: boolean;
  readonly ack: boolean;
  readonly presenceEnabled: boolean;
  readonly vsn: Vsn;
  token: string;
  claims: ChannelClaims;
  /** SELECT policies found at join (null on public channels, which are not checked). */
  read: ReadPolicies | null;
  /** INSERT policy for broadcasts, checked on the first client broadcast and cached. */
  canWriteBroadcast: boolean | undefined;
  closed = false;
  readonly #send: (frame: string | Uint8Array) => void;
  #expiryTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(init: ChannelJoinInit) {
    this.topic = init.topic;
    this.joinRef = init.joinRef;
    this.private = init.private;
    this.self = init.self;
    this.ack = init.ack;
    this.presenceEnabled = init.presenceEnabled;
    this.vsn = init.vsn;
    this.token = init.token;
    this.claims = init.claims;
    this.read = init.read;
    this.#send = init.send;
  }

  /** The Phoenix topic (`realtime:<name>`). */
  get phoenixTopic(): string {
    return `realtime:${this.topic}`;
  }

  get receivesBroadcasts(): boolean {
    return !this.closed && (this.read === null || this.read.broadcast);
  }

  deliver(frame: string | Uint8Array): void {
    if (!this.closed) this.#send(frame);
  }

  /** Calls `onDue` when the token's `exp` is reached (re-armed in steps for far-off expiries). */
  scheduleExpiry(onDue: () => void, now = Date.now()): void {
    this.cancelExpiry();
    const wait = Math.max(0, this.claims.exp * 1000 - now);
    this.#expiryTimer = setTimeout(() => {
      this.#expiryTimer = undefined;
      if (wait > MAX_TIMER_MS) this.scheduleExpiry(onDue);
      else onDue();
    }, Math.min(wait, MAX_TIMER_MS));
  }

  cancelExpiry(): void {
    if (this.#expiryTimer !== undefined) clearTimeout(this.#expiryTimer);
    this.#expiryTimer = undefined;
  }

  /** Marks the join closed; it receives nothing more. */
  close(): void {
    this.closed = true;
    this.cancelExpiry();
  }
}
