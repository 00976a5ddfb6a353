/**
 * An integration failure at delivery, attributed and recovered without failing the run, end to end
 * through the real worker functions, the shadow proving ground and the scripted LLM. Two
 * independent db-architect tasks each pass their own validation (neither sees the other's
 * migrations), but merged, T2's migration creates a `tags` table T1 already created: the merged
 * result does not apply at delivery. The failure is attributed to T2 (the task whose file does not
 * apply), T2 alone is sent back with the failure in its prompt, T1 is not redone, and the run is
 * delivered; the decision is in `GET /runs/:id`, on the run's channel, in the CLI's progress view
 * and in the deliverable's Notes.
 */
import assert from "node:assert/strict";
import { applyEvent, emptyProgress } from "../../shared/cli/progress.ts";
import { describeEvent, renderFrame } from "../../shared/cli/progress_render.ts";
import { RunEventPayload } from "../../shared/events/mod.ts";
import { DeliveryResult } from "../../shared/runs/mod.ts";
import type { ScenarioInput } from "../_support/scripted_llm/mod.ts";
import { startProduct } from "../_support/stack.ts";
import { dbArchitectAnswer } from "../fixtures/trade_journal/scenario.ts";
import { eventsOf } from "./_execution_support.ts";

const usage = { prompt_tokens: 100, completion_tokens: 100 };
const JOURNAL = "Create the trade journal tables";
const WATCHLIST = "Create the watchlist of symbols";

function orchestrator(): ScenarioInput {
  const task = (id: string, title: string, tables: string[]) => ({
    id,
    agent: "db-architect",
    title,
    input: `${title}, owner-only.`,
    depends_on: [],
    output: ["migration"],
    tables,
  });
  return {
    rules: [{
      name: "understand",
      match: { agent: "orchestrator", phase: "understand" },
      answers: [{
        kind: "json",
        usage,
        value: {
          goal: "A trade journal with a watchlist",
          requirements: ["journal tables", "a watchlist"],
          assumptions: ["owner-only access"],
          ambiguities: [],
          complexity: "moderate",
          scope: ["schema"],
          questions: [],
        },
      }],
    }, {
      name: "plan",
      match: { agent: "orchestrator", phase: "plan" },
      answers: [{
        kind: "json",
        usage,
        value: {
          goal: "A trade journal with a watchlist",
          strategy: "parallel",
          tasks: [
            task("T1", JOURNAL, ["positions", "trades", "tags", "trade_tags"]),
            task("T2", WATCHLIST, ["watchlist"]),
          ],
          checkpoints: [],
          contracts: [],
          integration: [],
        },
      }],
    }],
  };
}

function ownerPolicies(table: string) {
  return (["select", "insert", "update", "delete"] as const).map((command) => ({
    name: `${table}: owners ${command}`,
    table: `public.${table}`,
    command,
    roles: ["authenticated"],
    using: command === "insert" ? null : "(select auth.uid()) = user_id",
    with_check: command === "select" || command === "delete"
      ? null
      : "(select auth.uid()) = user_id",
  }));
}

function ownerPolicySql(table: string): string {
  return `alter table public.${table} enable row level security;
create policy "${table}: owners select" on public.${table}
  for select to authenticated using ((select auth.uid()) = user_id);
create policy "${table}: owners insert" on public.${table}
  for insert to authenticated with check ((select auth.uid()) = user_id);
create policy "${table}: owners update" on public.${table}
  for update to authenticated using ((select auth.uid()) = user_id)
  with check ((select auth.uid()) = user_id);
create policy "${table}: owners delete" on public.${table}
  for delete to authenticated using ((select auth.uid()) = user_id);
`;
}

/**
 * T2's first answer: a watchlist that tags its symbols with its own `tags` table. Valid alone; after
 * T1's migration, `create table public.tags` fails.
 */
function watchlistWithOwnTags() {
  return {
    summary: "A watchlist of symbols, each with an optional tag from the user's tags.",
    artifacts: {
      migrations: [{
        name: "create_watchlist",
        description: "Creates tags and watchlist with owner-only RLS.",
        up_sql: `create table public.tags (
  id bigint generated always as identity primary key,
  user_id uuid not null default auth.uid() references auth.users (id) on delete cascade,
  name text not null check (char_length(name) between 1 and 50),
  unique (user_id, name)
);
comment on table public.tags is 'A label for watched symbols.';
${ownerPolicySql("tags")}
create table public.watchlist (
  id bigint generated always as identity primary key,
  user_id uuid not null default auth.uid() references auth.users (id) on delete cascade,
  symbol text not null check (char_length(symbol) between 1 and 20),
  tag_id bigint references public.tags (id) on delete set null,
  created_at timestamptz not null default now(),
  unique (user_id, symbol)
);
comment on table public.watchlist is 'Symbols a user watches.';
create index watchlist_tag_id_idx on public.watchlist (tag_id);
${ownerPolicySql("watchlist")}`,
        down_sql: "drop table if exists public.watchlist;\ndrop table if exists public.tags;\n",
        policies: [...ownerPolicies("tags"), ...ownerPolicies("watchlist")],
      }],
    },
    notes: [],
    assumptions: ["Tags of the watchlist are the user's own."],
  };
}

/** T2's answer after the integration failure: the watchlist without a second tags table. */
function watchlistAlone() {
  return {
    summary: "A watchlist of symbols; the tags table belongs to the trade journal (T1).",
    artifacts: {
      migrations: [{
        name: "create_watchlist",
        description: "Creates watchlist with owner-only RLS.",
        up_sql: `create table public.watchlist (
  id bigint generated always as identity primary key,
  user_id uuid not null default auth.uid() references auth.users (id) on delete cascade,
  symbol text not null check (char_length(symbol) between 1 and 20),
  note text check (char_length(note) <= 200),
  created_at timestamptz not null default now(),
  unique (user_id, symbol)
);
comment on table public.watchlist is 'Symbols a user watches.';
${ownerPolicySql("watchlist")}`,
        down_sql: "drop table if exists public.watchlist;\n",
        policies: ownerPolicies("watchlist"),
      }],
    },
    notes: [],
    assumptions: [],
  };
}

interface Decision {
  class: string;
  strategy: string;
  from_task: string | null;
  to_task: string | null;
  to_agent: string | null;
  reason: string;
}

const settled = (s: string) =>
  ["completed", "failed", "cancelled", "awaiting_clarification"].includes(s);

Deno.test("a merged result that fails at delivery is attributed to its task, which is redone, and the run is delivered", async () => {
  await using app = await startProduct({
    scenarios: [
      orchestrator(),
      {
        rules: [{
          name: "T2 watchlist",
          match: { agent: "db-architect", contains: WATCHLIST },
          answers: [
            { kind: "json", value: watchlistWithOwnTags() },
            { kind: "json", value: watchlistAlone() },
          ],
        }, {
          name: "T1 journal",
          match: { agent: "db-architect", contains: JOURNAL },
          answers: [{ kind: "json", value: structuredClone(await dbArchitectAnswer()) as never }],
        }],
      },
    ],
  });
  const alice = await app.newUser();
  const run = await app.submit(alice.token, "A trade journal with a watchlist");
  const done = await app.waitForRun(alice.token, run.id, (d) => settled(d.run.status), 120_000);
  assert.equal(
    done.run.status,
    "completed",
    JSON.stringify([done.run.error, done.run.clarification]),
  );

  // Attributed to T2, redone by T2 alone; T1 is not redone.
  const detail = await app.getRun(alice.token, run.id) as unknown as {
    tasks: { key: string; agent: string; status: string }[];
    recovery: Decision[];
  };
  assert.deepEqual(detail.tasks.map((t) => [t.key, t.agent, t.status]), [
    ["T1", "db-architect", "succeeded"],
    ["T2", "db-architect", "succeeded"],
  ]);
  assert.equal(detail.recovery.length, 1, JSON.stringify(detail.recovery));
  const [decision] = detail.recovery;
  assert.deepEqual(
    [decision.class, decision.strategy, decision.from_task, decision.to_task],
    ["integration", "retry", "T2", "T2"],
  );
  assert.match(decision.reason, /task T2 \(db-architect/);
  assert.match(decision.reason, /relation "tags" already exists/);

  const asked = app.llm.requests.filter((r) => r.agent === "db-architect");
  const text = (r: (typeof asked)[number]) => r.messages.map((m) => m.content).join("\n");
  assert.equal(asked.filter((r) => text(r).includes(JOURNAL)).length, 1, "T1 is not redone");
  const t2 = asked.filter((r) => text(r).includes(WATCHLIST));
  assert.equal(t2.length, 2, "T2 is redone once");
  assert.doesNotMatch(text(t2[0]), /already exists/);
  assert.match(text(t2[1]), /relation "tags" already exists/, "the retry carries the failure");

  const attempts = await app.db.sql<{ key: string; status: string }[]>`
    select t.key, a.status from backend_team.task_attempts a
      join backend_team.tasks t on t.id = a.task_id
     where a.run_id = ${run.id} order by t.key, a.attempt`;
  assert.deepEqual(attempts.map((a) => `${a.key} ${a.status}`), [
    "T1 succeeded",
    "T2 invalid",
    "T2 succeeded",
  ]);

  // On the run's channel, in order: delivery failed, T2 went back to work, the run was delivered.
  const events = await eventsOf(app, alice.token, run.id);
  const decisions = events.filter((e) => e.type === "recovery.decision");
  assert.equal(decisions.length, 1);
  const statuses = events.filter((e) => e.type === "run.status")
    .map((e) => (e.payload as { status: string }).status);
  assert.deepEqual(statuses.slice(-4), ["delivering", "executing", "delivering", "completed"]);

  // The CLI's progress view shows the decision (folded from the same log a follower reads).
  let progress = emptyProgress(run.id);
  const lines: string[] = [];
  for (const row of events) {
    const event = RunEventPayload.parse({
      at: row.created_at,
      ...row.payload,
      run_id: row.run_id,
      seq: row.seq,
      type: row.type,
    });
    progress = applyEvent(progress, event);
    lines.push(describeEvent(event, progress));
  }
  assert.ok(
    lines.some((l) =>
      /recovery integration retry: T2 → T2 \(db-architect\): .*already exists/.test(l)
    ),
    lines.join("\n"),
  );
  assert.match(renderFrame(progress, Date.now()), /integration +retry +T2 → T2 db-architect/);

  // The deliverable's Notes say what failed and what recovered it.
  const res = await app.api(alice.token, `/runs/${run.id}/deliverable`);
  assert.equal(res.status, 200);
  const deliverable = await res.json() as { result: unknown; files: { path: string }[] };
  const result = DeliveryResult.parse(deliverable.result);
  assert.deepEqual(
    result.sections.notes.recovery?.map((r) => [r.class, r.strategy, r.from_task, r.to_task]),
    [["integration", "retry", "T2", "T2"]],
  );
  assert.ok(result.validation.integration?.ok, "the merged result now passes");
  assert.ok(
    deliverable.files.some((f) => f.path.endsWith("_create_watchlist.sql")),
    "T2's redone migration is delivered",
  );
  const md = await app.api(alice.token, `/runs/${run.id}/deliverable`, {
    headers: { accept: "text/markdown" },
  });
  const markdown = await md.text();
  const notes = markdown.slice(markdown.indexOf("## Notes"), markdown.indexOf("## Tests"));
  assert.match(notes, /### What failed and what recovered it/);
  assert.match(notes, /T2 \(db-architect\).*relation "tags" already exists/);
  assert.match(notes, /redone by db-architect as T2/);
});
