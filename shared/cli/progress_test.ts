import assert from "node:assert/strict";
import type { RunEventPayload } from "../events/mod.ts";
import { coalescedSampleEvents, RUN, sampleEvents } from "./testdata/sample_events.ts";
import { applyEvent, emptyProgress, type RunProgress, shouldStop, taskTokens } from "./progress.ts";

function fold(events: RunEventPayload[]): RunProgress {
  return events.reduce(applyEvent, emptyProgress(RUN));
}

Deno.test("tasks appear in plan order with their agent, state, attempt and tokens", () => {
  const p = fold(sampleEvents());
  assert.equal(p.status, "executing");
  assert.equal(p.lastSeq, 9);
  assert.deepEqual(p.tasks.map((t) => [t.key, t.agent, t.status, t.attempt]), [
    ["T1", "db-architect", "succeeded", 1],
    ["T2", "security", "pending", 0],
  ]);
  assert.equal(p.tasks[0].promptTokens + p.tasks[0].completionTokens, 1500);
  assert.equal(taskTokens(p), 1500);
  assert.deepEqual(p.tasks[0].validation, { ok: true, errors: 0, warnings: 2 });
  assert.deepEqual(p.artifacts, [{ kind: "migration", path: "migrations/create.sql" }]);
});

Deno.test("a task's elapsed time runs from its first start to when it finished", () => {
  const t1 = fold(sampleEvents()).tasks[0];
  assert.equal(t1.finishedAt! - t1.startedAt!, 4000);
  const running = fold(sampleEvents().slice(0, 5)).tasks[0];
  assert.equal(running.finishedAt, undefined);
});

Deno.test("following stops when the run ends or waits for answers, not before", () => {
  const events = sampleEvents();
  assert.equal(shouldStop(fold(events)), false);
  const at = events[0].at;
  for (const status of ["completed", "failed", "cancelled", "awaiting_clarification"]) {
    const p = applyEvent(fold(events), {
      type: "run.status",
      run_id: RUN,
      seq: 10,
      at,
      status,
      from: "executing",
      error: status === "failed" ? { code: "task_failed", message: "T1 failed" } : null,
    });
    assert.equal(shouldStop(p), true, status);
    if (status === "failed") {
      assert.deepEqual(p.error, { code: "task_failed", message: "T1 failed" });
    }
  }
});

Deno.test("the progress is the same whatever the events are folded into, and inputs are not changed", () => {
  const start = emptyProgress(RUN);
  const once = fold(sampleEvents());
  applyEvent(start, sampleEvents()[0]);
  assert.deepEqual(start, emptyProgress(RUN));
  assert.deepEqual(fold(sampleEvents()), once);
});

Deno.test("recovery decisions are kept in order with their route and reason; unknown tasks are not invented", () => {
  const events = sampleEvents();
  const p = fold([...events, {
    type: "recovery.decision",
    run_id: RUN,
    seq: 10,
    at: events[0].at,
    decision_id: crypto.randomUUID(),
    class: "security",
    strategy: "reroute",
    from_task: "T1",
    to_task: "T3",
    to_agent: "security",
    reason: "RLS is disabled on positions",
  }]);
  assert.deepEqual(p.recovery, [{
    seq: 10,
    class: "security",
    strategy: "reroute",
    fromTask: "T1",
    toTask: "T3",
    toAgent: "security",
    reason: "RLS is disabled on positions",
  }]);
  assert.equal(p.lastSeq, 10);
  assert.equal(p.tasks.length, 2, "the decision adds no task: T3's own events will");
  assert.deepEqual(fold(events).recovery, []);
});

Deno.test("a task.status event carrying usage, validation and artifacts folds as the separate events of older logs did", () => {
  const legacy = fold(sampleEvents());
  const coalesced = fold(coalescedSampleEvents());
  assert.deepEqual(coalesced.tasks, legacy.tasks);
  assert.deepEqual(coalesced.artifacts, legacy.artifacts);
  assert.equal(taskTokens(coalesced), 1500);
  assert.equal(coalesced.lastSeq, 6);
});
