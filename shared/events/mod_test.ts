import assert from "node:assert/strict";
import { RUN_EVENT_NAMES, RunEventPayload, runTopic } from "./mod.ts";

Deno.test("every event name has a payload schema and payloads are told apart by type", () => {
  const runId = crypto.randomUUID();
  const e = RunEventPayload.parse({
    type: "task.status",
    run_id: runId,
    seq: 4,
    at: new Date().toISOString(),
    task_id: crypto.randomUUID(),
    key: "T1",
    agent: "db-architect",
    status: "running",
    from: "queued",
    attempt: 1,
  });
  assert.equal(e.type, "task.status");
  const names = RunEventPayload.options.map((o) => o.shape.type.value);
  assert.deepEqual([...names].sort(), [...RUN_EVENT_NAMES].sort());
  assert.equal(runTopic(runId), `run:${runId}`);
  assert.throws(() => RunEventPayload.parse({ type: "run.status", run_id: runId, seq: 0, at: "" }));
});

Deno.test("a recovery decision event parses as the SQL emits it (record_recovery_decision)", () => {
  const runId = crypto.randomUUID();
  const e = RunEventPayload.parse({
    type: "recovery.decision",
    run_id: runId,
    seq: 9,
    at: new Date().toISOString(),
    decision_id: crypto.randomUUID(),
    class: "model",
    strategy: "escalate",
    from_task: "T2",
    to_task: null,
    to_agent: null,
    reason: "the model stayed unavailable",
  });
  assert.equal(e.type, "recovery.decision");
  assert.throws(() =>
    RunEventPayload.parse({ type: "recovery.decision", run_id: runId, seq: 9, at: "", class: "x" })
  );
});

Deno.test("checkpoint and contract verdicts parse as the SQL emits them (announce_gate_results)", () => {
  const common = {
    run_id: crypto.randomUUID(),
    at: new Date().toISOString(),
    task_id: crypto.randomUUID(),
    task: "T1",
    attempt: 1,
  };
  const c = RunEventPayload.parse({
    ...common,
    seq: 5,
    type: "checkpoint.failed",
    checkpoint: 0,
    after: "T1",
    suites: ["indexes"],
    validate: ["indexes"],
    responsible: ["T1"],
    failures: [{
      rule: "unindexed_foreign_keys",
      task: "T1",
      file: "a.sql",
      object: null,
      message: "m",
    }],
    more: 0,
  });
  assert.equal(c.type, "checkpoint.failed");
  const k = RunEventPayload.parse({
    ...common,
    seq: 6,
    type: "contract.passed",
    contract: "positions_api",
    producer: "T1",
    consumer: "T2",
  });
  assert.equal(k.type, "contract.passed");
});
