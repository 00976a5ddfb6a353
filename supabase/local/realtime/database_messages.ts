/**
 * Broadcast from Database, locally: Supabase Realtime reads `realtime.messages` inserts from the
 * WAL; this server LISTENs on the `realtime_messages` channel that the platform SQL's trigger
 * notifies. Postgres delivers a NOTIFY only after its transaction commits, in commit order, and
 * never for a rolled-back one — exactly the guarantees Realtime gives. One LISTEN connection serves
 * the whole server. Rows too large for a notification arrive as `{id, fetch: true}` and are read
 * back by id; a queue keeps delivery in notification order while such a read is in flight.
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

/** A committed `realtime.messages` row, as the trigger sends it. */
export const MessageRow = z.object({
  id: z.string(),
  topic: z.string(),
  event: z.string().nullable(),
  private: z.boolean().nullable(),
  extension: z.string(),
  payload: z.unknown(),
});
export type MessageRow = z.infer<typeof MessageRow>;

const FetchById = z.object({ id: z.string(), fetch: z.literal(true) });

/** A running listener. */
export interface MessageListener {
  close(): Promise<void>;
}

/** Options for {@link listenForMessages}. */
export interface ListenOptions {
  /** Called when a notification cannot be read (it is skipped). */
  onError?: (error: unknown) => void;
}

/**
 * LISTENs for committed messages and calls `deliver` with each, in commit order. Resolves once the
 * LISTEN is active, so anything committed afterwards is delivered.
 */
export async function listenForMessages(
  sql: Sql,
  deliver: (row: MessageRow) => void,
  options: ListenOptions = {},
): Promise<MessageListener> {
  const onError = options.onError ?? ((e) => console.error("[realtime] notification skipped:", e));
  let queue: Promise<void> = Promise.resolve();
  let pending = 0;

  const handle = async (text: string) => {
    const raw: unknown = JSON.parse(text);
    const byId = FetchById.safeParse(raw);
    if (byId.success) {
      const rows = await sql<MessageRow[]>`
        select id::text, topic, event, private, extension, payload
          from realtime.messages where id = ${byId.data.id}::uuid`;
      for (const row of rows) deliver(MessageRow.parse(row));
      return;
    }
    deliver(MessageRow.parse(raw));
  };

  const onNotify = (text: string) => {
    // The common case (no read in flight) is delivered at once, without a hop through the queue.
    if (pending === 0 && !text.includes('"fetch"')) {
      try {
        deliver(MessageRow.parse(JSON.parse(text)));
      } catch (e) {
        onError(e);
      }
      return;
    }
    pending++;
    queue = queue.then(() => handle(text)).catch(onError).finally(() => pending--);
  };

  const { unlisten } = await sql.listen(NOTIFY_CHANNEL, onNotify);
  return {
    async close() {
      await unlisten().catch(() => {});
      await queue;
    },
  };
}
