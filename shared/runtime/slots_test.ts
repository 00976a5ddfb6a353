import assert from "node:assert/strict";
import { createSlots } from "./slots.ts";

Deno.test("at most `size` holders run at once; the others start in arrival order as slots free", async () => {
  const slots = createSlots(2);
  let running = 0;
  let peak = 0;
  const started: number[] = [];
  const gates = Array.from({ length: 5 }, () => Promise.withResolvers<void>());
  const all = gates.map((g, i) =>
    slots.run(async () => {
      started.push(i);
      running++;
      peak = Math.max(peak, running);
      await g.promise;
      running--;
      return i;
    })
  );
  await new Promise((r) => setTimeout(r, 0));
  assert.deepEqual(started, [0, 1]);
  assert.equal(slots.waiting, 3);
  gates[1].resolve();
  await new Promise((r) => setTimeout(r, 0));
  assert.deepEqual(started, [0, 1, 2]);
  for (const g of gates) g.resolve();
  assert.deepEqual(await Promise.all(all), [0, 1, 2, 3, 4]);
  assert.equal(peak, 2);
  assert.equal(slots.busy, 0);
});

Deno.test("a holder that throws frees its slot", async () => {
  const slots = createSlots(1);
  await assert.rejects(slots.run(() => Promise.reject(new Error("boom"))), /boom/);
  assert.equal(await slots.run(() => Promise.resolve("next")), "next");
  assert.equal(slots.busy, 0);
  assert.throws(() => createSlots(0), RangeError);
});
