import assert from "node:assert/strict";
import { isAppError } from "../errors/mod.ts";
import { loadPrompt } from "../prompts/mod.ts";
import { buildContextPackage, type ContextTask } from "./context.ts";
import type { DependencyOutput } from "./dependency_digest.ts";
import { SAMPLES } from "./testdata/samples.ts";

const FIXTURE = await Deno.readTextFile(new URL("./testdata/forty_tables.sql", import.meta.url));
const FOCUS = ["tasks", "task_comments", "attachments"];
// FK targets of the focus tables, and what those point at in turn (names only may appear).
const NEIGHBOURS = [
  "public.organizations",
  "public.projects",
  "public.milestones",
  "public.sprints",
];
const TWO_HOPS = ["teams"];

const task: ContextTask = {
  id: "T4",
  title: "API for tasks, comments and attachments",
  input:
    "Design the REST contract for listing and editing a project's work items with their discussion and files. Members of the organization only.",
  output: ["API contract", "RPC functions if needed"],
  tables: FOCUS,
  depends_on: ["T1", "T2", "T3"],
};

const dependencies: DependencyOutput[] = [
  { key: "T1", agent: "db-architect", output: SAMPLES["db-architect"] },
  { key: "T2", agent: "query-optimizer", output: SAMPLES["query-optimizer"] },
  { key: "T3", agent: "security", output: SAMPLES.security },
];

async function apiPackage() {
  return await buildContextPackage({
    agent: "api-data",
    prompt: await loadPrompt("backend/api-data"),
    task,
    dependencyOutputs: dependencies,
    runContext: {
      schema_sql: FIXTURE,
      conventions: "Tables are plural; ids are bigint identities.",
    },
    constraints: ["Page size at most 100."],
  });
}

/** `create table public.<name> (...)` → [column, type] pairs, read with a regex, not our parser. */
function fixtureColumns(table: string): [string, string][] {
  const block = new RegExp(`create table public\\.${table} \\(\\n([\\s\\S]*?)\\n\\);`).exec(
    FIXTURE,
  );
  assert.ok(block, table);
  return block[1].split(",\n").map((l) => l.trim()).filter((l) =>
    !/^(unique|check|constraint|primary key)\b/.test(l)
  ).map((l) => {
    const [name, type] = l.split(/\s+/);
    return [name, type.replace(/^public\./, "")];
  });
}

Deno.test("a task touching 3 of 40 tables gets at most 30% of the uncompressed context", async () => {
  const pkg = await apiPackage();
  assert.ok(
    pkg.sizes.uncompressedTokens > 15_000,
    `fixture too small: ${pkg.sizes.uncompressedTokens}`,
  );
  const ratio = pkg.sizes.tokens / pkg.sizes.uncompressedTokens;
  assert.ok(
    ratio <= 0.3,
    `compressed to ${(ratio * 100).toFixed(1)}% (${pkg.sizes.tokens} tokens)`,
  );
});

Deno.test("every column of the task's tables is in the package with its type", async () => {
  const user = (await apiPackage()).messages[1].content;
  for (const table of FOCUS) {
    const columns = fixtureColumns(table);
    assert.ok(columns.length >= 7, table);
    for (const [name, type] of columns) {
      assert.ok(user.includes(`\n  ${name} ${type}`), `${table}.${name} ${type} missing`);
    }
  }
});

Deno.test("the tables the task's tables reference are included, one line each", async () => {
  const pkg = await apiPackage();
  assert.deepEqual(pkg.included.fkNeighbours, NEIGHBOURS);
  assert.deepEqual(pkg.included.externalTables, ["auth.users"]);
  const user = pkg.messages[1].content;
  for (const key of NEIGHBOURS) assert.match(user, new RegExp(`^table ${key}: id bigint pk`, "m"));
  assert.equal(
    pkg.included.omittedTables,
    41 - 3 - NEIGHBOURS.length,
    "40 + task_watchers from T1",
  );
});

Deno.test("nothing about unrelated tables leaks into the package", async () => {
  const pkg = await apiPackage();
  const user = pkg.messages[1].content;
  const shown = new Set([
    ...FOCUS,
    ...NEIGHBOURS.map((k) => k.slice("public.".length)),
    ...TWO_HOPS,
  ]);
  const all = [...FIXTURE.matchAll(/^create table public\.(\w+)/gm)].map((m) => m[1]);
  const unrelated = [...all, "task_watchers"].filter((t) => !shown.has(t));
  assert.equal(unrelated.length, 41 - shown.size);
  const names = (text: string, tables: readonly string[]) =>
    tables.filter((t) => new RegExp(`\\b${t}\\b`, "i").test(text));
  // The schema part names no unrelated table at all.
  const schema = user.slice(user.indexOf("## Schema"), user.indexOf("## Outputs of earlier tasks"));
  assert.deepEqual(names(schema, unrelated), []);
  // Two hops away: the name may appear as a foreign key target, its definition may not.
  assert.ok(!/^table public\.teams/m.test(schema));
  // Earlier outputs: an unrelated table is named only in a sentence that is about a focus table.
  for (const line of user.split("\n")) {
    const leaked = names(line, unrelated);
    if (leaked.length > 0) {
      assert.ok(names(line, FOCUS).length > 0, `${leaked.join(", ")} leaked in: ${line}`);
    }
  }
  assert.ok(!user.includes("Invoices now carry a reminder date"), "unrelated summary sentence");
  assert.ok(!user.includes("Webhook secrets"), "unrelated finding");
  assert.ok(!user.includes("invoices_overdue_idx"), "unrelated index");
  assert.ok(!user.includes("remind_on"), "unrelated migration");
});

Deno.test("dependency migrations are applied before summarising, replacing what they change", async () => {
  const user = (await apiPackage()).messages[1].content;
  assert.match(user, /policy "task_comments: author update" for update to authenticated/);
  assert.ok(!user.includes('"task_comments: members update"'), "dropped by T3");
  assert.match(
    user,
    /index tasks_sprint_status_idx btree \(sprint_id, status\) include \(title, priority\)/,
  );
  assert.match(user, /- migration `restrict_comment_edits` \(already in the schema above\)/);
  assert.match(user, /index `tasks_sprint_status_idx` on public\.tasks serves: select id, title/);
  assert.match(user, /\[high\] Any member could edit anyone's comment/);
});

Deno.test("dependency summaries and notes keep what concerns the task", async () => {
  const pkg = await apiPackage();
  const user = pkg.messages[1].content;
  assert.match(user, /### T1 \(db-architect\)\nAdded task watchers so users can follow tasks\./);
  assert.match(user, /### T2 \(query-optimizer\)/);
  const t1 = pkg.included.dependencies.find((d) => d.key === "T1")!;
  assert.equal(t1.artifactsIncluded, 0);
  assert.equal(t1.artifactsOmitted, 2, "both migrations concern other tables");
  const t2 = pkg.included.dependencies.find((d) => d.key === "T2")!;
  assert.deepEqual([t2.artifactsIncluded, t2.artifactsOmitted], [3, 1]);
});

Deno.test("the package is a system prompt plus one user message ending with the output format", async () => {
  const pkg = await apiPackage();
  assert.deepEqual(pkg.messages.map((m) => m.role), ["system", "user"]);
  assert.equal(pkg.schemaName, "ApiDataOutput");
  assert.match(pkg.messages[0].content, /^You are the API designer/);
  assert.match(pkg.messages[0].content, /## Project conventions\nTables are plural/);
  assert.ok(!pkg.messages[0].content.includes("## Retry"));
  const user = pkg.messages[1].content;
  assert.match(user, /^# Task T4: API for tasks, comments and attachments/);
  assert.match(user, /## Constraints\n- Page size at most 100\./);
  assert.match(user, /`ApiDataOutput` schema/);
  assert.equal(pkg.included.retry, false);
  assert.match(pkg.included.promptVersion, /^backend\/api-data@[0-9a-f]{12}$/);
});

Deno.test("a retry carries the validation findings and the fix asked for", async () => {
  const pkg = await buildContextPackage({
    agent: "security",
    prompt: await loadPrompt("backend/security"),
    task: { ...task, title: "Harden comments", depends_on: [] },
    dependencyOutputs: [],
    runContext: { schema_sql: FIXTURE },
    constraints: [],
    retry: {
      findings: "isolation: user B updated a comment of user A (statement 2, line 4)",
      fix: "restrict update to the author",
    },
  });
  const user = pkg.messages[1].content;
  assert.match(
    user,
    /## Retry\n[\s\S]*user B updated a comment of user A[\s\S]*restrict update to the author/,
  );
  assert.ok(!user.includes("{{"));
  assert.equal(pkg.included.retry, true);
});

Deno.test("a task with no tables and no prior schema still sees the functions it deploys", async () => {
  const pkg = await buildContextPackage({
    agent: "deployment",
    prompt: await loadPrompt("backend/deployment"),
    task: {
      id: "T2",
      title: "Deploy",
      input: "CI for the functions.",
      output: ["workflow"],
      tables: [],
      depends_on: ["T1"],
    },
    dependencyOutputs: [{ key: "T1", agent: "edge-functions", output: SAMPLES["edge-functions"] }],
    runContext: {},
    constraints: [],
  });
  const user = pkg.messages[1].content;
  assert.match(user, /No prior schema/);
  assert.match(user, /`supabase\/functions\/export-tasks\/index\.ts` \(verify_jwt: true\)/);
  assert.match(user, /Deno\.serve/);
});

Deno.test("long artifacts are shown as a pattern of the lines that concern the task", async () => {
  const pkg = await buildContextPackage({
    agent: "api-data",
    prompt: await loadPrompt("backend/api-data"),
    task: { ...task, depends_on: ["T1"] },
    dependencyOutputs: [{ key: "T1", agent: "edge-functions", output: SAMPLES["edge-functions"] }],
    runContext: { schema_sql: FIXTURE },
    constraints: [],
    limits: { maxArtifactChars: 400 },
  });
  const user = pkg.messages[1].content;
  assert.match(user, /characters in full; showing the lines that concern this task/);
  assert.match(user, /supabase\.from\("tasks"\)/);
  assert.ok(!user.includes("JSON.stringify(t.title)"), "lines about nothing relevant are cut");
});

Deno.test("an output that does not match its agent's schema is reduced to its summary", async () => {
  const pkg = await buildContextPackage({
    agent: "api-data",
    prompt: await loadPrompt("backend/api-data"),
    task,
    dependencyOutputs: [{ key: "T1", agent: "db-architect", output: { summary: "Made tasks." } }],
    runContext: { schema_sql: FIXTURE },
    constraints: [],
  });
  assert.match(
    pkg.messages[1].content,
    /Made tasks\.\n\(its stored output did not match its schema/,
  );
  assert.equal(pkg.included.dependencies[0].valid, false);
});

Deno.test("a prompt for another agent is refused", async () => {
  await assert.rejects(
    buildContextPackage({
      agent: "security",
      prompt: await loadPrompt("backend/api-data"),
      task,
      dependencyOutputs: [],
      runContext: {},
      constraints: [],
    }),
    (e) => isAppError(e, "internal"),
  );
});

Deno.test("a consuming task is shown the contracts it must honour; a producer what it provides", async () => {
  const contract = {
    name: "tasks_api",
    producer: "T1",
    producerAgent: "db-architect",
    consumers: ["T4"],
    description: "public.tasks(id, title, status)\nand public.task_comments(body)",
  };
  const pkg = await buildContextPackage({
    agent: "api-data",
    prompt: await loadPrompt("backend/api-data"),
    task,
    dependencyOutputs: [],
    runContext: {},
    constraints: [],
    contracts: { consumes: [contract], produces: [] },
  });
  const user = pkg.messages[1].content;
  assert.match(user, /## Contracts\n\nYou must honour these contracts\./);
  assert.match(
    user,
    /- `tasks_api`, provided by T1 \(db-architect\): public\.tasks\(id, title, status\) and public\.task_comments\(body\)/,
  );
  assert.match(user, /`contract_violation`/);
  assert.ok(user.indexOf("## Contracts") < user.indexOf("## Schema this task touches"));
  assert.deepEqual(pkg.included.contracts, { consumes: ["tasks_api"], produces: [] });

  const producer = await buildContextPackage({
    agent: "db-architect",
    prompt: await loadPrompt("backend/db-architect"),
    task: { ...task, id: "T1", depends_on: [] },
    dependencyOutputs: [],
    runContext: {},
    constraints: [],
    contracts: { consumes: [], produces: [contract] },
  });
  assert.match(producer.messages[1].content, /Later tasks rely on these contracts you provide/);
  assert.match(producer.messages[1].content, /- `tasks_api`, used by T4:/);

  const none = await buildContextPackage({
    agent: "api-data",
    prompt: await loadPrompt("backend/api-data"),
    task,
    dependencyOutputs: [],
    runContext: {},
    constraints: [],
  });
  assert.doesNotMatch(none.messages[1].content, /## Contracts/);
  assert.deepEqual(none.included.contracts, { consumes: [], produces: [] });
});
