import assert from "node:assert/strict";
import type { Vsn } from "./frames.ts";
import { Hub, type Publication, type Subscriber } from "./hub.ts";

function subscriber(topic: string, isPrivate: boolean, vsn: Vsn = "2.0.0", reads = true) {
  const got: (string | Uint8Array)[] = [];
  const s: Subscriber & { got: typeof got } = {
    topic,
    private: isPrivate,
    receivesBroadcasts: reads,
    vsn,
    got,
    deliver: (frame) => got.push(frame),
  };
  return s;
}

const message = (topic: string, isPrivate: boolean): Publication => ({
  topic,
  private: isPrivate,
  event: "e",
  body: { kind: "json", value: { a: 1 } },
});

Deno.test("private and public joins of the same topic never see each other's messages", () => {
  const hub = new Hub();
  const priv = subscriber("room:1", true);
  const pub = subscriber("room:1", false);
  const other = subscriber("room:2", true);
  [priv, pub, other].forEach((s) => hub.add(s));
  assert.equal(hub.publish(message("room:1", true)), 1);
  assert.equal(priv.got.length, 1);
  assert.equal(pub.got.length, 0);
  assert.equal(hub.publish(message("room:1", false)), 1);
  assert.equal(pub.got.length, 1);
  assert.equal(priv.got.length, 1);
  assert.equal(other.got.length, 0);
});

Deno.test("the sender is skipped when asked, and so is a join not allowed to read broadcasts", () => {
  const hub = new Hub();
  const sender = subscriber("t", false);
  const peer = subscriber("t", false);
  const presenceOnly = subscriber("t", false, "2.0.0", false);
  [sender, peer, presenceOnly].forEach((s) => hub.add(s));
  assert.equal(hub.publish(message("t", false), sender), 1);
  assert.deepEqual([sender.got.length, peer.got.length, presenceOnly.got.length], [0, 1, 0]);
});

Deno.test("a message is encoded once per serializer version and removed joins get nothing", () => {
  const hub = new Hub();
  const a = subscriber("t", false, "2.0.0");
  const b = subscriber("t", false, "2.0.0");
  const c = subscriber("t", false, "1.0.0");
  [a, b, c].forEach((s) => hub.add(s));
  hub.publish(message("t", false));
  assert.ok(a.got[0] instanceof Uint8Array);
  assert.equal(a.got[0], b.got[0], "the same encoded frame is shared");
  assert.equal(typeof c.got[0], "string");
  hub.remove(a);
  hub.remove(b);
  hub.remove(c);
  assert.equal(hub.count("t", false), 0);
  assert.equal(hub.publish(message("t", false)), 0);
});
