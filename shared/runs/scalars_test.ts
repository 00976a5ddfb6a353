import assert from "node:assert/strict";
import { Dollars, formatUsd } from "./scalars.ts";
import { taskCost } from "./task.ts";

Deno.test("numeric dollars from postgres.js are read as numbers, null as unknown", () => {
  assert.equal(Dollars.parse("0.000720"), 0.00072);
  assert.equal(Dollars.parse("12.500000"), 12.5);
  assert.equal(Dollars.parse(null), null);
  assert.throws(() => Dollars.parse("-1"));
});

Deno.test("dollars read as on a bill: cents from a dollar up, micro-dollars below", () => {
  assert.equal(formatUsd(0.00072), "$0.00072");
  assert.equal(formatUsd(0.5), "$0.50");
  assert.equal(formatUsd(0), "$0.00");
  assert.equal(formatUsd(12.5), "$12.50");
});

Deno.test("a task costs the sum of its attempts, and is unknown when one attempt is", () => {
  assert.equal(taskCost([{ cost_usd: 0.1 }, { cost_usd: 0.2 }]), 0.3);
  assert.equal(taskCost([]), 0);
  assert.equal(taskCost([{ cost_usd: 0.1 }, { cost_usd: null }]), null);
});
