/**
 * The gates a task passes after its own validation, from the plan (the seed's Phase 3.2
 * `checkpoints` and 3.3 contracts): the checkpoints placed after it, which run their validator
 * suites on the run's accumulated output (every accepted migration and function, then this task's),
 * and the contracts it consumes, whose check reads the resulting schema. This module is the pure
 * part: which gates a task has, what a validation of the accumulated output means for each, and
 * which task a failing finding is attributed to (like shared/recovery/attribute.ts: the finding's
 * file's origin, else the last task whose migrations change the finding's table, else the task
 * the gate follows). run.ts does the I/O.
 *
 * @example
 * ```ts
 * const gates = gatesOf(plan, "T1");
 * const verdict = judgeGates({ task: "T1", gates, findings, schema, endpoints, migrations });
 * if (!verdict.ok) retryWith(verdict.findings);
 * ```
 */
import { changesTable, tablesCreatedBy } from "../recovery/mod.ts";
import type { Checkpoint, CheckpointSuite, Contract, Plan } from "../plan/mod.ts";
import { checkContracts, type ContractRef, type EndpointLike } from "../validation/contracts.ts";
import { judgeSuites, strictSuitesOf, type SuiteFinding, suitesOf } from "./suites.ts";

/** The gates of one task. */
export interface TaskGates {
  checkpoints: {
    index: number;
    checkpoint: Checkpoint;
    suites: CheckpointSuite[];
    /** The suites named exactly, judged strictly (see suites.ts). */
    strict: CheckpointSuite[];
  }[];
  /** Contracts the task consumes, with the producer's agent. */
  contracts: (ContractRef & { consumer: string })[];
}

/**
 * The checkpoints placed after task `key` and the contracts it consumes. `handoffOf` names the
 * task a recovery handoff took over (the specialist's task fixes that output on top of it): its
 * checkpoints run after the specialist's task, where its output is complete.
 */
export function gatesOf(plan: Plan, key: string, handoffOf: string | null = null): TaskGates {
  const agentOf = new Map(plan.tasks.map((t) => [t.id, t.agent]));
  const after = new Set([key, ...(handoffOf ? [handoffOf] : [])]);
  return {
    checkpoints: plan.checkpoints.flatMap((checkpoint, index) =>
      after.has(checkpoint.after)
        ? [{ index, checkpoint, suites: suitesOf(checkpoint), strict: strictSuitesOf(checkpoint) }]
        : []
    ),
    contracts: plan.contracts.filter((c: Contract) => c.consumers.includes(key)).map((c) => ({
      name: c.name,
      producer: c.producer,
      producerAgent: agentOf.get(c.producer) ?? null,
      description: c.description,
      consumer: key,
    })),
  };
}

/** Whether a task has any gate. */
export function hasGates(gates: TaskGates): boolean {
  return gates.checkpoints.length > 0 || gates.contracts.length > 0;
}

/** A migration of the accumulated output, in apply order, with the task that wrote it. */
export interface GateMigration {
  /** The file name the validator reports (the artifact path's last segment). */
  file: string;
  up: string;
  task: string;
}

/** A failing finding, attributed. */
export type GateFinding = SuiteFinding & {
  /** The task held responsible. */
  task: string;
  /** `checkpoint` or `contract`. */
  gate: "checkpoint" | "contract";
};

/** One checkpoint's verdict, as stored with the attempt and announced. */
export interface CheckpointVerdict {
  /** Position in the plan's `checkpoints`. */
  index: number;
  after: string;
  validate: string[];
  suites: CheckpointSuite[];
  /** The suites judged strictly (named exactly): their rules fail at any level. */
  strict: CheckpointSuite[];
  ok: boolean;
  failures: GateFinding[];
  /** The suites' report-only findings (how many, and the first few). */
  reports: SuiteFinding[];
  /** Tasks the failures are attributed to. */
  responsible: string[];
  /** False when the run had produced nothing the suites check yet (it passed with nothing to judge). */
  validated: boolean;
}

/** One contract's verdict. */
export interface ContractVerdict {
  name: string;
  producer: string;
  producerAgent: string | null;
  consumer: string;
  /** False when there was no schema to check against (say why in `note`). */
  checked: boolean;
  ok: boolean;
  violations: GateFinding[];
  note: string | null;
}

/** Everything the gates decided. */
export interface GateVerdict {
  ok: boolean;
  checkpoints: CheckpointVerdict[];
  contracts: ContractVerdict[];
  /** Every failing finding (level `error`), for the task's recovery and retry. */
  findings: GateFinding[];
  /** Tasks the failures are attributed to (the gated task when nothing else is). */
  responsible: string[];
  /** What to announce on the run's channel. */
  events: { type: string; body: Record<string, unknown> }[];
  /** How long validating the accumulated output took, in ms (0 when nothing was validated). */
  durationMs?: number;
}

/** What {@link judgeGates} reads. */
export interface JudgeInput {
  /** The gated task's key. */
  task: string;
  gates: TaskGates;
  /** Findings of the validation of the accumulated output (checkpoints). */
  findings: readonly SuiteFinding[];
  /** The resulting schema's keys, when the validation returned them (contracts). */
  schema: readonly string[] | null;
  /** Why there is no schema, when `schema` is null. */
  schemaNote?: string;
  /** Whether anything was validated (false: the run has no migration or function yet). */
  validated?: boolean;
  /** The task's API endpoints (from its output). */
  endpoints: readonly EndpointLike[];
  migrations: readonly GateMigration[];
}

const EVENT_FINDINGS = 10;

/** Judges the gates; see the module doc. Pure. */
export function judgeGates(input: JudgeInput): GateVerdict {
  const checkpoints = input.gates.checkpoints.map(({ index, checkpoint, suites, strict }) => {
    const judged = judgeSuites(suites, input.findings, strict);
    const label = `checkpoint after ${checkpoint.after} (${suites.join(", ")})`;
    const failures = judged.failures.map((f) => ({
      ...f,
      message: `${label}: ${f.message}`,
      task: responsibleFor(f, input.migrations, input.task),
      gate: "checkpoint" as const,
    }));
    return {
      index,
      after: checkpoint.after,
      validate: [...checkpoint.validate],
      suites,
      strict,
      ok: judged.ok,
      failures,
      reports: judged.reports.slice(0, 20),
      responsible: unique(failures.map((f) => f.task)),
      validated: input.validated ?? true,
    };
  });
  const contracts = input.gates.contracts.map((c) => {
    if (!input.schema) {
      return {
        name: c.name,
        producer: c.producer,
        producerAgent: c.producerAgent ?? null,
        consumer: c.consumer,
        checked: false,
        ok: true,
        violations: [],
        note: input.schemaNote ?? "no schema to check the contract against",
      };
    }
    const violations = checkContracts({
      contracts: [c],
      endpoints: input.endpoints,
      schema: input.schema,
    }).map((f) => ({ ...f, task: c.consumer, gate: "contract" as const }));
    return {
      name: c.name,
      producer: c.producer,
      producerAgent: c.producerAgent ?? null,
      consumer: c.consumer,
      checked: true,
      ok: violations.length === 0,
      violations,
      note: null,
    };
  });
  // A violation is reported once, under the contract that names its table (checkContracts picks
  // it among the task's contracts); the others keep their verdict on what is theirs.
  dedupeViolations(contracts, input);
  const findings = [
    ...checkpoints.flatMap((c) => c.failures),
    ...contracts.flatMap((c) => c.violations),
  ];
  const events = [
    ...checkpoints.map((c) => ({
      type: c.ok ? "checkpoint.passed" : "checkpoint.failed",
      body: {
        checkpoint: c.index,
        after: c.after,
        suites: c.suites,
        validate: c.validate,
        ...(c.ok ? { reports: c.reports.length, validated: c.validated } : {
          responsible: c.responsible,
          failures: c.failures.slice(0, EVENT_FINDINGS).map(eventFinding),
          more: Math.max(0, c.failures.length - EVENT_FINDINGS),
        }),
      },
    })),
    ...contracts.filter((c) => c.checked).map((c) => ({
      type: c.ok ? "contract.passed" : "contract.failed",
      body: {
        contract: c.name,
        producer: c.producer,
        consumer: c.consumer,
        ...(c.ok ? {} : {
          violations: c.violations.slice(0, EVENT_FINDINGS).map(eventFinding),
          more: Math.max(0, c.violations.length - EVENT_FINDINGS),
        }),
      },
    })),
  ];
  return {
    ok: findings.length === 0,
    checkpoints,
    contracts,
    findings,
    responsible: unique(findings.map((f) => f.task)),
    events,
  };
}

/**
 * The task a failing finding is attributed to: the task whose file it names; else the last task
 * whose migrations change the table of the finding's object (its creator when none changes it
 * after); else `fallback` (the gated task).
 */
export function responsibleFor(
  f: Pick<SuiteFinding, "file" | "object">,
  migrations: readonly GateMigration[],
  fallback: string,
): string {
  if (f.file) {
    const origin = migrations.find((m) => m.file === f.file);
    if (origin) return origin.task;
  }
  const table = tableOf(f.object);
  if (table) {
    const creator = migrations.find((m) => tablesCreatedBy(m.up).includes(table));
    const last = migrations.filter((m) => changesTable(m.up, table)).at(-1) ?? creator;
    if (last) return last.task;
  }
  return fallback;
}

// `public.trades` or `public.trades.user_id` → `public.trades`; anything else → null.
function tableOf(object: string | undefined): string | null {
  if (!object) return null;
  const parts = object.split(".");
  return parts.length >= 2 ? `${parts[0]}.${parts[1]}` : null;
}

function dedupeViolations(contracts: ContractVerdict[], input: JudgeInput) {
  if (contracts.length < 2 || !input.schema) return;
  const owner = new Map<string, string>();
  for (
    const f of checkContracts({
      contracts: input.gates.contracts,
      endpoints: input.endpoints,
      schema: input.schema,
    })
  ) {
    owner.set(`${f.statement}|${f.object}`, f.message);
  }
  for (const c of contracts) {
    c.violations = c.violations.filter((v) => {
      const msg = owner.get(`${v.statement}|${v.object}`);
      return msg === undefined || msg.includes(`contract "${c.name}"`);
    });
    c.ok = c.violations.length === 0;
  }
}

function eventFinding(f: GateFinding) {
  return {
    rule: f.rule,
    task: f.task,
    file: f.file ?? null,
    object: f.object ?? null,
    message: f.message.slice(0, 500),
  };
}

function unique(list: string[]): string[] {
  return [...new Set(list)];
}

/**
 * The task's validation with the gates' verdict folded in: `ok` only when both passed, the gates'
 * failing findings appended (level `error`, so the retry shows them), the verdicts kept under
 * `checkpoints` and `contracts`.
 */
export function withGates<V extends { ok: boolean; errors: number; findings: unknown[] }>(
  validation: V,
  verdict: GateVerdict | null,
): V & {
  checkpoints?: CheckpointVerdict[];
  contracts?: ContractVerdict[];
  stage?: string;
  gates_ms?: number;
} {
  if (!verdict) return validation;
  return {
    ...validation,
    ok: validation.ok && verdict.ok,
    errors: validation.errors + verdict.findings.length,
    findings: [...validation.findings, ...verdict.findings],
    checkpoints: verdict.checkpoints,
    contracts: verdict.contracts,
    gates_ms: verdict.durationMs ?? 0,
    ...(verdict.ok ? {} : { stage: gateStage(verdict) }),
  };
}

/** `checkpoint` or `contract`: which gate failed (a checkpoint first). */
export function gateStage(verdict: GateVerdict): "checkpoint" | "contract" {
  return verdict.checkpoints.some((c) => !c.ok) ? "checkpoint" : "contract";
}

/** One sentence on what failed, for the attempt's error and the recovery decision's reason. */
export function gateFailureText(verdict: GateVerdict, task: string): string {
  const parts: string[] = [];
  for (const c of verdict.checkpoints.filter((c) => !c.ok)) {
    const rules = unique(c.failures.map((f) => f.rule)).join(", ");
    const who = c.responsible.map((t) => t === task ? `${t}'s output` : `${t}'s (accepted) output`)
      .join(" and ");
    parts.push(`checkpoint after ${c.after} (${c.suites.join(", ")}) failed: ${rules} in ${who}`);
  }
  for (const c of verdict.contracts.filter((c) => !c.ok)) {
    const missing = c.violations.map((v) => v.object).filter(Boolean).slice(0, 5).join(", ");
    parts.push(
      `contract "${c.name}" from ${c.producer}${
        c.producerAgent ? ` (${c.producerAgent})` : ""
      } broken by ${c.consumer}: ${missing} not in the schema`,
    );
  }
  return parts.join("; ");
}
