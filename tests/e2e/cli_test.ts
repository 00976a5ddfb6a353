/**
 * The `bt` command line end to end, as a user runs it: a separate process (`deno run -A
 * shared/cli/main.ts …`, standard input not a terminal) against the whole product — local stack,
 * orchestrator and agent functions, Realtime — with the scripted LLM answering. The CLI reaches
 * the stack through a small recording proxy, so the tests can see which HTTP calls it made: a
 * follower must learn about progress from Realtime, reading the event log only to catch up, not
 * by polling it.
 *
 * The resource sanitizers are off: realtime-js and the proxied sockets leave timers behind.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import type { ScenarioInput } from "../_support/scripted_llm/mod.ts";
import { type Product, startProduct } from "../_support/stack.ts";
import {
  dbArchitectAnswer,
  tradeJournalAgentScenario,
} from "../fixtures/trade_journal/scenario.ts";

const CLI = new URL("../../shared/cli/main.ts", import.meta.url).pathname;
const PLAN = new URL("../fixtures/llm/trade_journal_plan.json", import.meta.url);
const SEED = "Design the schema for a trade journal with positions, trades, and tags, with RLS";
const opts = { sanitizeOps: false, sanitizeResources: false };

/** What a CLI process did. */
interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * A reverse proxy in front of the stack: it records every HTTP request and counts the Realtime
 * broadcasts it relays over WebSockets.
 */
function recordingProxy(target: string) {
  const calls: string[] = [];
  const socket = { broadcasts: 0 };
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const url = new URL(req.url);
    const upstream = new URL(url.pathname + url.search, target);
    if (req.headers.get("upgrade")?.toLowerCase() === "websocket") {
      upstream.protocol = "ws:";
      return relayWebSocket(req, upstream, () => socket.broadcasts++);
    }
    calls.push(`${req.method} ${url.pathname}`);
    const headers = new Headers(req.headers);
    headers.delete("host");
    const res = await fetch(upstream, {
      method: req.method,
      headers,
      body: req.body,
      redirect: "manual",
    });
    return new Response(res.body, { status: res.status, headers: res.headers });
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    calls,
    socket,
    close: () => server.shutdown(),
  };
}

/** Relays a WebSocket both ways; `onBroadcast` counts server frames carrying a broadcast. */
function relayWebSocket(req: Request, upstream: URL, onBroadcast: () => void): Response {
  const { socket, response } = Deno.upgradeWebSocket(req);
  const remote = new WebSocket(upstream);
  remote.binaryType = "arraybuffer";
  socket.binaryType = "arraybuffer";
  const early: (string | ArrayBuffer)[] = [];
  remote.onopen = () => {
    for (const m of early.splice(0)) remote.send(m);
  };
  socket.onmessage = (e) => {
    if (remote.readyState === WebSocket.OPEN) remote.send(e.data);
    else early.push(e.data);
  };
  remote.onmessage = (e) => {
    // Realtime sends broadcasts as binary frames (vsn 2.0.0) or as JSON pushes (vsn 1.0.0).
    if (typeof e.data !== "string" || e.data.includes('"type":"broadcast"')) onBroadcast();
    if (socket.readyState === WebSocket.OPEN) socket.send(e.data);
  };
  const closeBoth = () => {
    for (const ws of [remote, socket]) {
      if (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING) {
        try {
          ws.close();
        } catch {
          // already closing
        }
      }
    }
  };
  remote.onclose = closeBoth;
  socket.onclose = closeBoth;
  remote.onerror = closeBoth;
  socket.onerror = closeBoth;
  return response;
}

/** Runs `bt` as its own process against `apiUrl`, stdin not a terminal. */
async function bt(
  app: Product,
  apiUrl: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<CliRun> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", CLI, ...args],
    env: {
      SUPABASE_URL: apiUrl,
      SUPABASE_ANON_KEY: app.stack.anonKey,
      DATABASE_URL: app.db.url,
      JWT_SECRET: app.stack.jwtSecret,
      BT_ACCESS_TOKEN: "",
      NO_COLOR: "1",
      ...env,
    },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(120_000),
  }).output();
  const decode = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: output.code, stdout: decode(output.stdout), stderr: decode(output.stderr) };
}

function runIdOf(stdout: string): string {
  const match = /submitted run ([0-9a-f-]{36})/.exec(stdout);
  assert.ok(match, `no run id in:\n${stdout}`);
  return match[1];
}

/** The seq numbers of the progress lines, in the order printed. */
function progressSeqs(stdout: string): number[] {
  return [...stdout.matchAll(/^#(\d+) /gm)].map((m) => Number(m[1]));
}

async function filesUnder(dir: string, prefix = ""): Promise<string[]> {
  const out: string[] = [];
  for await (const entry of Deno.readDir(join(dir, prefix))) {
    const path = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isDirectory) out.push(...await filesUnder(dir, path));
    else out.push(path);
  }
  return out.sort();
}

function explain(run: CliRun): string {
  return `exit ${run.code}\n--- stdout\n${run.stdout}\n--- stderr\n${run.stderr.slice(-4000)}`;
}

Deno.test(
  "bt submit --follow shows live progress from Realtime and writes the deliverable as a Supabase project",
  opts,
  async () => {
    await using app = await startProduct({
      scenarios: [await tradeJournalAgentScenario()],
      scenarioFiles: [PLAN],
    });
    const proxy = recordingProxy(app.stack.apiUrl);
    const out = await Deno.makeTempDir({ prefix: "bt-cli-" });
    try {
      const run = await bt(app, proxy.url, [
        "submit",
        SEED,
        "--follow",
        "--out",
        out,
        "--user",
        "alice@example.test",
      ]);
      assert.equal(run.code, 0, explain(run));
      const id = runIdOf(run.stdout);
      assert.match(run.stdout, new RegExp(`run ${id} completed`));

      // Every event printed once, in order, from the first: nothing missed, nothing twice.
      const seqs = progressSeqs(run.stdout);
      assert.ok(seqs.length >= 10, `expected the run's events, got ${seqs.length}`);
      // A row's changes share its seq: printed in order, every row once, none missing.
      assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b));
      const rows = [...new Set(seqs)];
      assert.deepEqual(rows, rows.map((_, i) => i + 1));
      assert.match(run.stdout, /^#\d+ T1 db-architect running \(attempt 1\)$/m);

      // Realtime carried the progress: the log was read to catch up, not polled.
      const logReads = proxy.calls.filter((c) =>
        c === `GET /functions/v1/orchestrator/runs/${id}/events`
      );
      assert.ok(
        logReads.length <= 2,
        `the event log was read ${logReads.length} times for ${seqs.length} events`,
      );
      assert.ok(proxy.socket.broadcasts > 0, "no broadcast reached the CLI over its socket");

      const files = await filesUnder(out);
      assert.ok(
        files.some((f) => /^supabase\/migrations\/\d{14}_create_trade_journal\.sql$/.test(f)),
        `no create_trade_journal migration in:\n${files.join("\n")}`,
      );
      const migration = files.find((f) => f.endsWith("_create_trade_journal.sql"))!;
      assert.match(await Deno.readTextFile(join(out, migration)), /create table public\.positions/);
      for (const path of run.stdout.split("\n").filter((l) => l.startsWith("  supabase/"))) {
        assert.ok(files.includes(path.trim()), `${path.trim()} was listed but not written`);
      }

      // The run belongs to the user --user created, and the deliverable command writes the same tree.
      const again = await Deno.makeTempDir({ prefix: "bt-cli-" });
      try {
        const fetched = await bt(app, proxy.url, [
          "deliverable",
          id,
          "--out",
          again,
          "--user",
          "alice@example.test",
        ]);
        assert.equal(fetched.code, 0, explain(fetched));
        assert.deepEqual(await filesUnder(again), files);

        // The other formats: the Markdown document, and the same tree as a .tar.gz.
        const auth = ["--user", "alice@example.test"];
        const md = await bt(app, proxy.url, [
          "deliverable",
          id,
          "--out",
          again,
          "--format",
          "markdown",
          ...auth,
        ]);
        assert.equal(md.code, 0, explain(md));
        assert.match(
          await Deno.readTextFile(join(again, "deliverable.md")),
          /create_trade_journal/,
        );
        const tar = await bt(app, proxy.url, [
          "deliverable",
          id,
          "--out",
          again,
          "--format",
          "tar",
          ...auth,
        ]);
        assert.equal(tar.code, 0, explain(tar));
        const listing = await new Deno.Command("tar", {
          args: ["-tzf", join(again, `${id}.tar.gz`)],
          stdout: "piped",
        }).output();
        assert.equal(listing.code, 0);
        const archived = new TextDecoder().decode(listing.stdout).split("\n")
          .filter((l) => l && !l.endsWith("/")).map((l) => l.replace(/^\.\//, "")).sort();
        assert.deepEqual(archived, files);
      } finally {
        await Deno.remove(again, { recursive: true });
      }

      // bt login prints a token to export; another user sees none of alice's runs.
      const login = await bt(app, proxy.url, ["login", "--user", "bob@example.test"]);
      assert.equal(login.code, 0, explain(login));
      const token = /^export BT_ACCESS_TOKEN=(\S+)$/m.exec(login.stdout)?.[1];
      assert.ok(token, explain(login));
      const bobs = await bt(app, proxy.url, ["list"], { BT_ACCESS_TOKEN: token });
      assert.equal(bobs.code, 0, explain(bobs));
      assert.equal(bobs.stdout.trim(), "no runs yet");
      const alices = await bt(app, proxy.url, ["list", "--user", "alice@example.test"]);
      assert.match(alices.stdout, new RegExp(`^${id} +completed`, "m"));
    } finally {
      await proxy.close();
      await Deno.remove(out, { recursive: true });
    }
  },
);

/** An ambiguous request: the orchestrator asks two typed questions, then plans one task. */
async function ambiguousJournalScenario(): Promise<ScenarioInput> {
  return {
    description: "A vague journal request: questions first, then a db-architect task",
    rules: [{
      name: "understand the vague journal request",
      match: { agent: "orchestrator", phase: "understand" },
      answers: [{
        kind: "json",
        value: {
          goal: "Keep a journal of the user's trades.",
          requirements: ["Store trades"],
          assumptions: [],
          ambiguities: ["Sharing and scope are not said"],
          complexity: "ambiguous",
          scope: ["schema"],
          questions: [{
            id: "shared",
            text: "Should other users be able to read a journal?",
            kind: "boolean",
            choices: null,
            required: true,
          }, {
            id: "scope",
            text: "What should be delivered?",
            kind: "choice",
            choices: ["schema only", "schema and indexes"],
            required: true,
          }],
        },
      }],
    }, {
      name: "plan the journal once answered",
      match: { agent: "orchestrator", phase: "plan" },
      answers: [{
        kind: "json",
        value: {
          goal: "A private trade journal.",
          strategy: "sequential",
          tasks: [{
            id: "T1",
            agent: "db-architect",
            title: "Schema for positions, trades and tags",
            input: "Create positions, trades, tags and trade_tags with owner-only RLS.",
            output: ["migration"],
            depends_on: [],
            tables: ["positions", "trades", "tags", "trade_tags"],
          }],
          checkpoints: [{ after: "T1", validate: ["schema applies"] }],
          contracts: [],
          integration: [{ merge: ["T1"], into: "migrations" }],
        },
      }],
    }, {
      name: "db-architect designs the journal",
      match: { agent: "db-architect" },
      answers: [{ kind: "json", value: await dbArchitectAnswer() }],
    }],
  };
}

Deno.test(
  "an ambiguous request stops with exit 3 and its questions; bt answer then bt status --follow finish it",
  opts,
  async () => {
    await using app = await startProduct({ scenarios: [await ambiguousJournalScenario()] });
    const user = await app.newUser();
    const env = { BT_ACCESS_TOKEN: user.token };
    const out = await Deno.makeTempDir({ prefix: "bt-cli-" });
    try {
      const schema = join(out, "schema.sql");
      await Deno.writeTextFile(schema, "create table public.accounts (id uuid primary key);\n");
      const submitted = await bt(app, app.stack.apiUrl, [
        "submit",
        "I want a journal for my trades",
        "--follow",
        "--context-file",
        schema,
        "--budget",
        "150000",
        "--max-parallel",
        "2",
      ], env);
      assert.equal(submitted.code, 3, explain(submitted));
      const id = runIdOf(submitted.stdout);
      const { run } = await app.getRun(user.token, id);
      assert.match(run.context.schema_sql ?? "", /create table public\.accounts/);
      assert.equal(run.token_budget, 150000);
      assert.equal(run.options.max_parallel, 2);
      assert.match(submitted.stdout, /shared: Should other users be able to read a journal\?/);
      assert.match(submitted.stdout, /2\. schema and indexes/);
      assert.match(submitted.stdout, new RegExp(`deno task bt answer ${id} --answer shared=yes`));

      // Without a terminal and without --answer there is nobody to ask: a usage error.
      const unanswered = await bt(app, app.stack.apiUrl, ["answer", id], env);
      assert.equal(unanswered.code, 2, explain(unanswered));
      assert.match(unanswered.stderr, /standard input is not a terminal/);
      assert.match(unanswered.stderr, /shared: Should other users/);

      // A choice by its number, a yes/no as a word.
      const answered = await bt(app, app.stack.apiUrl, [
        "answer",
        id,
        "--answer",
        "shared=no",
        "--answer",
        "scope=1",
      ], env);
      assert.equal(answered.code, 0, explain(answered));
      const stored = await app.getRun(user.token, id);
      assert.deepEqual(stored.run.clarification?.answers, { shared: false, scope: "schema only" });

      const followed = await bt(
        app,
        app.stack.apiUrl,
        ["status", id, "--follow", "--out", join(out, "project")],
        env,
      );
      assert.equal(followed.code, 0, explain(followed));
      assert.match(followed.stdout, new RegExp(`run ${id} completed`));
      const files = await filesUnder(join(out, "project"));
      assert.ok(files.some((f) => f.endsWith("_create_trade_journal.sql")), files.join("\n"));

      // The API's errors reach the user as `error: <code>: <message>`, with exit status 1.
      const cancelled = await bt(app, app.stack.apiUrl, ["cancel", id], env);
      assert.equal(cancelled.code, 1, explain(cancelled));
      assert.match(cancelled.stderr, /^error: (illegal_transition|conflict): /m);
      const missing = await bt(app, app.stack.apiUrl, ["status", crypto.randomUUID()], env);
      assert.equal(missing.code, 1, explain(missing));
      assert.match(missing.stderr, /^error: not_found: /m);
      const anonymous = await bt(app, app.stack.apiUrl, ["status", id]);
      assert.equal(anonymous.code, 1, explain(anonymous));
      assert.match(anonymous.stderr, /^error: unauthorized: .*BT_ACCESS_TOKEN/m);
    } finally {
      await Deno.remove(out, { recursive: true });
    }
  },
);

Deno.test(
  "bt validate checks the user's migrations and rollbacks on a shadow database and fails on a table without RLS",
  opts,
  async () => {
    await using app = await startProduct();
    const user = await app.newUser();
    const env = { BT_ACCESS_TOKEN: user.token };
    const dir = await Deno.makeTempDir({ prefix: "bt-validate-" });
    try {
      const fixture = new URL("../fixtures/trade_journal/", import.meta.url);
      const up = join(dir, "001_create_trade_journal.sql");
      const down = join(dir, "001_create_trade_journal.down.sql");
      const notes = join(dir, "002_notes.sql");
      await Deno.writeTextFile(
        up,
        await Deno.readTextFile(new URL("create_trade_journal.up.sql", fixture)),
      );
      await Deno.writeTextFile(
        down,
        await Deno.readTextFile(new URL("create_trade_journal.down.sql", fixture)),
      );
      await Deno.writeTextFile(
        notes,
        "create table public.notes (\n  id bigint generated always as identity primary key,\n" +
          "  body text not null\n);\n",
      );

      const valid = await bt(app, app.stack.apiUrl, ["validate", up, down], env);
      assert.equal(valid.code, 0, explain(valid));
      assert.match(valid.stdout, /^OK: 0 error\(s\)/m);

      const invalid = await bt(app, app.stack.apiUrl, ["validate", up, down, notes], env);
      assert.equal(invalid.code, 1, explain(invalid));
      assert.match(invalid.stdout, /^FAILED: [1-9]\d* error\(s\)/m);
      assert.match(invalid.stdout, /002_notes\.sql[\s\S]*rls_disabled_in_public/);

      const json = await bt(app, app.stack.apiUrl, ["validate", up, down, notes, "--json"], env);
      assert.equal(json.code, 1, explain(json));
      const report = JSON.parse(json.stdout);
      assert.equal(report.ok, false);
      assert.ok(
        report.findings.some((f: { rule: string; file?: string }) =>
          f.rule === "rls_disabled_in_public" && f.file === "002_notes.sql"
        ),
        json.stdout,
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

/** The db-architect's answer with one table left without row level security. */
// db-architect's answer with an index on a column that does not exist: a schema error in its own
// SQL, which recovery sends back to db-architect (an RLS hole would go to security instead).
async function answerThatCannotApply() {
  const good = await dbArchitectAnswer();
  const [migration] = good.artifacts.migrations;
  return {
    ...good,
    artifacts: {
      migrations: [{
        ...migration,
        up_sql:
          `${migration.up_sql}\ncreate index positions_ticker_idx on public.positions (ticker);\n`,
      }],
    },
  };
}

Deno.test(
  "a task escalated after failing validation three times is answered through bt and the run completes",
  opts,
  async () => {
    const agents = await tradeJournalAgentScenario();
    const bad = await answerThatCannotApply();
    const good = await dbArchitectAnswer();
    const rules = agents.rules.map((rule) =>
      rule.match?.agent === "db-architect"
        ? {
          ...rule,
          answers: [
            { kind: "json" as const, value: bad },
            { kind: "json" as const, value: bad },
            { kind: "json" as const, value: bad },
            { kind: "json" as const, value: good },
          ],
        }
        : rule
    );
    await using app = await startProduct({
      scenarios: [{ ...agents, rules }],
      scenarioFiles: [PLAN],
    });
    const user = await app.newUser();
    const env = { BT_ACCESS_TOKEN: user.token };
    const out = await Deno.makeTempDir({ prefix: "bt-cli-" });
    try {
      const submitted = await bt(app, app.stack.apiUrl, ["submit", SEED, "--follow"], env);
      assert.equal(submitted.code, 3, explain(submitted));
      const id = runIdOf(submitted.stdout);
      assert.match(submitted.stdout, /T1 \(db-architect\)/);
      assert.match(submitted.stdout, /guidance \(optional\): /);
      assert.match(submitted.stdout, /action \(optional\): /);
      assert.equal(
        // The event that ends each attempt says its verdict.
        [...submitted.stdout.matchAll(/^#\d+ T1 db-architect retrying: .*; validation failed: /gm)]
          .length,
        3,
        submitted.stdout,
      );

      const answered = await bt(app, app.stack.apiUrl, [
        "answer",
        id,
        "--answer",
        "guidance=Enable row level security with owner policies on every table",
        "--follow",
        "--out",
        out,
      ], env);
      assert.equal(answered.code, 0, explain(answered));
      assert.match(answered.stdout, /^#\d+ T1 db-architect succeeded .*; validation passed: /m);
      assert.match(answered.stdout, new RegExp(`run ${id} completed`));
      const dbArchitectCalls = app.llm.requests.filter((r) => r.agent === "db-architect");
      assert.equal(dbArchitectCalls.length, 4);
      assert.ok(
        dbArchitectCalls[3].messages.some((m) => m.content.includes("Enable row level security")),
        "the fourth attempt was given the user's guidance",
      );
      const files = await filesUnder(out);
      assert.ok(files.some((f) => f.endsWith("_create_trade_journal.sql")), files.join("\n"));
    } finally {
      await Deno.remove(out, { recursive: true });
    }
  },
);
