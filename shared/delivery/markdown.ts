/**
 * The deliverable as one Markdown document — the README of the delivered project and the API's
 * `text/markdown` answer — in the orchestrator's output format: Summary, Migrations (each with its
 * row level security), Indexes, Edge Functions, API Documentation, Deployment Configuration, Setup,
 * Notes, Tests, Other Files and Validation, each a `##` heading. A run completed without an
 * assembled result (older runs) gets a plain listing of its artifacts instead.
 *
 * @example
 * ```ts
 * const markdown = renderDeliverableMarkdown({ result, files });
 * ```
 */
import {
  type Deliverable,
  type DeliverableFile,
  DeliveryResult,
  type IndexMeasurement,
  type IntegrationReport,
  type RecoveryNote,
} from "../runs/mod.ts";

/** The document for an assembled deliverable. */
export function renderDeliverableMarkdown(
  deliverable: { result: DeliveryResult; files: DeliverableFile[] },
): string {
  const { result, files } = deliverable;
  const s = result.sections;
  const file = (path: string) => files.find((f) => f.path === path);
  const out: string[] = [`# ${result.summary.title}`, ""];

  out.push("## Summary", "", result.summary.text, "");
  out.push("| Agent | Task | What it delivered |", "| --- | --- | --- |");
  for (const a of result.summary.agents) {
    for (const t of a.tasks) {
      out.push(`| ${cell(a.agent)} | ${cell(`${t.key}: ${t.title}`)} | ${cell(t.summary ?? "")} |`);
    }
  }
  out.push("");

  out.push("## Migrations", "");
  if (s.migrations.length === 0) out.push("No migrations.", "");
  else {
    out.push("Apply in this order (`supabase db push` does):", "");
    s.migrations.forEach((m, i) => out.push(`${i + 1}. \`${m.path}\``));
    out.push("");
  }
  for (const m of s.migrations) {
    out.push(`### \`${m.path}\``, "");
    if (m.description) out.push(m.description, "");
    out.push(`From ${m.task_key} (${m.agent}).`, "");
    out.push(fenced("sql", file(m.path)?.content ?? ""), "");
    out.push("#### Row level security", "");
    if (m.policies.length === 0) out.push("This migration creates no policies.", "");
    else {
      out.push("| Policy | Table | Command | Roles | Using | With check |");
      out.push("| --- | --- | --- | --- | --- | --- |");
      for (const p of m.policies) {
        out.push(
          `| ${cell(p.name)} | ${cell(p.table)} | ${p.command} | ${cell(p.roles.join(", "))} | ${
            code(p.using)
          } | ${code(p.with_check)} |`,
        );
      }
      out.push("");
    }
    if (m.indexes.length > 0) {
      out.push(`Indexes it creates: ${m.indexes.map((n) => `\`${n}\``).join(", ")}.`, "");
    }
  }

  out.push("## Indexes", "");
  if (s.indexes.length === 0) out.push("No indexes.", "");
  for (const i of s.indexes) {
    out.push(`### \`${i.name}\`${i.table ? ` on \`${i.table}\`` : ""}`, "");
    out.push(fenced("sql", i.statement), "");
    if (i.serves_query) out.push("Serves:", "", fenced("sql", i.serves_query), "");
    else out.push("Serves: no query was recorded (typically a foreign key lookup).", "");
    if (i.expected_plan) out.push(`Expected plan: ${i.expected_plan}`, "");
    if (i.migration_path) out.push(`Created in \`${i.migration_path}\`.`, "");
    if (i.measured) out.push(...measurementLines(i.name, i.measured));
  }

  out.push("## Edge Functions", "");
  if (s.edge_functions.length === 0) out.push("No edge functions.", "");
  for (const fn of s.edge_functions) {
    for (const path of fn.files) {
      out.push(`### \`${path}\``, "");
      if (path === fn.entrypoint || fn.files[0] === path) {
        if (fn.description) out.push(fn.description, "");
        out.push(
          `- verify_jwt: ${fn.verify_jwt}`,
          `- environment: ${
            fn.env_vars.length > 0 ? fn.env_vars.map((v) => `\`${v}\``).join(", ") : "none"
          }`,
          "",
        );
      }
      out.push(fenced(languageOf(path), file(path)?.content ?? ""), "");
    }
  }

  out.push("## API Documentation", "");
  if (s.api_docs.length === 0) out.push("No API documentation.", "");
  for (const path of s.api_docs) out.push(...embedded(path, file(path)));

  out.push("## Deployment Configuration", "");
  if (s.deployment.length === 0) out.push("No deployment files.", "");
  for (const path of s.deployment) {
    out.push(`### \`${path}\``, "", fenced(languageOf(path), file(path)?.content ?? ""), "");
  }

  out.push("## Setup", "", "### Environment variables", "");
  if (s.setup.env_vars.length === 0) out.push("None.", "");
  else {
    out.push(
      "| Variable | Secret | Set by | Used by | Description |",
      "| --- | --- | --- | --- | --- |",
    );
    for (const v of s.setup.env_vars) {
      out.push(
        `| \`${v.name}\` | ${v.secret ? "yes" : "no"} | ${
          v.provided_by_supabase ? "Supabase (automatic)" : "you"
        } | ${cell(v.used_by.join(", "))} | ${cell(v.description ?? "")} |`,
      );
    }
    out.push("");
  }
  out.push("### Steps", "");
  s.setup.steps.forEach((step, i) =>
    out.push(`${i + 1}. ${step.title}${step.command ? `: \`${step.command}\`` : ""}`)
  );
  out.push("");

  out.push("## Notes", "", "### Assumptions", "");
  out.push(...list(s.notes.assumptions, "None recorded."), "");
  out.push("### Rollback", "");
  if (s.notes.rollback.length === 0) out.push("Nothing to roll back.", "");
  else {
    out.push("Undo the migrations newest first:", "");
    s.notes.rollback.forEach((r, i) =>
      out.push(
        `${i + 1}. ${
          r.rollback_path
            ? `\`psql "$DATABASE_URL" -f ${r.rollback_path}\` (undoes \`${r.migration_path}\`)`
            : `\`${r.migration_path}\` has no down migration: write one by hand`
        }`,
      )
    );
    out.push(
      "",
      "Then delete the undone versions from `supabase_migrations.schema_migrations` " +
        "(or run `supabase migration repair --status reverted <version>`).",
      "",
    );
  }
  out.push(
    "### Future improvements",
    "",
    ...list(s.notes.future_improvements, "None recorded."),
    "",
  );
  out.push(...recoveryLines(s.notes.recovery ?? []));

  out.push("## Tests", "");
  const functionTests = s.tests.filter((p) => p.startsWith("supabase/functions/tests/"));
  const pgtap = s.tests.filter((p) => !functionTests.includes(p));
  if (s.tests.length === 0) out.push("No tests were delivered.", "");
  if (pgtap.length > 0) {
    out.push(
      "Database tests (pgTAP): run them with `supabase test db` locally, or " +
        "`supabase test db --linked` on the linked project (each file rolls back what it does):",
      "",
    );
    for (const path of pgtap) {
      const f = file(path);
      const planned = typeof f?.meta.planned === "number" ? ` — ${f.meta.planned} tests` : "";
      out.push(`- \`${path}\`${planned}`);
    }
    out.push("");
  }
  if (functionTests.length > 0) {
    out.push(
      "Function tests (Deno): with the functions served (`supabase start` and " +
        "`supabase functions serve`, or deployed to the linked project), set `SUPABASE_URL`, " +
        "`SUPABASE_ANON_KEY` and two test users — `TEST_USER_TOKEN` and `TEST_OTHER_USER_TOKEN`, " +
        "or `TEST_USER_EMAIL`/`TEST_USER_PASSWORD` and " +
        "`TEST_OTHER_USER_EMAIL`/`TEST_OTHER_USER_PASSWORD` — then run " +
        "`deno test -A supabase/functions/tests/`. They check that each function boots and " +
        "answers a CORS preflight, refuses a call without a token (401), answers the owner with " +
        "JSON and another user without the owner's rows, and answers a body that is not JSON " +
        "with a 4xx JSON error:",
      "",
    );
    for (const path of functionTests) out.push(`- \`${path}\``);
    out.push("");
  }
  if (s.tests.length > 0) {
    for (const path of s.tests) {
      out.push(
        "<details>",
        `<summary>${path}</summary>`,
        "",
        fenced(path.endsWith(".ts") ? "ts" : "sql", file(path)?.content ?? ""),
        "",
        "</details>",
        "",
      );
    }
  }

  out.push("## Other Files", "");
  if (s.other_files.length === 0) out.push("None.", "");
  // Policy, index and setup documents restate sections above: listed, not repeated.
  const restated = (f: DeliverableFile | undefined) =>
    f?.kind === "policy" || f?.kind === "index" || f?.path === "docs/setup.md";
  const listedOnly = s.other_files.filter((p) => restated(file(p)));
  if (listedOnly.length > 0) {
    out.push(...listedOnly.map((p) => `- \`${p}\` (restates the sections above)`), "");
  }
  for (const path of s.other_files.filter((p) => !restated(file(p)))) {
    const f = file(path);
    if (path.endsWith(".md")) out.push(...embedded(path, f));
    else out.push(`### \`${path}\``, "", fenced(languageOf(path), f?.content ?? ""), "");
  }

  out.push("## Validation", "", "### Integration", "");
  out.push(...integrationLines(result.validation.integration), "");
  out.push("### Evidence per file", "");
  out.push("| File | Task | Task validation | Integration |", "| --- | --- | --- | --- |");
  for (const e of result.validation.evidence) {
    const task = e.task
      ? `${e.task.ok ? "passed" : "failed"} (${e.task.errors} errors, ${e.task.warnings} warnings)`
      : "—";
    out.push(
      `| \`${e.path}\` | ${e.task_key ? `${e.task_key} (${e.agent})` : "assembly"} | ${task} | ${
        cell(e.integration ?? "—")
      } |`,
    );
  }
  // Findings belong to tasks, so each is listed once under the task(s) that produced it.
  const findings = new Map<string, Set<string>>();
  for (const e of result.validation.evidence) {
    if (!e.task || e.task.findings.length === 0) continue;
    const who = `${e.task_key} (${e.agent})`;
    findings.set(who, new Set([...(findings.get(who) ?? []), ...e.task.findings]));
  }
  if (findings.size > 0) {
    out.push("", "#### Findings", "");
    for (const [who, lines] of findings) for (const f of lines) out.push(`- ${who}: ${f}`);
  }
  out.push("");
  return out.join("\n");
}

/**
 * The document for whatever `GET /runs/{id}/deliverable` holds: the full one when the result is
 * an assembled {@link DeliveryResult}, else a listing of the artifacts.
 */
export function renderStoredDeliverable(deliverable: Deliverable): string {
  const readme = deliverable.files.find((f) => f.path === "README.md");
  if (readme) return readme.content;
  const parsed = DeliveryResult.safeParse(deliverable.result);
  if (parsed.success) {
    return renderDeliverableMarkdown({ result: parsed.data, files: deliverable.files });
  }
  const out = [`# Deliverable of run ${deliverable.run_id}`, "", "## Summary", ""];
  const result = deliverable.result as { summary?: unknown } | null;
  out.push(
    typeof result?.summary === "string"
      ? result.summary
      : fenced("json", JSON.stringify(result, null, 2)),
    "",
    "## Artifacts",
    "",
  );
  for (const a of deliverable.artifacts) {
    out.push(`### \`${a.path}\` (${a.kind})`, "", fenced(languageOf(a.path), a.content), "");
  }
  return out.join("\n");
}

/**
 * Notes › "What failed and what recovered it": one item per recovery decision, in order (nothing
 * when nothing failed). The reason is the run's own text, kept to one line so it cannot open a
 * heading or a block of its own.
 */
export function recoveryLines(decisions: readonly RecoveryNote[]): string[] {
  if (decisions.length === 0) return [];
  const who = (key: string | null, agent: string | null) =>
    key === null ? "the run" : `${key}${agent ? ` (${agent})` : ""}`;
  const lines = ["### What failed and what recovered it", ""];
  decisions.forEach((d, i) => {
    const reason = d.reason.replace(/\s+/g, " ").trim();
    lines.push(
      `${i + 1}. **${who(d.from_task, d.from_agent)}**, ${d.class.replaceAll("_", "/")} ` +
        `failure: ${inline(reason)} — ${recoveredBy(d)}.`,
    );
  });
  lines.push("");
  return lines;
}

function recoveredBy(d: RecoveryNote): string {
  const agent = d.to_agent ?? d.from_agent ?? "its agent";
  switch (d.strategy) {
    case "retry":
      return `redone by ${agent} as ${d.to_task ?? d.from_task} with the failure as context`;
    case "reroute":
      return `rerouted to ${agent} as ${d.to_task}`;
    case "decompose":
      return `split into smaller tasks, starting with ${d.to_task}`;
    case "rollback":
      return `its migrations rolled back and redone as ${d.to_task}`;
    case "escalate":
      return "you were asked, and your answer resumed the run";
    default:
      return `${d.strategy}${d.to_task ? ` (${d.to_task})` : ""}`;
  }
}

/** Text that stays text inside a list item: no HTML, no line breaks. */
function inline(text: string): string {
  return text.replaceAll("<", "&lt;").replaceAll(">", "&gt;");
}

function integrationLines(report: IntegrationReport | null): string[] {
  if (!report) return ["Not run: no shadow database was available at delivery."];
  const applied = report.migrations.filter((m) => m.ok).length;
  const planned = report.tests.reduce((n, t) => n + t.planned, 0);
  const passed = report.tests.reduce((n, t) => n + t.passed, 0);
  const lines = [
    `**${
      report.ok ? "Passed" : "Failed"
    }** on a fresh ${report.backend} shadow database in ${report.duration_ms} ms:`,
    "",
    `- migrations applied from scratch, in order: ${applied}/${report.migrations.length}`,
    `- pgTAP: ${passed}/${planned} tests passed in ${report.tests.length} file(s)`,
    `- rollback: ${
      report.rollback
        ? `${report.rollback.ok ? "verified" : "not verified"} — ${report.rollback.detail}`
        : "not checked"
    }`,
  ];
  for (const m of report.migrations.filter((m) => !m.ok)) lines.push(`- \`${m.path}\`: ${m.error}`);
  for (const t of report.tests.filter((t) => !t.ok)) {
    if (t.error) lines.push(`- \`${t.path}\` stopped: ${t.error}`);
    for (const f of t.failures) lines.push(`- \`${t.path}\`: ${f.split("\n")[0]}`);
  }
  const missing = report.fixtures.filter((f) => !f.ok);
  for (const f of missing) lines.push(`- no fixture row for ${f.table}: ${f.detail}`);
  return lines;
}

/** A Markdown file shown under its path, its own title dropped and its headings one level down. */
function embedded(path: string, file: DeliverableFile | undefined): string[] {
  const body = (file?.content ?? "").replace(/^# .*\n+/, "").replace(/^(#{1,5}) /gm, "#$1 ");
  return [`### \`${path}\``, "", body.trim(), ""];
}

function fenced(language: string, text: string): string {
  const longest = Math.max(2, ...[...text.matchAll(/`+/g)].map((m) => m[0].length));
  const fence = "`".repeat(longest + 1);
  return `${fence}${language}\n${text.replace(/\n+$/, "")}\n${fence}`;
}

function languageOf(path: string): string {
  const ext = path.split(".").at(-1) ?? "";
  return ({
    sql: "sql",
    ts: "ts",
    tsx: "tsx",
    js: "js",
    json: "json",
    yml: "yaml",
    yaml: "yaml",
    toml: "toml",
    md: "md",
    sh: "sh",
  } as Record<string, string>)[ext] ?? "";
}

function cell(text: string): string {
  return text.replaceAll("|", "\\|").replaceAll("\n", " ");
}

function code(text: string | null): string {
  return text === null ? "—" : `\`${cell(text)}\``;
}

function list(items: string[], empty: string): string[] {
  return items.length === 0 ? [empty] : items.map((i) => `- ${i}`);
}

/** The before/after evidence of an index: timings, buffers and both plans. */
function measurementLines(name: string, m: IndexMeasurement): string[] {
  const rows = Object.entries(m.rows).map(([t, n]) => `${n.toLocaleString("en-US")} in \`${t}\``)
    .join(", ");
  const ratio = m.after.execution_ms > 0
    ? ` (${(m.before.execution_ms / m.after.execution_ms).toFixed(1)}× faster)`
    : "";
  return [
    `Measured with \`EXPLAIN (ANALYZE, BUFFERS)\` on synthetic rows (${rows || "none"}):`,
    "",
    "| | Execution time | Buffers | Uses the index |",
    "| --- | --- | --- | --- |",
    `| Before (without \`${name}\`) | ${m.before.execution_ms} ms | ${m.before.buffers} | ${
      m.before.uses_index ? "yes" : "no"
    } |`,
    `| After (with \`${name}\`) | ${m.after.execution_ms} ms | ${m.after.buffers} | ${
      m.after.uses_index ? "yes" : "no"
    } |`,
    "",
    m.improved
      ? `The index pays off${m.before.execution_ms > m.after.execution_ms ? ratio : ""}.`
      : "**`index_no_improvement`**: at this scale the index does not make its query cheaper " +
        "(neither a fifth less time nor half the buffers); it still costs every write — " +
        "reconsider it.",
    "",
    "Plan before:",
    "",
    fenced("text", m.before.plan),
    "",
    "Plan after:",
    "",
    fenced("text", m.after.plan),
    "",
  ];
}
