import assert from "node:assert/strict";
import { RateWindow } from "./rate_window.ts";

Deno.test("at most `limit` events pass in any window, and refused ones do not count", () => {
  const w = new RateWindow(3, 1_000);
  assert.deepEqual([0, 10, 20, 30, 40].map((t) => w.take(t)), [true, true, true, false, false]);
  // The window slides from the first accepted event, not from the refused ones.
  assert.equal(w.take(999), false);
  assert.equal(w.take(1_000), true);
  assert.equal(w.take(1_005), false);
  assert.equal(w.take(1_010), true);
  assert.equal(w.take(1_020), true);
  assert.equal(w.take(1_021), false);
});

Deno.test("a long run of events keeps working and memory stays bounded", () => {
  const w = new RateWindow(5, 100);
  let accepted = 0;
  for (let t = 0; t < 100_000; t++) if (w.take(t)) accepted++;
  // 5 per 100 ms window over 100 000 ms.
  assert.equal(accepted, 5_000);
});
