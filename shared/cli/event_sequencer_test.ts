import assert from "node:assert/strict";
import { EventSequencer } from "./event_sequencer.ts";

const seqs = (events: { seq: number }[]) => events.map((e) => e.seq);

Deno.test("events arriving in order are released at once", () => {
  const s = new EventSequencer();
  assert.deepEqual(seqs(s.accept([{ seq: 1 }, { seq: 2 }])), [1, 2]);
  assert.deepEqual(seqs(s.accept([{ seq: 3 }])), [3]);
  assert.equal(s.lastSeq, 3);
  assert.equal(s.hasGap, false);
});

Deno.test("an event past a gap is held until the gap is filled, then both come out in order", () => {
  const s = new EventSequencer();
  s.accept([{ seq: 1 }]);
  assert.deepEqual(s.accept([{ seq: 3 }]), []);
  assert.equal(s.hasGap, true);
  assert.deepEqual(seqs(s.accept([{ seq: 2 }])), [2, 3]);
  assert.equal(s.hasGap, false);
});

Deno.test("an event seen twice (catch-up and broadcast overlap) is released once", () => {
  const s = new EventSequencer();
  assert.deepEqual(seqs(s.accept([{ seq: 1 }, { seq: 2 }])), [1, 2]);
  assert.deepEqual(seqs(s.accept([{ seq: 2 }, { seq: 1 }, { seq: 3 }, { seq: 3 }])), [3]);
});

Deno.test("a follower starting after seq N ignores events up to N", () => {
  const s = new EventSequencer(5);
  assert.deepEqual(seqs(s.accept([{ seq: 4 }, { seq: 5 }, { seq: 6 }])), [6]);
});

Deno.test("a batch given out of order comes out sorted", () => {
  const s = new EventSequencer();
  assert.deepEqual(seqs(s.accept([{ seq: 3 }, { seq: 1 }, { seq: 2 }])), [1, 2, 3]);
});
