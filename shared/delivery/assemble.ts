/**
 * Phase 7's assembly, pure: from a finished run's tasks and artifacts (and, when a shadow database
 * was available, the integration verdict with the pgTAP files it generated and ran) to one
 * deliverable — the Supabase project's files (timestamped migrations, their down migrations,
 * functions, docs, deploy config, tests, a README) and the sections index stored as the run's
 * result: summary, migrations in order with their policies, indexes with the queries they serve,
 * functions, API docs, deployment, setup (env vars, CLI steps), notes (assumptions, rollback,
 * future improvements, what failed and what recovered it) and the validation evidence of every
 * file. Same input, same output.
 *
 * @example
 * ```ts
 * const { result, files } = await assembleDeliverable({ run, tasks, artifacts, validation });
 * ```
 */
import { z } from "zod";
import { AppError } from "../errors/mod.ts";
import type {
  DeliverableFile,
  DeliveredEnvVar,
  DeliveredFunction,
  DeliveredIndex,
  DeliveredMigration,
  DeliveredPolicy,
  DeliveryResult,
  DeliverySummary,
  FileEvidence,
  RecoveryNote,
  SetupStep,
  TaskEvidence,
} from "../runs/mod.ts";
import { formatUsd } from "../runs/mod.ts";
import type {
  AssemblyInput,
  DeliveryArtifact,
  DeliveryRun,
  DeliveryTask,
} from "./assembly_input.ts";
import { indexMeasurements, integrationLine, taskEvidence } from "./evidence.ts";
import { FUNCTION_TEST_FOLDER, generateFunctionTests } from "./function_tests.ts";
import type { IntegrationOutcome } from "./integration.ts";
import { renderDeliverableMarkdown } from "./markdown.ts";
import {
  artifactOrder,
  type OrderedMigration,
  orderMigrations,
  taskOrder,
} from "./migration_order.ts";
import { type MigrationFacts, migrationFacts } from "./migration_facts.ts";

/** Everything assembled: the files and the sections index (the run's `result`). */
export interface AssembledDeliverable {
  result: DeliveryResult;
  files: DeliverableFile[];
}

/** What {@link assembleDeliverable} reads. */
export interface AssembleRequest extends AssemblyInput {
  /** The integration validation and its pgTAP files; absent when no shadow database was used. */
  validation?: IntegrationOutcome | null;
}

/** Variables every Supabase Edge Function receives from the platform, and whether each is secret. */
export const SUPABASE_PROVIDED_ENV: Record<string, { description: string; secret: boolean }> = {
  SUPABASE_URL: { description: "The project's API URL.", secret: false },
  SUPABASE_ANON_KEY: { description: "The anon (public) key.", secret: false },
  SUPABASE_PUBLISHABLE_KEYS: { description: "The publishable (public) keys.", secret: false },
  SUPABASE_SERVICE_ROLE_KEY: { description: "The service role key (bypasses RLS).", secret: true },
  SUPABASE_SECRET_KEYS: { description: "The secret keys (bypass RLS).", secret: true },
  SUPABASE_DB_URL: { description: "The database's direct connection URL.", secret: true },
};

/** Titles of the documents agents write in sections (see `DOC_PATHS` of the agents). */
const DOC_TITLES: Record<string, string> = {
  "docs/policies.md": "Row level security policies",
  "docs/indexes.md": "Indexes",
  "docs/queries.md": "Queries",
  "docs/api.md": "API",
  "docs/realtime.md": "Realtime",
  "docs/setup.md": "Setup",
  "docs/diagnosis.md": "Diagnosis",
  "docs/security.md": "Security review",
};

/** The part of an agent's output the assembler reads (every agent's envelope has it). */
const OutputEnvelope = z.looseObject({
  summary: z.string().optional(),
  notes: z.array(z.string()).optional(),
  assumptions: z.array(z.string()).optional(),
  artifacts: z.looseObject({
    env_vars: z.array(z.looseObject({
      name: z.string(),
      description: z.string().optional(),
      secret: z.boolean().optional(),
    })).optional(),
    steps: z.array(z.string()).optional(),
    endpoints: z.array(z.looseObject({
      method: z.string(),
      path: z.string(),
      kind: z.string(),
      errors: z.array(z.looseObject({ status: z.number() })).optional(),
    })).optional(),
  }).optional(),
});
type OutputEnvelope = z.infer<typeof OutputEnvelope>;

/** Assembles the deliverable of a run whose tasks all succeeded; see the module doc. */
export async function assembleDeliverable(
  request: AssembleRequest,
): Promise<AssembledDeliverable> {
  const unfinished = request.tasks.filter((t) => t.status !== "succeeded");
  if (unfinished.length > 0) {
    throw new AppError(
      "conflict",
      `the run has unfinished tasks: ${unfinished.map((t) => `${t.key} (${t.status})`).join(", ")}`,
      { tasks: unfinished.map((t) => ({ key: t.key, status: t.status })) },
    );
  }
  const integration = request.validation?.report ?? null;
  const outputs = new Map(request.tasks.map((t) => [t.id, envelopeOf(t.output)]));
  const migrations = orderMigrations(request);
  // What each migration creates, read by the Postgres parser (the only asynchronous step).
  const facts = new Map<string, MigrationFacts>();
  for (const m of migrations) facts.set(m.path, await migrationFacts(m.up));
  const notes: string[] = [];
  const files = new FileSet(notes);

  for (const m of migrations) {
    files.add({
      path: m.path,
      kind: "migration",
      content: m.up.endsWith("\n") ? m.up : `${m.up}\n`,
      meta: { ...origin(m.task), source_path: m.source.path, version: m.version, name: m.name },
    });
  }
  for (const m of migrations) {
    if (!m.rollbackPath || !m.down) continue;
    files.add({
      path: m.rollbackPath,
      kind: "migration",
      content:
        `-- Undoes ${m.path}. Run by hand, newest first (see the README's rollback steps).\n` +
        (m.down.endsWith("\n") ? m.down : `${m.down}\n`),
      meta: { ...origin(m.task), direction: "down", migration_path: m.path },
    });
  }
  for (const test of request.validation?.tests ?? []) {
    files.add({
      path: test.path,
      kind: "test",
      content: test.content,
      meta: { generated: true, table: test.table, planned: test.planned, skipped: test.skipped },
    });
  }

  const ordered = artifactOrder(request);
  const sectionDocs = new Map<string, { task: DeliveryTask; artifact: DeliveryArtifact }[]>();
  for (const entry of ordered) {
    const { artifact } = entry;
    if (artifact.kind === "migration" && artifact.meta.section !== true) continue;
    // Sections of one document may be stored as `doc.md#n` (one row per section and path).
    const docPath = artifact.meta.section === true
      ? artifact.path.replace(/#.*$/, "")
      : artifact.path;
    if (!isSafePath(docPath)) {
      notes.push(
        `Left out ${
          JSON.stringify(artifact.path)
        } (from ${entry.task.key}): not a relative project path.`,
      );
      continue;
    }
    if (artifact.meta.section === true) {
      sectionDocs.set(docPath, [...(sectionDocs.get(docPath) ?? []), entry]);
      continue;
    }
    const path = artifact.path === "README.md" ? `docs/README.${entry.task.key}.md` : artifact.path;
    files.add({
      path,
      kind: artifact.kind as DeliverableFile["kind"],
      content: artifact.content,
      meta: {
        ...origin(entry.task),
        source_path: artifact.path,
        ...pick(artifact.meta, ["description", "function_name"]),
      },
    });
  }
  for (const [path, entries] of sectionDocs) {
    const title = DOC_TITLES[path] ?? titleOf(path);
    files.add({
      path,
      kind: entries[0].artifact.kind as DeliverableFile["kind"],
      content: `# ${title}\n\n${entries.map((e) => e.artifact.content.trim()).join("\n\n")}\n`,
      meta: {
        sections: entries.length,
        task_keys: [...new Set(entries.map((e) => e.task.key))],
        agents: [...new Set(entries.map((e) => e.task.agent))],
      },
    });
  }

  const deliveredMigrations = migrations.map((m) =>
    deliveredMigration(m, ordered, facts.get(m.path)!)
  );
  const functions = edgeFunctions(ordered);
  const envVars = environment(request.tasks, outputs, functions);
  // The functions' own tests ship beside the pgTAP tests (run with `deno test`).
  const endpoints = [...outputs.values()].flatMap((o) => o.artifacts?.endpoints ?? []);
  for (const test of generateFunctionTests(functions, endpoints)) {
    files.add({
      path: test.path,
      kind: "test",
      content: test.content,
      meta: { generated: true, ...(test.function ? { function_name: test.function } : {}) },
    });
  }
  const all = files.list();
  const tests = all.filter((f) => f.kind === "test").map((f) => f.path);
  const pgtapTests = tests.filter((p) => !p.startsWith(`${FUNCTION_TEST_FOLDER}/`));
  const functionTests = tests.filter((p) =>
    p.startsWith(`${FUNCTION_TEST_FOLDER}/`) && p.endsWith("_test.ts")
  );
  const apiDocs = all.filter((f) => f.kind === "api_doc").map((f) => f.path);
  const deployment = all.filter((f) => f.kind === "deploy_config").map((f) => f.path);
  const functionFiles = new Set(functions.flatMap((f) => f.files));
  const listed = new Set([
    ...migrations.flatMap((m) => [m.path, m.rollbackPath ?? ""]),
    ...tests,
    ...apiDocs,
    ...deployment,
    ...functionFiles,
  ]);
  const otherFiles = all.map((f) => f.path).filter((p) => !listed.has(p));

  for (const test of request.validation?.tests ?? []) {
    for (const reason of test.skipped) notes.push(`${test.table}: not tested — ${reason}.`);
  }
  for (const m of migrations.filter((m) => m.down === null)) {
    notes.push(`${m.path} has no down migration; undoing it needs a hand-written one.`);
  }
  if (!integration) {
    notes.push(
      "The merged migrations were not validated together on a shadow database at delivery, so " +
        "no pgTAP tests were generated.",
    );
  }

  const indexes = deliveredIndexes(migrations, ordered, facts);
  const summary = summaryOf(request, outputs, {
    migrations: migrations.length,
    policies: deliveredMigrations.reduce((n, m) => n + m.policies.length, 0),
    indexes: indexes.length,
    edge_functions: functions.length,
    tests: pgtapTests.length,
    files: all.length + 1,
  });
  const evidence: FileEvidence[] = all.map((file) => {
    const keys = Array.isArray(file.meta.task_keys) ? file.meta.task_keys : [file.meta.task_key];
    const tasks = request.tasks.filter((t) => keys.includes(t.key));
    const reports = tasks.map((task) => {
      const source = request.artifacts.find((a) =>
        a.task_id === task.id && a.path === file.meta.source_path
      );
      return taskEvidence(task.validation, source?.meta.validation);
    });
    return {
      path: file.path,
      task_key: tasks.length > 0 ? tasks.map((t) => t.key).join(", ") : null,
      agent: tasks.length > 0 ? [...new Set(tasks.map((t) => t.agent))].join(", ") : null,
      task: combinedEvidence(reports),
      integration: integrationLine(integration, file.path) ??
        (file.meta.direction === "down" ? rollbackLine(integration) : null),
    };
  });

  const result: DeliveryResult = {
    format: "backend-team.deliverable/1",
    summary,
    sections: {
      migrations: deliveredMigrations,
      indexes,
      edge_functions: functions,
      api_docs: apiDocs,
      deployment,
      tests,
      other_files: otherFiles,
      setup: {
        env_vars: envVars,
        steps: setupSteps(
          migrations,
          functions,
          envVars,
          { pgtap: pgtapTests, functions: functionTests },
          request.tasks,
          outputs,
        ),
      },
      notes: {
        assumptions: assumptions(request, outputs),
        rollback: [...migrations].reverse().map((m) => ({
          migration_path: m.path,
          rollback_path: m.rollbackPath,
        })),
        future_improvements: [
          ...taskOrder(request.tasks).flatMap((t) =>
            (outputs.get(t.id)?.notes ?? []).map((n) => `${n} (${t.key}, ${t.agent})`)
          ),
          ...notes,
        ],
        recovery: recoveryNotes(request),
      },
    },
    files: all.length + 1,
    validation: { integration, evidence },
  };
  const readme: DeliverableFile = {
    path: "README.md",
    kind: "doc",
    content: renderDeliverableMarkdown({ result, files: all }),
    meta: { generated: true },
  };
  return { result, files: [readme, ...all] };
}

/** Each recovery decision with the agents of the tasks it names, in order. */
function recoveryNotes(request: AssemblyInput): RecoveryNote[] {
  const agentOf = (key: string | null) =>
    key === null ? null : request.tasks.find((t) => t.key === key)?.agent ?? null;
  return (request.recovery ?? []).map((d) => ({
    class: d.class,
    strategy: d.strategy,
    from_task: d.from_task,
    from_agent: agentOf(d.from_task),
    to_task: d.to_task,
    to_agent: d.to_agent ?? agentOf(d.to_task),
    reason: d.reason,
  }));
}

/** The deliverable's files by path; a later file at the same path replaces the earlier one. */
class FileSet {
  #files = new Map<string, DeliverableFile>();
  constructor(private readonly notes: string[]) {}
  add(file: DeliverableFile): void {
    const earlier = this.#files.get(file.path);
    if (earlier) {
      this.notes.push(
        `${file.path} from ${file.meta.task_key ?? "assembly"} replaced the one from ${
          earlier.meta.task_key ?? "assembly"
        }.`,
      );
      this.#files.delete(file.path);
    }
    this.#files.set(file.path, file);
  }
  list(): DeliverableFile[] {
    const rank = (f: DeliverableFile) =>
      f.path.startsWith("supabase/migrations/")
        ? 0
        : f.path.startsWith("supabase/rollbacks/")
        ? 1
        : f.path.startsWith("supabase/functions/")
        ? 2
        : f.path.startsWith("supabase/tests/")
        ? 3
        : f.path.startsWith("supabase/")
        ? 4
        : f.path.startsWith("docs/")
        ? 5
        : 6;
    return [...this.#files.values()].sort((a, b) =>
      rank(a) - rank(b) || (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)
    );
  }
}

function origin(task: DeliveryTask): Record<string, unknown> {
  return { task_key: task.key, agent: task.agent };
}

function pick(meta: Record<string, unknown>, keys: string[]): Record<string, unknown> {
  return Object.fromEntries(keys.filter((k) => meta[k] !== undefined).map((k) => [k, meta[k]]));
}

function envelopeOf(output: unknown): OutputEnvelope {
  const parsed = OutputEnvelope.safeParse(output);
  return parsed.success ? parsed.data : {};
}

function isSafePath(path: string): boolean {
  return /^[A-Za-z0-9._][A-Za-z0-9._/@+-]*$/.test(path) && !path.split("/").includes("..") &&
    !path.startsWith("deliverable/");
}

function titleOf(path: string): string {
  const base = (path.split("/").at(-1) ?? path).replace(/\.[a-z]+$/i, "").replace(/[-_]+/g, " ");
  return base.charAt(0).toUpperCase() + base.slice(1);
}

function deliveredMigration(
  m: OrderedMigration,
  ordered: { task: DeliveryTask; artifact: DeliveryArtifact }[],
  facts: MigrationFacts,
): DeliveredMigration {
  const documented: DeliveredPolicy[] = ordered
    .filter(({ task, artifact }) =>
      task.id === m.task.id && artifact.kind === "policy" &&
      artifact.meta.migration === m.source.meta.name
    )
    .map(({ artifact }) => policyFromMeta(artifact.meta));
  const names = new Set(documented.map((p) => `${p.table}|${p.name}`));
  const parsed = facts.policies
    .filter((p) => !names.has(`${p.table}|${p.name}`))
    .map((p) => ({ ...p, using: null, with_check: null }));
  return {
    path: m.path,
    version: m.version,
    name: m.name,
    description: m.description,
    task_key: m.task.key,
    agent: m.task.agent,
    source_path: m.source.path,
    rollback_path: m.rollbackPath,
    policies: [...documented, ...parsed],
    indexes: facts.indexes.map((i) => i.name),
  };
}

function policyFromMeta(meta: Record<string, unknown>): DeliveredPolicy {
  const text = (k: string) => (typeof meta[k] === "string" ? meta[k] as string : null);
  return {
    name: text("name") ?? "",
    table: text("table") ?? "",
    command: text("command") ?? "all",
    roles: Array.isArray(meta.roles) ? meta.roles.map(String) : [],
    using: text("using"),
    with_check: text("with_check"),
  };
}

function deliveredIndexes(
  migrations: OrderedMigration[],
  ordered: { task: DeliveryTask; artifact: DeliveryArtifact }[],
  facts: ReadonlyMap<string, MigrationFacts>,
): DeliveredIndex[] {
  const documented = ordered.filter(({ artifact }) => artifact.kind === "index").map((
    { artifact },
  ) => artifact.meta);
  const text = (meta: Record<string, unknown> | undefined, k: string) =>
    meta && typeof meta[k] === "string" ? meta[k] as string : null;
  const measured = indexMeasurements(
    [...new Set(ordered.map(({ task }) => task))].map((t) => t.validation),
  );
  const withMeasurement = (index: DeliveredIndex): DeliveredIndex => {
    const m = measured.get(index.name);
    return m ? { ...index, measured: m } : index;
  };
  const out: DeliveredIndex[] = migrations.flatMap((m) =>
    facts.get(m.path)!.indexes.map((i) => {
      const doc = documented.find((d) => d.name === i.name);
      return {
        name: i.name,
        table: i.table,
        statement: i.statement,
        serves_query: text(doc, "serves_query"),
        expected_plan: text(doc, "expected_plan"),
        migration_path: m.path,
      };
    })
  );
  for (const doc of documented) {
    if (out.some((i) => i.name === doc.name)) continue;
    out.push({
      name: text(doc, "name") ?? "",
      table: text(doc, "table"),
      statement: text(doc, "statement") ?? "",
      serves_query: text(doc, "serves_query"),
      expected_plan: text(doc, "expected_plan"),
      migration_path: null,
    });
  }
  return out.map(withMeasurement);
}

function edgeFunctions(
  ordered: { task: DeliveryTask; artifact: DeliveryArtifact }[],
): DeliveredFunction[] {
  const byName = new Map<string, DeliveredFunction>();
  for (const { task, artifact } of ordered) {
    if (artifact.kind !== "edge_function") continue;
    const m = /^supabase\/functions\/([^/]+)\/(.+)$/.exec(artifact.path);
    if (!m || m[1].startsWith("_")) continue;
    const name = m[1];
    const meta = artifact.meta;
    const fn = byName.get(name) ?? {
      name,
      description: typeof meta.description === "string" ? meta.description : null,
      entrypoint: null,
      files: [],
      verify_jwt: true,
      env_vars: [],
      task_key: task.key,
    };
    if (!fn.files.includes(artifact.path)) fn.files.push(artifact.path);
    if (meta.entrypoint === true || m[2] === "index.ts") fn.entrypoint ??= artifact.path;
    if (typeof meta.verify_jwt === "boolean") fn.verify_jwt = meta.verify_jwt;
    if (Array.isArray(meta.env_vars)) {
      fn.env_vars = [...new Set([...fn.env_vars, ...meta.env_vars.map(String)])];
    }
    byName.set(name, fn);
  }
  return [...byName.values()];
}

function environment(
  tasks: DeliveryTask[],
  outputs: Map<string, OutputEnvelope>,
  functions: DeliveredFunction[],
): DeliveredEnvVar[] {
  const vars = new Map<string, DeliveredEnvVar>();
  const entry = (name: string): DeliveredEnvVar => {
    const existing = vars.get(name);
    if (existing) return existing;
    const provided = SUPABASE_PROVIDED_ENV[name];
    const created: DeliveredEnvVar = {
      name,
      description: provided?.description ?? null,
      secret: provided?.secret ?? /KEY|SECRET|TOKEN|PASSWORD/.test(name),
      provided_by_supabase: provided !== undefined,
      used_by: [],
    };
    vars.set(name, created);
    return created;
  };
  for (const fn of functions) {
    for (const name of fn.env_vars) {
      const v = entry(name);
      if (!v.used_by.includes(fn.name)) v.used_by.push(fn.name);
    }
  }
  for (const task of taskOrder(tasks)) {
    for (const declared of outputs.get(task.id)?.artifacts?.env_vars ?? []) {
      const v = entry(declared.name);
      v.description ??= declared.description ?? null;
      if (declared.secret !== undefined && !v.provided_by_supabase) v.secret = declared.secret;
      if (v.used_by.length === 0 || task.agent === "deployment") {
        const who = task.agent === "deployment" ? "deployment (CI)" : task.agent;
        if (!v.used_by.includes(who) && !functions.some((f) => v.used_by.includes(f.name))) {
          v.used_by.push(who);
        }
      }
    }
  }
  return [...vars.values()].sort((a, b) =>
    Number(a.provided_by_supabase) - Number(b.provided_by_supabase) || (a.name < b.name ? -1 : 1)
  );
}

function setupSteps(
  migrations: OrderedMigration[],
  functions: DeliveredFunction[],
  envVars: DeliveredEnvVar[],
  tests: { pgtap: string[]; functions: string[] },
  tasks: DeliveryTask[],
  outputs: Map<string, OutputEnvelope>,
): SetupStep[] {
  const steps: SetupStep[] = [{
    title: "Link the folder to your Supabase project",
    command: "supabase link --project-ref <project-ref>",
  }];
  if (migrations.length > 0) {
    steps.push({
      title: `Apply the ${migrations.length} migration(s) in order`,
      command: "supabase db push",
    });
  }
  if (tests.pgtap.length > 0) {
    steps.push({
      title: `Run the ${tests.pgtap.length} pgTAP test file(s) on the linked database ` +
        "(each rolls back)",
      command: "supabase test db --linked",
    });
  }
  const secrets = envVars.filter((v) =>
    !v.provided_by_supabase && functions.some((f) => v.used_by.includes(f.name))
  );
  if (secrets.length > 0) {
    steps.push({
      title: "Set the secrets the functions read",
      command: `supabase secrets set ${secrets.map((v) => `${v.name}=<value>`).join(" ")}`,
    });
  }
  for (const fn of functions) {
    steps.push({
      title: `Deploy the ${fn.name} function`,
      command: `supabase functions deploy ${fn.name}${fn.verify_jwt ? "" : " --no-verify-jwt"}`,
    });
  }
  if (tests.functions.length > 0) {
    steps.push({
      title: `Run the ${tests.functions.length} function test file(s) against the project ` +
        "(SUPABASE_URL, SUPABASE_ANON_KEY and two test users' tokens set; see the README's Tests)",
      command: "deno test -A supabase/functions/tests/",
    });
  }
  for (const task of taskOrder(tasks)) {
    for (const step of outputs.get(task.id)?.artifacts?.steps ?? []) {
      const command = /^`([^`]+)`$/.exec(step.trim())?.[1] ??
        (/^(supabase|npx|deno|psql|gh) /.test(step.trim()) ? step.trim() : null);
      steps.push({ title: command ? `${task.key} (${task.agent})` : step, command });
    }
  }
  return steps;
}

function assumptions(request: AssembleRequest, outputs: Map<string, OutputEnvelope>): string[] {
  const understanding = request.run.understanding as { assumptions?: unknown } | null;
  const fromRun = Array.isArray(understanding?.assumptions)
    ? understanding.assumptions.filter((a): a is string => typeof a === "string")
    : [];
  const fromTasks = taskOrder(request.tasks).flatMap((t) =>
    (outputs.get(t.id)?.assumptions ?? []).map((a) => `${a} (${t.key}, ${t.agent})`)
  );
  return [...new Set([...fromRun, ...fromTasks])];
}

function summaryOf(
  request: AssembleRequest,
  outputs: Map<string, OutputEnvelope>,
  counts: Record<string, number>,
): DeliverySummary {
  const understanding = request.run.understanding as { goal?: unknown } | null;
  const goal = typeof understanding?.goal === "string" && understanding.goal.trim() !== ""
    ? understanding.goal.trim()
    : request.run.request.split("\n")[0].trim();
  const title = goal.length > 120 ? `${goal.slice(0, 117)}…` : goal;
  const ordered = taskOrder(request.tasks);
  const agents: DeliverySummary["agents"] = [];
  for (const task of ordered) {
    let group = agents.find((a) => a.agent === task.agent);
    if (!group) agents.push(group = { agent: task.agent, tasks: [] });
    group.tasks.push({
      key: task.key,
      title: task.title,
      summary: outputs.get(task.id)?.summary ?? null,
    });
  }
  const built = [
    [counts.migrations, "migration"],
    [counts.policies, "RLS policy", "RLS policies"],
    [counts.indexes, "index", "indexes"],
    [counts.edge_functions, "edge function"],
    [counts.tests, "pgTAP test file"],
  ].filter(([n]) => (n as number) > 0).map(([n, one, many]) =>
    `${n} ${n === 1 ? one : many ?? `${one}s`}`
  );
  const who = agents.map((a) => `${a.agent} (${a.tasks.map((t) => t.key).join(", ")})`);
  const usage = usageOf(request.run);
  const text = `Delivered ${built.length > 0 ? built.join(", ") : "no schema changes"} in ` +
    `${counts.files} files, from ${ordered.length} task(s) by ${who.join(", ")}.\n\n` +
    `Requested:\n\n${request.run.request.trim().split("\n").map((l) => `> ${l}`).join("\n")}` +
    usageLine(usage);
  return { title, text, request: request.run.request, agents, counts, ...(usage ? { usage } : {}) };
}

/** What the run spent on the model, when its record says (fixtures may leave it out). */
function usageOf(run: DeliveryRun): DeliverySummary["usage"] {
  const { prompt_tokens, completion_tokens, cost_usd } = run;
  if (prompt_tokens === undefined || completion_tokens === undefined) return undefined;
  return { prompt_tokens, completion_tokens, cost_usd: cost_usd ?? null };
}

/** The Summary's line on what the model cost; empty for runs assembled without usage. */
function usageLine(usage: DeliverySummary["usage"]): string {
  if (!usage) return "";
  const tokens = String(usage.prompt_tokens + usage.completion_tokens)
    .replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  const cost = usage.cost_usd === null
    ? "cost unknown (a model without a price answered)"
    : formatUsd(usage.cost_usd);
  return `\n\nModel usage: ${tokens} tokens, ${cost}.`;
}

/** Several tasks' evidence as one: ok when all are, counts summed, findings in order. */
function combinedEvidence(reports: (TaskEvidence | null)[]): TaskEvidence | null {
  const present = reports.filter((r): r is TaskEvidence => r !== null);
  if (present.length === 0) return null;
  return {
    ok: present.every((r) => r.ok),
    errors: present.reduce((n, r) => n + r.errors, 0),
    warnings: present.reduce((n, r) => n + r.warnings, 0),
    findings: [...new Set(present.flatMap((r) => r.findings))],
  };
}

function rollbackLine(report: DeliveryResult["validation"]["integration"]): string | null {
  if (!report?.rollback) return null;
  return `${
    report.rollback.ok ? "rollback verified" : "rollback not verified"
  }: ${report.rollback.detail}`;
}
