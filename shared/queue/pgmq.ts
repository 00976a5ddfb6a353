/**
 * The pgmq adapter: the few queue calls a worker makes, as tagged SQL over a direct Postgres
 * connection (pooler-safe, no prepared statements). It speaks pgmq's public functions only, so it
 * runs the same on Supabase Queues and on the local stack's pgmq-compatible schema.
 *
 * @example
 * ```ts
 * const queue = pgmqQueue(sql, "bt_db_architect");
 * const [message] = await queue.read({ vtSeconds: 30, qty: 1 });
 * await queue.archive(message.msg_id);
 * ```
 */
import type { Sql } from "../db/mod.ts";

/** A delivered message: pgmq's `message_record`. */
export interface QueueMessage<T = Record<string, unknown>> {
  msg_id: number;
  /** How many times the message has been delivered, this delivery included. */
  read_ct: number;
  enqueued_at: Date;
  /** Until when the message is hidden from other readers (the lease). */
  vt: Date;
  message: T;
}

/** The calls a worker makes on one queue. */
export interface Queue {
  readonly name: string;
  /** Reads up to `qty` visible messages and hides them for `vtSeconds` (the lease). */
  read(options: { vtSeconds: number; qty: number }): Promise<QueueMessage[]>;
  /** Hides a message for `vtSeconds` from now: extends a lease, or delays a retry. */
  setVt(msgId: number, vtSeconds: number): Promise<boolean>;
  /** Moves a message to the archive; false when it was already gone. */
  archive(msgId: number): Promise<boolean>;
  /** Sends a message; returns its id. */
  send(message: Record<string, unknown>, delaySeconds?: number): Promise<number>;
}

/** The {@link Queue} named `name` on `sql`. */
export function pgmqQueue(sql: Sql, name: string): Queue {
  return {
    name,
    async read({ vtSeconds, qty }) {
      const rows = await sql<QueueMessage[]>`
        select msg_id, read_ct, enqueued_at, vt, message
          from pgmq.read(${name}, ${vtSeconds}::integer, ${qty}::integer)`;
      return rows.map((r) => ({ ...r, msg_id: Number(r.msg_id), read_ct: Number(r.read_ct) }));
    },
    async setVt(msgId, vtSeconds) {
      const rows = await sql`
        select msg_id from pgmq.set_vt(${name}, ${msgId}::bigint, ${
        Math.ceil(vtSeconds)
      }::integer)`;
      return rows.length > 0;
    },
    async archive(msgId) {
      const [row] = await sql<{ archived: boolean }[]>`
        select pgmq.archive(${name}, ${msgId}::bigint) as archived`;
      return row?.archived === true;
    },
    async send(message, delaySeconds = 0) {
      const [row] = await sql<{ id: string }[]>`
        select * from pgmq.send(${name}, ${
        sql.json(message as never)
      }::jsonb, ${delaySeconds}::integer) as id`;
      return Number(row.id);
    },
  };
}
