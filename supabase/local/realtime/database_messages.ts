/**
 * Broadcast from Database, locally. Supabase Realtime reads `realtime.messages` inserts from the
 * WAL; this server is woken by the NOTIFY the platform SQL's trigger sends after each insert and
 * then reads the rows back itself. A notification only names a message id: NOTIFY needs no
 * privilege, so any role that can log in could send one, and nothing in it is trusted — topic,
 * event, payload and the private flag all come from the row. A notification naming no row, a row
 * already delivered, or a row written before this server listened (a replay) delivers nothing.
 *
 * Postgres sends a NOTIFY only after its transaction commits, in commit order, and never for a
 * rolled-back one; ids are read back in batches (whatever arrived while the previous read was in
 * flight) and delivered in notification order, so commit order holds for every topic. The ids
 * delivered are remembered until a transaction horizon passes them: once every transaction that
 * could have written a row has ended and its notification has been handled, a row that old is
 * refused by its `xmin` alone, so the memory stays bounded.
 *
 * @example
 * ```ts
 * const listener = await listenForMessages(sql, (row) => hub.publish(publicationOf(row)));
 * await listener.close();
 * ```
 */
import { z } from "zod";
import type { Sql } from "../../../shared/db/mod.ts";

/** The NOTIFY channel the platform SQL's trigger on `realtime.messages` uses. */
export const NOTIFY_CHANNEL = "realtime_messages";

/** A committed `realtime.messages` row, as read back. */
export const MessageRow = z.object({
  id: z.string(),
  topic: z.string(),
  event: z.string().nullable(),
  private: z.boolean().nullable(),
  extension: z.string(),
  payload: z.unknown(),
});
export type MessageRow = z.infer<typeof MessageRow>;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const NotifiedObject = z.looseObject({ id: z.string() });

/**
 * The message id a notification names: the trigger sends the bare id; an object with an `id`
 * (what older versions of the trigger sent) is read for its id alone. Anything else names nothing.
 */
export function notifiedId(text: string): string | undefined {
  const bare = text.trim().toLowerCase();
  if (UUID.test(bare)) return bare;
  if (!bare.startsWith("{")) return undefined;
  try {
    const parsed = NotifiedObject.safeParse(JSON.parse(text));
    const id = parsed.success ? parsed.data.id.toLowerCase() : undefined;
    return id !== undefined && UUID.test(id) ? id : undefined;
  } catch {
    return undefined;
  }
}

const XID_MODULUS = 0x1_0000_0000n;
/** Transaction ids below this are permanent (bootstrap, frozen) and older than any normal one. */
const FIRST_NORMAL_XID = 3;

/** Whether 32-bit transaction id `a` is older than `b`, as Postgres compares them (modulo 2^32). */
export function xidPrecedes(a: number, b: number): boolean {
  if (a < FIRST_NORMAL_XID || b < FIRST_NORMAL_XID) return a < b;
  return ((a - b) | 0) < 0;
}

/** A running listener. */
export interface MessageListener {
  /** How many delivered ids are remembered to refuse replays (shrinks as the horizon moves). */
  readonly remembered: number;
  close(): Promise<void>;
}

/** Options for {@link listenForMessages}. */
export interface ListenOptions {
  /** Where problems and ignored notifications are reported (default stderr). */
  log?: (line: string) => void;
  /** How often the replay horizon moves on (default 60 000 ms). */
  horizonIntervalMs?: number;
  /** Most ids read back in one query (default 500). */
  maxBatch?: number;
  /** Most ids waiting to be read; a flood beyond it is dropped and logged (default 100 000). */
  maxPending?: number;
}

interface ReadRow extends MessageRow {
  xmin: string;
}

const READ_ATTEMPTS = 3;
const IGNORED_LOG_INTERVAL_MS = 10_000;

/**
 * LISTENs for committed messages and calls `deliver` with each row read back, in commit order.
 * Resolves once the LISTEN is active, so anything committed afterwards is delivered.
 */
export async function listenForMessages(
  sql: Sql,
  deliver: (row: MessageRow) => void,
  options: ListenOptions = {},
): Promise<MessageListener> {
  const log = options.log ?? ((line: string) => console.error(`[realtime] ${line}`));
  const maxBatch = options.maxBatch ?? 500;
  const maxPending = options.maxPending ?? 100_000;
  const horizonIntervalMs = options.horizonIntervalMs ?? 60_000;

  const snapshotXmin = async (): Promise<number> => {
    const [{ xmin }] = await sql<{ xmin: string }[]>`
      select pg_snapshot_xmin(pg_current_snapshot())::text as xmin`;
    return Number(BigInt(xmin) % XID_MODULUS);
  };

  // Taken before LISTEN: a row older than this was committed before anything could reach us.
  let horizon = await snapshotXmin();
  let candidate: number | undefined;
  const delivered = new Map<string, number>();
  const queue: string[] = [];
  const queued = new Set<string>();
  let received = 0;
  let handled = 0;
  let draining: Promise<void> | undefined;
  let closed = false;

  let ignored = 0;
  let ignoredLoggedAt = 0;
  const ignore = (n = 1) => {
    ignored += n;
    const now = Date.now();
    if (now - ignoredLoggedAt < IGNORED_LOG_INTERVAL_MS) return;
    ignoredLoggedAt = now;
    log(`ignored ${ignored} notification(s) naming no new message on ${NOTIFY_CHANNEL}`);
    ignored = 0;
  };

  const read = async (ids: string[]): Promise<ReadRow[]> => {
    for (let attempt = 1;; attempt++) {
      try {
        return await sql<ReadRow[]>`
          select id::text, topic, event, private, extension, payload, xmin::text as xmin
            from realtime.messages
           where id = any(${ids}::uuid[])
           order by inserted_at`;
      } catch (e) {
        const why = e instanceof Error ? e.message : String(e);
        if (closed || attempt >= READ_ATTEMPTS) {
          log(`dropped ${ids.length} notification(s): reading realtime.messages failed: ${why}`);
          return [];
        }
        await new Promise((r) => setTimeout(r, 100 * 4 ** attempt));
      }
    }
  };

  const handleBatch = async (ids: string[]) => {
    const rows = new Map<string, ReadRow>();
    for (const row of await read(ids)) if (!rows.has(row.id)) rows.set(row.id, row);
    for (const id of ids) {
      queued.delete(id);
      const row = rows.get(id);
      const xmin = row ? Number(row.xmin) : NaN;
      if (!row || delivered.has(id) || !Number.isFinite(xmin) || xidPrecedes(xmin, horizon)) {
        ignore();
        continue;
      }
      delivered.set(id, xmin);
      if (row.extension !== "broadcast") continue;
      try {
        deliver(MessageRow.parse(row));
      } catch (e) {
        log(`message ${id} not delivered: ${e instanceof Error ? e.message : e}`);
      }
    }
    handled += ids.length;
  };

  const drain = async () => {
    while (queue.length > 0) await handleBatch(queue.splice(0, maxBatch));
  };
  const kick = () => {
    draining ??= drain().finally(() => {
      draining = undefined;
      if (queue.length > 0 && !closed) kick();
    });
  };

  const onNotify = (text: string) => {
    if (closed) return;
    const id = notifiedId(text);
    if (id === undefined || queued.has(id) || delivered.has(id)) return ignore();
    if (queue.length >= maxPending) {
      log(`dropped a notification: ${maxPending} are already waiting to be read`);
      return;
    }
    queue.push(id);
    queued.add(id);
    received++;
    kick();
  };

  // Every transaction older than the candidate had ended when it was taken, an interval ago, so
  // its notification has arrived; once everything received is handled, rows that old are refused
  // by xmin and their ids need not be remembered.
  const advanceHorizon = async () => {
    try {
      const next = await snapshotXmin();
      if (candidate !== undefined && handled === received) {
        horizon = candidate;
        for (const [id, xmin] of delivered) if (xidPrecedes(xmin, horizon)) delivered.delete(id);
      }
      candidate = next;
    } catch (e) {
      log(`replay horizon not moved: ${e instanceof Error ? e.message : e}`);
    }
  };
  const timer = setInterval(() => void advanceHorizon(), horizonIntervalMs);
  Deno.unrefTimer(timer);

  let unlisten: () => Promise<void>;
  try {
    ({ unlisten } = await sql.listen(NOTIFY_CHANNEL, onNotify));
  } catch (e) {
    clearInterval(timer);
    throw e;
  }
  return {
    get remembered() {
      return delivered.size;
    },
    async close() {
      closed = true;
      clearInterval(timer);
      await unlisten().catch(() => {});
      await draining;
    },
  };
}
