/**
 * One client socket, behaving as Supabase Realtime's socket and channel processes do towards
 * `@supabase/realtime-js`: heartbeats on `phoenix`, `phx_join` (private joins authorized by RLS),
 * `phx_leave`, `access_token` (re-authorization, or the channel is shut down), client `broadcast`
 * pushes (JSON or binary kind 3) relayed to the other joins of the topic, minimal presence, and the
 * close of a channel when its token expires (`system` error, then `phx_close`). Frames of one topic
 * are handled in order, one at a time, as a channel process would; heartbeats never wait.
 *
 * The caps of `limits.ts` hold per socket: a message over the frame cap closes the socket with
 * 1009 before anything parses it (as Supabase's WebSocket server does past its max frame size);
 * a join past the channel cap or the per-second join cap, and a client broadcast past the
 * per-second message cap, are refused with Supabase's reasons while the socket stays open.
 */
import { z } from "zod";
import type { Sql } from "../../../shared/db/mod.ts";
import { type ReadPolicies, readPolicies, writePolicies } from "./authorization.ts";
import { ChannelJoin } from "./channel.ts";
import {
  type BroadcastPush,
  broadcastPushFromFrame,
  decodeBinary,
  decodeText,
  encodeText,
  exceedsBytes,
  type Frame,
  type Vsn,
} from "./frames.ts";
import type { Hub } from "./hub.ts";
import type { RealtimeLimits } from "./limits.ts";
import { RateWindow } from "./rate_window.ts";
import { checkToken } from "./tokens.ts";

const TOPIC_PREFIX = "realtime:";

/** Close code for a message too big to process (RFC 6455 §7.4.1). */
export const CLOSE_MESSAGE_TOO_BIG = 1009;

/** Supabase Realtime's reasons for the refusals the caps cause. */
export const LIMIT_REASONS = {
  tooManyChannels: "ChannelRateLimitReached: Too many channels",
  tooManyJoins: "ClientJoinRateLimitReached: Too many joins per second",
  tooManyMessages: "MessagePerSecondRateLimitReached: Too many messages per second",
} as const;

/** The join payload realtime-js sends; anything unreadable falls back to the defaults. */
const JoinPayload = z.looseObject({
  config: z.looseObject({
    broadcast: z.looseObject({
      self: z.boolean().optional(),
      ack: z.boolean().optional(),
    }).optional(),
    presence: z.looseObject({
      key: z.string().optional(),
      enabled: z.boolean().optional(),
    }).optional(),
    postgres_changes: z.array(z.record(z.string(), z.unknown())).optional(),
    private: z.boolean().optional(),
  }).optional(),
  access_token: z.string().nullish(),
  user_token: z.string().nullish(),
});
type JoinPayload = z.infer<typeof JoinPayload>;

const AccessTokenPayload = z.looseObject({ access_token: z.string().nullish() });

/** What a session needs from the server it belongs to. */
export interface SessionDeps {
  hub: Hub;
  sql: Sql;
  jwtSecret: string;
  /** Delay before a join error is answered (Realtime backs off the same way). */
  joinErrorBackoffMs: number;
  limits: Pick<
    RealtimeLimits,
    "maxChannelsPerClient" | "maxJoinsPerSecond" | "maxEventsPerSecond" | "maxFrameBytes"
  >;
  log: (line: string) => void;
}

/** The socket-level facts fixed at connect time. */
export interface SessionInit {
  vsn: Vsn;
  /** The connect-time `apikey` (already verified): the token of joins that bring none. */
  apikey: string;
}

/** A client socket and its joined channels. */
export class Session {
  readonly vsn: Vsn;
  /** When the client last sent anything (ms since epoch); the server closes idle sockets. */
  lastSeen = Date.now();
  readonly #ws: WebSocket;
  readonly #apikey: string;
  readonly #deps: SessionDeps;
  readonly #joins = new Map<string, ChannelJoin>();
  /** Topics whose join is being authorized; they count against the channel cap already. */
  readonly #joining = new Set<string>();
  readonly #queues = new Map<string, Promise<void>>();
  readonly #joinRate: RateWindow;
  readonly #messageRate: RateWindow;
  #closed = false;

  constructor(ws: WebSocket, init: SessionInit, deps: SessionDeps) {
    this.#ws = ws;
    this.vsn = init.vsn;
    this.#apikey = init.apikey;
    this.#deps = deps;
    this.#joinRate = new RateWindow(deps.limits.maxJoinsPerSecond);
    this.#messageRate = new RateWindow(deps.limits.maxEventsPerSecond);
    ws.binaryType = "arraybuffer";
    ws.addEventListener("message", (e) => this.#onMessage(e.data));
    ws.addEventListener("close", () => this.#teardown());
    ws.addEventListener("error", () => this.#teardown());
  }

  /** Whether the socket has closed. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Closes the socket (the client reconnects, as after any server-side close). */
  close(reason: string, code = 1000): void {
    try {
      this.#ws.close(code, reason);
    } catch {
      // Already closing.
    }
    this.#teardown();
  }

  /** Resolves once the socket is closed (or after `timeoutMs`). */
  whenClosed(timeoutMs: number): Promise<void> {
    if (this.#ws.readyState === WebSocket.CLOSED) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      this.#ws.addEventListener("close", () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  #teardown(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const join of this.#joins.values()) this.#drop(join);
    this.#joins.clear();
  }

  #send(data: string | Uint8Array): void {
    if (this.#ws.readyState !== WebSocket.OPEN) return;
    try {
      this.#ws.send(data);
    } catch (e) {
      this.#deps.log(`send failed: ${e instanceof Error ? e.message : e}`);
    }
  }

  #sendFrame(frame: Frame): void {
    this.#send(encodeText(this.vsn, frame));
  }

  #reply(
    to: { joinRef: string | null; ref: string | null; topic: string },
    status: string,
    response: unknown,
  ): void {
    this.#sendFrame({
      joinRef: to.joinRef,
      ref: to.ref,
      topic: to.topic,
      event: "phx_reply",
      payload: { status, response },
    });
  }

  #onMessage(data: unknown): void {
    this.lastSeen = Date.now();
    if (this.#closed) return;
    const max = this.#deps.limits.maxFrameBytes;
    if ((typeof data === "string" || data instanceof ArrayBuffer) && exceedsBytes(data, max)) {
      this.#deps.log(`closed a socket that sent a message over the ${max}-byte frame limit`);
      return this.close(
        `Message too big: frames are limited to ${max} bytes`,
        CLOSE_MESSAGE_TOO_BIG,
      );
    }
    try {
      if (typeof data === "string") {
        this.#route(decodeText(this.vsn, data));
      } else if (data instanceof ArrayBuffer) {
        const push = decodeBinary(new Uint8Array(data));
        this.#enqueue(push.topic, () => this.#onBroadcast(push));
      }
    } catch (e) {
      this.#deps.log(`unreadable frame: ${e instanceof Error ? e.message : e}`);
    }
  }

  #route(frame: Frame): void {
    if (frame.topic === "phoenix") {
      if (frame.event === "heartbeat") this.#reply(frame, "ok", {});
      return;
    }
    this.#enqueue(frame.topic, () => this.#onChannelFrame(frame));
  }

  /** Runs `task` after the topic's earlier frames, as a channel process handles its mailbox. */
  #enqueue(topic: string, task: () => Promise<void> | void): void {
    const previous = this.#queues.get(topic) ?? Promise.resolve();
    const next = previous.then(task).catch((e) => {
      this.#deps.log(`error on ${topic}: ${e instanceof Error ? e.stack ?? e.message : e}`);
    });
    this.#queues.set(topic, next);
    next.finally(() => {
      if (this.#queues.get(topic) === next) this.#queues.delete(topic);
    });
  }

  async #onChannelFrame(frame: Frame): Promise<void> {
    if (this.#closed) return;
    if (frame.event === "phx_join") return await this.#onJoin(frame);
    const join = this.#joins.get(frame.topic);
    if (frame.event === "phx_leave") {
      if (join) this.#leave(join);
      return this.#reply(frame, "ok", {});
    }
    if (!join || (frame.joinRef !== null && frame.joinRef !== join.joinRef)) {
      return this.#reply(frame, "error", { reason: "unmatched topic" });
    }
    switch (frame.event) {
      case "access_token":
        return await this.#onAccessToken(join, frame.payload);
      case "broadcast": {
        const push = broadcastPushFromFrame(frame);
        if (push) await this.#onBroadcast(push);
        return;
      }
      case "presence":
        // Minimal presence: tracking is acknowledged, nobody else is told (see mod.ts).
        return this.#reply(frame, "ok", {});
      default:
        // Realtime ignores unexpected client events without a reply.
        return;
    }
  }

  #joinError(frame: Frame, reason: string): Promise<void> {
    const answer = () => this.#reply(frame, "error", { reason });
    const backoff = this.#deps.joinErrorBackoffMs;
    if (backoff <= 0) return Promise.resolve(answer());
    return new Promise((resolve) =>
      setTimeout(() => {
        if (!this.#closed) answer();
        resolve();
      }, backoff)
    );
  }

  #tokenOf(payload: JoinPayload): string {
    const token = payload.user_token ?? payload.access_token;
    // A publishable key (`sb_…`) stands for the connect-time key, as on the platform.
    if (!token || token.startsWith("sb_")) return this.#apikey;
    return token;
  }

  async #onJoin(frame: Frame): Promise<void> {
    if (!frame.topic.startsWith(TOPIC_PREFIX)) {
      return this.#reply(frame, "error", { reason: "unmatched topic" });
    }
    const topic = frame.topic.slice(TOPIC_PREFIX.length);
    if (topic === "") {
      return await this.#joinError(frame, "TopicNameRequired: You must provide a topic name");
    }
    if (!this.#joinRate.take()) return await this.#joinError(frame, LIMIT_REASONS.tooManyJoins);

    // A join of a topic already joined on this socket replaces the old join.
    const existing = this.#joins.get(frame.topic);
    if (existing) this.#leave(existing);
    if (this.#joins.size + this.#joining.size >= this.#deps.limits.maxChannelsPerClient) {
      return await this.#joinError(frame, LIMIT_REASONS.tooManyChannels);
    }
    this.#joining.add(frame.topic);
    try {
      await this.#authorizeAndJoin(frame, topic);
    } finally {
      this.#joining.delete(frame.topic);
    }
  }

  async #authorizeAndJoin(frame: Frame, topic: string): Promise<void> {
    const parsed = JoinPayload.safeParse(frame.payload);
    const payload: JoinPayload = parsed.success ? parsed.data : {};
    const config = payload.config ?? {};
    const isPrivate = config.private === true;
    const token = this.#tokenOf(payload);
    const checked = await checkToken(this.#deps.jwtSecret, token);
    if (!checked.ok) return await this.#joinError(frame, checked.reason);

    let read: ReadPolicies | null = null;
    if (isPrivate) {
      try {
        read = await readPolicies(this.#deps.sql, { topic, claims: checked.claims });
      } catch (e) {
        this.#deps.log(`policy check failed for ${topic}: ${e instanceof Error ? e.message : e}`);
        read = { broadcast: false, presence: false };
      }
      if (!read.broadcast && !read.presence) {
        return await this.#joinError(
          frame,
          `Unauthorized: You do not have permissions to read from this Channel topic: ${topic}`,
        );
      }
    }
    if (this.#closed) return;

    const join = new ChannelJoin({
      topic,
      joinRef: frame.joinRef,
      private: isPrivate,
      self: config.broadcast?.self === true,
      ack: config.broadcast?.ack === true,
      presenceEnabled: config.presence?.enabled === true,
      token,
      claims: checked.claims,
      read,
      vsn: this.vsn,
      send: (data) => this.#send(data),
    });
    this.#joins.set(frame.topic, join);
    // Subscribed before the reply: whatever commits after the client sees SUBSCRIBED reaches it.
    this.#deps.hub.add(join);
    join.scheduleExpiry(() => this.#enqueue(frame.topic, () => this.#onExpiryDue(join)));

    const bindings = config.postgres_changes ?? [];
    this.#reply(frame, "ok", {
      postgres_changes: bindings.map((binding, i) => ({ ...binding, id: i + 1 })),
    });
    if (join.presenceEnabled) this.#push(join, "presence_state", {});
    if (bindings.length > 0) {
      this.#system(
        join,
        "postgres_changes",
        "error",
        "Postgres Changes are not available on the local Realtime server; use Broadcast from Database",
      );
    }
  }

  #push(join: ChannelJoin, event: string, payload: unknown): void {
    this.#sendFrame({ joinRef: join.joinRef, ref: null, topic: join.phoenixTopic, event, payload });
  }

  #system(join: ChannelJoin, extension: string, status: string, message: string): void {
    this.#push(join, "system", { extension, status, message, channel: join.topic });
  }

  #drop(join: ChannelJoin): void {
    join.close();
    this.#deps.hub.remove(join);
  }

  #leave(join: ChannelJoin): void {
    this.#drop(join);
    if (this.#joins.get(join.phoenixTopic) === join) this.#joins.delete(join.phoenixTopic);
  }

  /** Ends a channel as Realtime's `shutdown_response` does: a `system` error, then `phx_close`. */
  #shutdown(join: ChannelJoin, message: string): void {
    if (join.closed) return;
    this.#system(join, "system", "error", message);
    this.#leave(join);
    this.#sendFrame({
      joinRef: join.joinRef,
      ref: join.joinRef,
      topic: join.phoenixTopic,
      event: "phx_close",
      payload: {},
    });
  }

  async #onExpiryDue(join: ChannelJoin): Promise<void> {
    if (join.closed) return;
    const checked = await checkToken(this.#deps.jwtSecret, join.token);
    if (checked.ok) {
      join.scheduleExpiry(() => this.#enqueue(join.phoenixTopic, () => this.#onExpiryDue(join)));
    } else this.#shutdown(join, checked.message);
  }

  async #onAccessToken(join: ChannelJoin, payload: unknown): Promise<void> {
    const parsed = AccessTokenPayload.safeParse(payload);
    const token = parsed.success ? parsed.data.access_token : undefined;
    if (!token || token.startsWith("sb_") || token === join.token) return;
    const checked = await checkToken(this.#deps.jwtSecret, token);
    if (!checked.ok) return this.#shutdown(join, checked.message);

    let read: ReadPolicies | null = null;
    if (join.private) {
      try {
        read = await readPolicies(this.#deps.sql, { topic: join.topic, claims: checked.claims });
      } catch (e) {
        this.#deps.log(
          `policy check failed for ${join.topic}: ${e instanceof Error ? e.message : e}`,
        );
        return this.#shutdown(join, "Realtime was unable to connect to the project database");
      }
      const previous = join.read;
      const revoked = (previous?.broadcast && !read.broadcast) ||
        (previous?.presence && !read.presence);
      if (revoked) {
        return this.#shutdown(
          join,
          `You no longer have permission to read from this Channel topic: ${join.topic}`,
        );
      }
    }
    if (join.closed) return;
    join.token = token;
    join.claims = checked.claims;
    join.read = read;
    join.canWriteBroadcast = undefined;
    join.scheduleExpiry(() => this.#enqueue(join.phoenixTopic, () => this.#onExpiryDue(join)));
  }

  async #onBroadcast(push: BroadcastPush): Promise<void> {
    if (this.#closed) return;
    const join = this.#joins.get(push.topic);
    if (!join || (push.joinRef !== null && push.joinRef !== join.joinRef)) {
      return this.#reply(push, "error", { reason: "unmatched topic" });
    }
    if (!this.#messageRate.take()) {
      return this.#reply(push, "error", { reason: LIMIT_REASONS.tooManyMessages });
    }
    if (join.private) {
      if (join.canWriteBroadcast === undefined) {
        try {
          const write = await writePolicies(this.#deps.sql, {
            topic: join.topic,
            claims: join.claims,
          });
          join.canWriteBroadcast = write.broadcast;
        } catch (e) {
          this.#deps.log(
            `policy check failed for ${join.topic}: ${e instanceof Error ? e.message : e}`,
          );
          return;
        }
      }
      // Realtime drops a broadcast the INSERT policies refuse, without a reply.
      if (!join.canWriteBroadcast || join.closed) return;
    }
    this.#deps.hub.publish(
      { topic: join.topic, private: join.private, event: push.event, body: push.body },
      join.self ? undefined : join,
    );
    if (join.ack) this.#reply(push, "ok", {});
  }
}
