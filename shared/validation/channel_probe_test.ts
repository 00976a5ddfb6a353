import assert from "node:assert/strict";
import { type ChannelProbe, probeChannels } from "./channel_probe.ts";
import type { ShadowSession } from "../shadow/mod.ts";

function fakeSession(withUrl: boolean): ShadowSession {
  return {
    backend: "postgres",
    alive: true,
    exec: () => Promise.resolve({ rows: [], rowCount: 0 }),
    query: () => Promise.resolve([]),
    queryAs: () => Promise.resolve({ rows: [], rowCount: 0 }),
    ...(withUrl ? { connectionUrl: () => Promise.resolve("postgres://shadow") } : {}),
    close: () => Promise.resolve(),
    [Symbol.asyncDispose]: () => Promise.resolve(),
  };
}

const leaky: ChannelProbe = {
  join: ({ others }) =>
    Promise.resolve({
      owner: { joined: true, received: true },
      others: Object.fromEntries(
        others.map((o) => [o.label, { joined: o.label !== "anon", received: o.label !== "anon" }]),
      ),
    }),
};

Deno.test("another user receiving on the owner's private channel is a realtime_isolation_leak", async () => {
  const found = await probeChannels(fakeSession(true), [{ topic: "notes:{uid}" }], leaky);
  assert.deepEqual(found.map((f) => [f.rule, f.level]), [["realtime_isolation_leak", "error"]]);
  assert.match(found[0].message, /another user received/);
});

Deno.test("without a shadow Realtime the channels are reported as not joined", async () => {
  const found = await probeChannels(fakeSession(false), [{ topic: "notes:{uid}" }], leaky);
  assert.deepEqual(found.map((f) => f.rule), ["realtime_probe_not_run"]);
  const none = await probeChannels(fakeSession(true), [{ topic: "notes:{uid}" }], undefined);
  assert.deepEqual(none.map((f) => f.rule), ["realtime_probe_not_run"]);
});
