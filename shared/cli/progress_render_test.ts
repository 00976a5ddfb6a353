import assert from "node:assert/strict";
import type { RunEventPayload } from "../events/mod.ts";
import { applyEvent, emptyProgress, type RunProgress } from "./progress.ts";
import { describeEvent, formatCount, formatDuration, renderFrame } from "./progress_render.ts";
import { sampleEvents } from "./testdata/sample_events.ts";

function folded(events: RunEventPayload[]): { lines: string[]; progress: RunProgress } {
  let progress = emptyProgress(events[0].run_id);
  const lines: string[] = [];
  for (const e of events) {
    progress = applyEvent(progress, e);
    lines.push(describeEvent(e, progress));
  }
  return { lines, progress };
}

Deno.test("plain output is one readable line per event, numbered by seq", () => {
  const { lines } = folded(sampleEvents());
  assert.deepEqual(lines, [
    "#1 run understanding",
    "#2 run executing",
    "#3 T2 security pending",
    "#4 T1 db-architect queued",
    "#5 T1 db-architect running (attempt 1)",
    "#6 T1 attempt 1 valid: 1,500 tokens, 2.1s",
    "#7 T1 db-architect validation passed: 0 errors, 2 warnings",
    "#8 T1 wrote migration migrations/create.sql",
    "#9 T1 db-architect succeeded",
  ]);
});

Deno.test("the live frame shows each task's agent, state, attempt, elapsed time and tokens", () => {
  const { progress } = folded(sampleEvents());
  const frame = renderFrame(progress, Date.parse("2026-11-25T12:00:30Z"));
  const lines = frame.split("\n");
  assert.match(lines[0], /^run 6f1c2a4e {2}executing {2}1,500 tokens {2}30\.0s$/);
  assert.match(lines[1], /T1 +db-architect +succeeded +#1 +4\.0s +1,500 tok +valid/);
  assert.match(lines[2], /T2 +security +pending +- +- +-/);
  assert.ok(!frame.includes("\x1b["), "no colour unless asked");
  assert.ok(renderFrame(progress, 0, { color: true }).includes("\x1b[32msucceeded"));
});

Deno.test("a failed run's frame ends with its error", () => {
  const events = sampleEvents();
  const { progress } = folded([...events, {
    type: "run.status",
    run_id: events[0].run_id,
    seq: 10,
    at: events[8].at,
    status: "failed",
    from: "executing",
    error: { code: "budget_exceeded", message: "over budget" },
  }]);
  assert.match(renderFrame(progress, 0), /error: budget_exceeded: over budget$/);
});

Deno.test("durations and counts read naturally", () => {
  assert.equal(formatDuration(850), "850ms");
  assert.equal(formatDuration(4200), "4.2s");
  assert.equal(formatDuration(65_000), "1m05s");
  assert.equal(formatCount(1234567), "1,234,567");
});
