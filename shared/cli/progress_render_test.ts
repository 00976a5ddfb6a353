import assert from "node:assert/strict";
import type { RunEventPayload } from "../events/mod.ts";
import { applyEvent, emptyProgress, type RunProgress } from "./progress.ts";
import {
  decisionText,
  describeDecision,
  describeEvent,
  formatCount,
  formatDuration,
  FRAME_DECISIONS,
  renderFrame,
} from "./progress_render.ts";
import { coalescedSampleEvents, sampleEvents } from "./testdata/sample_events.ts";

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

/** The sample run, then T1's output sent back at delivery, rerouted, and escalated. */
function withDecisions(): RunEventPayload[] {
  const events = sampleEvents();
  const at = (i: number) => new Date(Date.UTC(2026, 10, 25, 12, 0, 10 + i)).toISOString();
  const decision = (
    i: number,
    d: {
      class: string;
      strategy: string;
      from_task: string | null;
      to_task: string | null;
      to_agent: string | null;
      reason: string;
    },
  ): RunEventPayload => ({
    type: "recovery.decision",
    run_id: events[0].run_id,
    seq: 10 + i,
    at: at(i),
    decision_id: crypto.randomUUID(),
    ...d,
  });
  return [
    ...events,
    decision(0, {
      class: "integration",
      strategy: "retry",
      from_task: "T1",
      to_task: "T1",
      to_agent: null,
      reason:
        'the merged result fails at delivery because of task T1:\n relation "tags" already exists',
    }),
    decision(1, {
      class: "security",
      strategy: "reroute",
      from_task: "T1",
      to_task: "T3",
      to_agent: "security",
      reason: "RLS is disabled on positions",
    }),
    decision(2, {
      class: "model",
      strategy: "escalate",
      from_task: "T2",
      to_task: null,
      to_agent: null,
      reason: "the model stayed unavailable",
    }),
  ];
}

Deno.test("each recovery decision is a plain line: class, strategy, from → to, reason", () => {
  const { lines } = folded(withDecisions());
  assert.deepEqual(lines.slice(-3), [
    '#10 recovery integration retry: T1 → T1 (db-architect): the merged result fails at delivery because of task T1: relation "tags" already exists',
    "#11 recovery security reroute: T1 → T3 (security): RLS is disabled on positions",
    "#12 recovery model escalate: T2 → you: the model stayed unavailable",
  ]);
});

Deno.test("the live frame lists the recovery decisions below the tasks, aligned", () => {
  const { progress } = folded(withDecisions());
  const lines = renderFrame(progress, Date.parse("2026-11-25T12:00:30Z")).split("\n");
  const at = lines.indexOf("  recovery");
  assert.ok(at > 2, lines.join("\n"));
  assert.deepEqual(lines.slice(at + 1), [
    '    integration  retry     T1 → T1 db-architect  the merged result fails at delivery because of task T1: relation "tags" already exists',
    "    security     reroute   T1 → T3 security      RLS is disabled on positions",
    "    model        escalate  T2 → you              the model stayed unavailable",
  ]);
});

Deno.test("a frame shows the latest decisions only, saying how many earlier ones it leaves out", () => {
  const events = withDecisions();
  const last = events.at(-1)!;
  const many = [...events];
  for (let i = 1; i <= FRAME_DECISIONS; i++) {
    many.push({ ...last, seq: last.seq + i, reason: `escalation ${i}` } as RunEventPayload);
  }
  const { progress } = folded(many);
  assert.equal(progress.recovery.length, 3 + FRAME_DECISIONS);
  const lines = renderFrame(progress, 0).split("\n");
  assert.ok(lines.includes("  recovery (3 earlier not shown)"), lines.join("\n"));
  const rows = lines.filter((l) => l.startsWith("    "));
  assert.equal(rows.length, FRAME_DECISIONS);
  assert.match(rows.at(-1)!, /escalation 5$/);
  assert.ok(!renderFrame(folded(sampleEvents()).progress, 0).includes("recovery"));
});

Deno.test("a decision listed by GET /runs/:id reads like its event (bt status)", () => {
  const { progress } = folded(withDecisions());
  const agentOf = (key: string) => progress.tasks.find((t) => t.key === key)?.agent;
  assert.equal(
    describeDecision(
      decisionText({
        class: "integration",
        strategy: "retry",
        from_task: "T1",
        to_task: "T1",
        to_agent: null,
        reason: "the merged result fails",
      }),
      agentOf,
    ),
    "integration retry: T1 → T1 (db-architect): the merged result fails",
  );
  assert.equal(
    describeDecision(
      decisionText({
        class: "model",
        strategy: "escalate",
        from_task: "T2",
        to_task: null,
        to_agent: null,
        reason: "out of deliveries",
      }),
      () => undefined,
    ),
    "model escalate: T2 → you: out of deliveries",
  );
});

Deno.test("checkpoint and contract verdicts are plain lines too", () => {
  const runId = crypto.randomUUID();
  const base = { run_id: runId, at: "2026-12-02T10:00:00.000Z", task_id: crypto.randomUUID() };
  const failure = {
    rule: "unindexed_foreign_keys",
    task: "T1",
    file: "create.sql",
    object: "public.trades",
    message: "m",
  };
  const { lines } = folded([
    {
      ...base,
      seq: 1,
      type: "checkpoint.failed",
      task: "T1",
      attempt: 1,
      checkpoint: 0,
      after: "T1",
      suites: ["indexes"],
      validate: ["indexes"],
      responsible: ["T1"],
      failures: [failure, failure],
      more: 0,
    },
    {
      ...base,
      seq: 2,
      type: "checkpoint.passed",
      task: "T1",
      attempt: 2,
      checkpoint: 0,
      after: "T1",
      suites: ["indexes"],
      validate: ["indexes"],
      reports: 0,
    },
    {
      ...base,
      seq: 3,
      type: "contract.failed",
      task: "T2",
      attempt: 1,
      contract: "positions_api",
      producer: "T1",
      consumer: "T2",
      violations: [{ ...failure, rule: "contract_violation", object: "public.positions.size" }],
    },
    {
      ...base,
      seq: 4,
      type: "contract.passed",
      task: "T2",
      attempt: 2,
      contract: "positions_api",
      producer: "T1",
      consumer: "T2",
    },
  ]);
  assert.deepEqual(lines, [
    "#1 checkpoint after T1 (indexes) failed: unindexed_foreign_keys in T1 (2 findings)",
    "#2 checkpoint after T1 (indexes) passed",
    "#3 T2 contract positions_api (from T1) broken: public.positions.size not in the schema",
    "#4 T2 contract positions_api (from T1) honoured",
  ]);
});

Deno.test("an event that ends an attempt says in one line what it used, the verdict and the files", () => {
  const { lines } = folded(coalescedSampleEvents());
  assert.deepEqual(lines.slice(5), [
    "#6 T1 db-architect succeeded (attempt 1 valid: 1,500 tokens, 2.1s; " +
    "validation passed: 0 errors, 2 warnings; wrote migration migrations/create.sql)",
  ]);
});
