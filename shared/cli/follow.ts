/**
 * Follows a run live over Supabase Realtime, without polling. It joins the run's private channel
 * `run:<id>` through supabase-js; each time the channel is (re)joined it reads the event log
 * (`GET /runs/:id/events?after=<last seq>`) to catch up on what happened before or while it was
 * away, then applies broadcasts as they come. The {@link EventSequencer} releases events once
 * each and in `seq` order; a hole in the sequence (a broadcast lost while reconnecting) is filled
 * from the log. The caller waits for a condition on what it has seen (`until`), so one session
 * can follow a run through a question, the user's answer and on to the end.
 *
 * @example
 * ```ts
 * const session = openFollowSession({ api, runId, onEvents: (events) => show(events) });
 * await session.until(() => finished);
 * await session.close();
 * ```
 */
import type { RealtimeChannel } from "@supabase/supabase-js";
import { expandEvent, RunEventPayload, runTopic } from "../events/mod.ts";
import type { RunEvent } from "../runs/mod.ts";
import { ApiError, type RunsApi } from "./api_client.ts";
import { EventSequencer } from "./event_sequencer.ts";

/** What {@link openFollowSession} needs. */
export interface FollowSessionOptions {
  api: Pick<RunsApi, "client" | "events">;
  runId: string;
  /** Last seq already handled (default 0: replay the whole log). */
  after?: number;
  /** Events in `seq` order, each once. */
  onEvents(events: RunEventPayload[]): void;
  /** Channel status changes (`SUBSCRIBED`, `CHANNEL_ERROR`, …), e.g. for a verbose log. */
  onChannelStatus?(status: string, error?: Error): void;
  /**
   * How long the channel may stay unjoined — at the start, or after it dropped — before the
   * session fails (default 30 s; realtime-js keeps reconnecting in between).
   */
  joinTimeoutMs?: number;
}

/** A live follow of one run. */
export interface FollowSession {
  /** The last seq applied. */
  readonly lastSeq: number;
  /** How many times the event log was read (catch-ups and gap fills). */
  readonly logReads: number;
  /**
   * Resolves once `done()` holds; it is checked now and after every batch of events. Rejects if
   * the session fails (the log cannot be read, Realtime keeps refusing).
   */
  until(done: () => boolean): Promise<void>;
  /** Leaves the channel and closes the socket. */
  close(): Promise<void>;
}

interface Entry {
  seq: number;
  /** The row's changes this CLI knows (a row holds a transaction's changes: `expandEvent`). */
  events: RunEventPayload[];
}

/** Joins `run:<id>` and starts following; see the module doc. */
export function openFollowSession(options: FollowSessionOptions): FollowSession {
  const { api, runId } = options;
  const sequencer = new EventSequencer<Entry>(options.after ?? 0);
  const joinTimeoutMs = options.joinTimeoutMs ?? 30_000;
  let failure: Error | undefined;
  let waiter:
    | { done: () => boolean; resolve: () => void; reject: (e: Error) => void }
    | undefined;
  let closed = false;
  let reading: Promise<void> | undefined;
  let readAgain = false;
  let logReads = 0;
  let joinTimer: ReturnType<typeof setTimeout> | undefined;
  let lastChannelError = "";
  let gapTimer: ReturnType<typeof setTimeout> | undefined;

  const settle = () => {
    if (!waiter) return;
    if (failure) {
      waiter.reject(failure);
      waiter = undefined;
      return;
    }
    let done = false;
    try {
      done = waiter.done();
    } catch (e) {
      waiter.reject(e as Error);
      waiter = undefined;
      return;
    }
    if (done) {
      waiter.resolve();
      waiter = undefined;
    }
  };

  const fail = (e: Error) => {
    failure ??= e;
    settle();
  };

  const deliver = (entries: Entry[]) => {
    if (closed) return;
    const ready = sequencer.accept(entries);
    const events = ready.flatMap((e) => e.events);
    if (events.length > 0) options.onEvents(events);
    if (ready.length > 0) settle();
    if (sequencer.hasGap) readLog();
  };

  // Reads the log after the last applied seq until it has everything; one read at a time.
  const readLog = () => {
    if (closed) return;
    if (reading) {
      readAgain = true;
      return;
    }
    reading = (async () => {
      try {
        do {
          readAgain = false;
          const before = sequencer.lastSeq;
          for (let more = true; more && !closed;) {
            logReads++;
            const page = await api.events(runId, sequencer.lastSeq);
            deliver(page.events.map(fromLog));
            more = page.has_more && page.events.length > 0;
          }
          // A gap the log cannot fill yet (should not happen: broadcasts follow commits) is
          // retried shortly instead of spinning.
          if (sequencer.hasGap && sequencer.lastSeq === before && !readAgain) {
            clearTimeout(gapTimer);
            gapTimer = setTimeout(readLog, 1000);
            break;
          }
        } while (readAgain && !closed);
      } catch (e) {
        fail(e instanceof Error ? e : new Error(String(e)));
      } finally {
        reading = undefined;
      }
    })();
  };

  // Realtime that cannot be reached must end the follow with an error, not leave it waiting.
  const awaitJoin = () => {
    if (joinTimer !== undefined || closed) return;
    joinTimer = setTimeout(() => {
      fail(
        new ApiError(
          "upstream_unavailable",
          `Realtime did not let this client join run:${runId} within ${
            Math.round(joinTimeoutMs / 1000)
          } s${lastChannelError ? ` (${lastChannelError})` : ""}; is /realtime/v1 reachable at ` +
            "SUPABASE_URL?",
        ),
      );
    }, joinTimeoutMs);
  };
  const joinedNow = () => {
    clearTimeout(joinTimer);
    joinTimer = undefined;
  };

  let channel: RealtimeChannel | undefined;
  awaitJoin();
  const joined = (async () => {
    // Hand the token to Realtime before joining, so the first join is already authorized.
    await api.client.realtime.setAuth();
    if (closed) return;
    channel = api.client.channel(runTopic(runId), { config: { private: true } })
      .on("broadcast", { event: "*" }, (message) => deliver([fromBroadcast(message.payload)]))
      .subscribe((status, error) => {
        options.onChannelStatus?.(status, error);
        if (status === "SUBSCRIBED") {
          joinedNow();
          readLog();
        } else {
          lastChannelError = error?.message ?? status;
          awaitJoin();
        }
      });
  })().catch((e) => fail(e instanceof Error ? e : new Error(String(e))));

  return {
    get lastSeq() {
      return sequencer.lastSeq;
    },
    get logReads() {
      return logReads;
    },
    until(done) {
      if (waiter) return Promise.reject(new Error("until() is already waiting"));
      return new Promise<void>((resolve, reject) => {
        waiter = { done, resolve, reject };
        settle();
      });
    },
    async close() {
      if (closed) return;
      closed = true;
      clearTimeout(gapTimer);
      joinedNow();
      await joined;
      await reading?.catch(() => {});
      if (channel) await api.client.removeChannel(channel);
      api.client.realtime.disconnect();
      if (waiter) {
        waiter.reject(new Error("the follow session was closed"));
        waiter = undefined;
      }
    },
  };
}

function fromBroadcast(payload: unknown): Entry {
  const seq = (payload as { seq?: unknown } | null)?.seq;
  if (payload === null || typeof payload !== "object" || Array.isArray(payload)) {
    return { seq: NaN, events: [] };
  }
  // An event type this CLI does not know still takes its place in the sequence.
  const events = expandEvent(payload as Record<string, unknown>).flatMap((e) => {
    const parsed = RunEventPayload.safeParse(e);
    return parsed.success ? [parsed.data] : [];
  });
  return { seq: typeof seq === "number" ? seq : NaN, events };
}

function fromLog(row: RunEvent): Entry {
  return fromBroadcast({
    at: row.created_at,
    ...row.payload,
    run_id: row.run_id,
    seq: row.seq,
    type: row.type,
  });
}
