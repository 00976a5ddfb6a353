import assert from "node:assert/strict";
import { RealtimeClient } from "@supabase/realtime-js";
import {
  decodeBinary,
  decodeText,
  encodeBroadcast,
  encodeBroadcastBinary,
  encodeText,
  exceedsBytes,
  FrameError,
  parseVsn,
} from "./frames.ts";

// The client's own serializer (vsn 2.0.0), so the codec is checked against what realtime-js does.
const serializer = new RealtimeClient("ws://127.0.0.1:1/realtime/v1", {
  params: { apikey: "unused" },
}).serializer;

function clientEncode(msg: Parameters<typeof serializer.encode>[0]): ArrayBuffer | string {
  let out: ArrayBuffer | string = "";
  serializer.encode(msg, (r: ArrayBuffer | string) => out = r);
  return out;
}

function clientDecode(raw: ArrayBuffer | string): Record<string, unknown> {
  let out: Record<string, unknown> = {};
  serializer.decode(raw, (r: Record<string, unknown>) => out = r);
  return out;
}

Deno.test("a client's broadcast push is read from realtime-js's binary kind-3 frame", () => {
  const raw = clientEncode({
    join_ref: "3",
    ref: "17",
    topic: "realtime:room:é1",
    event: "broadcast",
    payload: { type: "broadcast", event: "cursör", payload: { x: 1, s: "ü" } },
  });
  assert.ok(raw instanceof ArrayBuffer, "realtime-js sends broadcasts as binary");
  assert.deepEqual(decodeBinary(new Uint8Array(raw)), {
    joinRef: "3",
    ref: "17",
    topic: "realtime:room:é1",
    event: "cursör",
    body: { kind: "json", value: { x: 1, s: "ü" } },
  });
});

Deno.test("a binary payload in a kind-3 push stays raw bytes", () => {
  const bytes = new Uint8Array([0, 1, 2, 255]);
  const raw = clientEncode({
    join_ref: "1",
    ref: null,
    topic: "realtime:t",
    event: "broadcast",
    payload: { type: "broadcast", event: "b", payload: bytes.buffer },
  });
  const push = decodeBinary(new Uint8Array(raw as ArrayBuffer));
  assert.equal(push.ref, null);
  assert.equal(push.body.kind, "binary");
  assert.deepEqual(push.body.kind === "binary" && push.body.bytes, bytes);
});

Deno.test("realtime-js decodes the server's kind-4 frame into the broadcast its callbacks get", () => {
  const frame = encodeBroadcastBinary({
    topic: "realtime:room:1",
    event: "tick",
    body: { kind: "json", value: { n: 1, id: "abc" } },
    meta: { id: "abc" },
  });
  assert.ok(frame);
  assert.deepEqual(clientDecode(frame.slice().buffer), {
    join_ref: null,
    ref: null,
    topic: "realtime:room:1",
    event: "broadcast",
    payload: {
      type: "broadcast",
      event: "tick",
      payload: { n: 1, id: "abc" },
      meta: { id: "abc" },
    },
  });
  const binary = encodeBroadcastBinary({
    topic: "realtime:room:1",
    event: "b",
    body: { kind: "binary", bytes: new Uint8Array([9, 8]) },
  });
  const decoded = clientDecode(binary!.slice().buffer) as { payload: { payload: ArrayBuffer } };
  assert.deepEqual(new Uint8Array(decoded.payload.payload), new Uint8Array([9, 8]));
});

Deno.test("a broadcast whose header does not fit a kind-4 frame goes as text, binary bodies not at all on 1.0.0", () => {
  const long = {
    topic: "realtime:t",
    event: "e".repeat(300),
    body: { kind: "json" as const, value: {} },
  };
  assert.equal(encodeBroadcastBinary(long), undefined);
  const text = encodeBroadcast("2.0.0", long);
  assert.equal(typeof text, "string");
  assert.deepEqual(clientDecode(text as string).payload, {
    type: "broadcast",
    event: "e".repeat(300),
    payload: {},
  });
  const v1 = encodeBroadcast("1.0.0", {
    topic: "realtime:t",
    event: "e",
    body: { kind: "json", value: { a: 1 } },
  });
  assert.deepEqual(JSON.parse(v1 as string), {
    topic: "realtime:t",
    event: "broadcast",
    payload: { type: "broadcast", event: "e", payload: { a: 1 } },
    ref: null,
  });
  assert.equal(
    encodeBroadcast("1.0.0", {
      topic: "t",
      event: "e",
      body: { kind: "binary", bytes: new Uint8Array() },
    }),
    undefined,
  );
});

Deno.test("text frames are arrays on 2.0.0 and objects without join_ref on 1.0.0", () => {
  const frame = {
    joinRef: "1",
    ref: "2",
    topic: "realtime:x",
    event: "phx_reply",
    payload: { status: "ok" },
  };
  assert.deepEqual(clientDecode(encodeText("2.0.0", frame)), {
    join_ref: "1",
    ref: "2",
    topic: "realtime:x",
    event: "phx_reply",
    payload: { status: "ok" },
  });
  assert.deepEqual(JSON.parse(encodeText("1.0.0", frame)), {
    topic: "realtime:x",
    event: "phx_reply",
    payload: { status: "ok" },
    ref: "2",
  });
  assert.deepEqual(
    decodeText(
      "2.0.0",
      clientEncode({
        join_ref: null,
        ref: "5",
        topic: "phoenix",
        event: "heartbeat",
        payload: {},
      }) as string,
    ),
    { joinRef: null, ref: "5", topic: "phoenix", event: "heartbeat", payload: {} },
  );
  assert.deepEqual(
    decodeText(
      "1.0.0",
      JSON.stringify({ topic: "t", event: "e", payload: { a: 1 }, ref: "1", join_ref: "1" }),
    ),
    { joinRef: "1", ref: "1", topic: "t", event: "e", payload: { a: 1 } },
  );
});

Deno.test("unreadable frames are refused with a FrameError", () => {
  assert.throws(() => decodeText("2.0.0", "not json"), FrameError);
  assert.throws(() => decodeText("2.0.0", '{"topic":"t"}'), FrameError);
  assert.throws(() => decodeText("1.0.0", '["1","1","t","e",{}]'), FrameError);
  assert.throws(() => decodeBinary(new Uint8Array([4, 1, 1, 0, 1, 65, 66])), FrameError);
  assert.throws(() => decodeBinary(new Uint8Array([3, 0, 0, 200, 1, 0, 1])), FrameError);
});

Deno.test("vsn defaults to 1.0.0 as on the server, and only majors 1 and 2 are accepted", () => {
  assert.equal(parseVsn(null), "1.0.0");
  assert.equal(parseVsn("1.0.0"), "1.0.0");
  assert.equal(parseVsn("2.0.0"), "2.0.0");
  assert.equal(parseVsn("3.0.0"), undefined);
  assert.equal(parseVsn("two"), undefined);
});

Deno.test("a message's byte length is judged without encoding it, multi-byte text included", () => {
  assert.equal(exceedsBytes(new ArrayBuffer(10), 10), false);
  assert.equal(exceedsBytes(new ArrayBuffer(11), 10), true);
  assert.equal(exceedsBytes("a".repeat(10), 10), false);
  assert.equal(exceedsBytes("a".repeat(11), 10), true);
  for (const text of ["é".repeat(5), "€".repeat(4), "😀😀", "a😀é€", "\ud800x", "\udc00"]) {
    const bytes = new TextEncoder().encode(text).byteLength;
    assert.equal(exceedsBytes(text, bytes), false, text);
    assert.equal(exceedsBytes(text, bytes - 1), true, text);
  }
});
