import assert from "node:assert/strict";
import { freshDatabase } from "../../../tests/_support/db.ts";
import {
  listenForMessages,
  type MessageRow,
  notifiedId,
  NOTIFY_CHANNEL,
  xidPrecedes,
} from "./database_messages.ts";

const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, check: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting until ${what}`);
    await delay(10);
  }
}

Deno.test("a notification names a message by its bare id, or by an object's id, else nothing", () => {
  const id = crypto.randomUUID();
  assert.equal(notifiedId(id), id);
  assert.equal(notifiedId(` ${id.toUpperCase()}\n`), id);
  assert.equal(notifiedId(JSON.stringify({ id, topic: "x", fetch: true })), id);
  for (const text of ["", "x", "{}", "[1]", '{"id": 1}', '{"id": "no"}', `${id}x`, "{not json"]) {
    assert.equal(notifiedId(text), undefined, text);
  }
});

Deno.test("transaction ids compare modulo 2^32, and permanent ones precede all others", () => {
  assert.ok(xidPrecedes(100, 200));
  assert.ok(!xidPrecedes(200, 100));
  assert.ok(!xidPrecedes(100, 100));
  assert.ok(xidPrecedes(0xffff_fff0, 5), "just before wraparound precedes just after");
  assert.ok(!xidPrecedes(5, 0xffff_fff0));
  assert.ok(xidPrecedes(2, 3), "a frozen xid precedes every normal one");
});

Deno.test(
  "only rows read back are delivered, in commit order, once each, and never rows from before listening",
  async () => {
    await using db = await freshDatabase();
    await db.sql`select realtime.send('{"n": -1}'::jsonb, 'old', 'room:1', true)`;
    const [{ id: oldId }] = await db.sql<{ id: string }[]>`
      select id::text from realtime.messages where event = 'old'`;
    const got: MessageRow[] = [];
    const logged: string[] = [];
    const listener = await listenForMessages(db.sql, (row) => got.push(row), {
      log: (line) => logged.push(line),
      horizonIntervalMs: 100,
      maxBatch: 7,
    });
    try {
      const notify = (text: string) => db.sql`select pg_notify(${NOTIFY_CHANNEL}, ${text})`;
      await notify(oldId);
      await notify(JSON.stringify({
        id: crypto.randomUUID(),
        topic: "room:1",
        event: "forged",
        private: true,
        extension: "broadcast",
        payload: {},
      }));
      // 30 messages in 3 transactions, read back in batches of at most 7.
      for (let t = 0; t < 3; t++) {
        await db.sql.begin(async (tx) => {
          for (let n = t * 10; n < t * 10 + 10; n++) {
            await tx`select realtime.send(${tx.json({ n })}, 'tick', 'room:1', true)`;
          }
        });
      }
      await until("30 delivered", () => got.length >= 30);
      assert.deepEqual(got.map((r) => (r.payload as { n: number }).n), [...Array(30).keys()]);
      assert.ok(got.every((r) => r.topic === "room:1" && r.private === true && r.event === "tick"));

      // A replay now, and one after the horizon has moved past the row (it is no longer
      // remembered, its xmin alone refuses it), both deliver nothing.
      assert.equal(listener.remembered, 30);
      await notify(got[0].id);
      await until("the horizon passed the delivered rows", () => listener.remembered === 0);
      await notify(got[1].id);
      await db.sql`select realtime.send('{"n": 30}'::jsonb, 'tick', 'room:1', true)`;
      await until("the last one delivered", () => got.length >= 31);
      await delay(100);
      assert.equal(got.length, 31);
      assert.equal((got[30].payload as { n: number }).n, 30);
    } finally {
      await listener.close();
    }
    assert.ok(logged.some((l) => /^ignored \d+ notification/.test(l)), logged.join("\n"));
  },
);
