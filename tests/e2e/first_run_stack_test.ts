/**
 * A new user's first minutes, as they run them: `npm run dev` (the stack's own process, its
 * schedule waking the workers every second) with no model settings at all, then the token helper,
 * `POST /runs`, `deno task bt submit … --follow` and the MCP tool `submit_run`. The stack must say
 * at start-up that nothing needing a model will run; each way in must answer `llm_not_configured`
 * at once, naming the variables and the offline demo; a run queued anyway is failed with the
 * reason; and over a full minute of idling its log holds no stack trace, no crash loop, no failed
 * wake-up. With a model configured, a token from the token helper submits a run.
 */
import assert from "node:assert/strict";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { type CliIo, runCli } from "../../shared/cli/mod.ts";
import { NO_MODEL_NOTICE } from "../../shared/llm/mod.ts";
import { submitRun } from "../../shared/runs/mod.ts";
import { freshDatabase, shadowAdminUrl } from "../_support/db.ts";
import { startProduct } from "../_support/stack.ts";

const STACK = new URL("../../supabase/local/stack.ts", import.meta.url).pathname;
const TOKEN = new URL("../../supabase/local/token.ts", import.meta.url).pathname;
const BT = new URL("../../shared/cli/main.ts", import.meta.url).pathname;

/** How long the stack idles without model settings while its schedule runs. */
const IDLE_MS = 61_000;

/** The test process's environment without any model setting (as a user without a key has). */
function envWithoutModel(extra: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(Deno.env.toObject())) {
    if (!k.startsWith("OPENAI_") && k !== "JWT_SECRET" && k !== "SUPABASE_URL") env[k] = v;
  }
  return { ...env, NO_COLOR: "1", ...extra };
}

/** Collects a stream's lines, calling `onLine` for each. */
async function collectLines(
  stream: ReadableStream<Uint8Array>,
  into: string[],
  onLine: (line: string) => void,
): Promise<void> {
  let rest = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    const lines = (rest + chunk).split("\n");
    rest = lines.pop()!;
    for (const line of lines) {
      into.push(line);
      onLine(line);
    }
  }
  if (rest) into.push(rest);
}

/** `deno task token --user <email>` against `dbUrl`; returns the printed token and stderr. */
async function tokenHelper(email: string, env: Record<string, string>) {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", TOKEN, "--user", email],
    env,
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(60_000),
  }).output();
  const stderr = new TextDecoder().decode(output.stderr);
  assert.equal(output.code, 0, stderr);
  return { token: new TextDecoder().decode(output.stdout).trim(), stderr };
}

function capturingIo(env: Record<string, string>): CliIo & { outs: string[]; errs: string[] } {
  const outs: string[] = [];
  const errs: string[] = [];
  return {
    outs,
    errs,
    out: (text) => outs.push(text),
    err: (text) => errs.push(text),
    write: (text) => outs.push(text),
    stdoutIsTerminal: false,
    stdinIsTerminal: false,
    columns: () => 100,
    ask: () => null,
    now: () => Date.now(),
    env,
  };
}

/** A line of a JavaScript stack trace (`    at fn (file:///…:12:3)`). */
const STACK_TRACE_LINE = /^\s*at .*:\d+:\d+\)?$/;

Deno.test({
  name:
    "npm run dev without a model: says so at start-up, REST, CLI and MCP answer llm_not_configured within a second, and a minute of idling logs no stack trace",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    await using db = await freshDatabase();
    const shadowUrl = await shadowAdminUrl();
    const stackEnv = envWithoutModel({
      DATABASE_URL: db.url,
      SHADOW_DATABASE_URL: shadowUrl,
      BT_API_PORT: "0",
    });
    const child = new Deno.Command(Deno.execPath(), {
      // --keep-db: the stack must never stop clusters other tests share.
      args: ["run", "-A", STACK, "--keep-db"],
      env: stackEnv,
      clearEnv: true,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const stdout: string[] = [];
    const stderr: string[] = [];
    const banner = Promise.withResolvers<void>();
    const pumps = Promise.all([
      collectLines(child.stdout, stdout, (line) => {
        if (line.startsWith("Press Ctrl-C to stop.")) banner.resolve();
      }),
      collectLines(child.stderr, stderr, () => {}),
    ]);
    const exited = child.status.then((s) => {
      banner.reject(new Error(`the stack exited with ${s.code}:\n${stderr.join("\n")}`));
      return s;
    });
    let stopped = false;
    const log = () => `--- stdout\n${stdout.join("\n")}\n--- stderr\n${stderr.join("\n")}`;
    const clients: Client[] = [];
    try {
      const bootTimer = setTimeout(() => banner.reject(new Error("no banner in 180 s")), 180_000);
      await banner.promise.finally(() => clearTimeout(bootTimer));
      const idleFrom = performance.now();
      const apiUrl = /^\s*API URL: (http:\/\/127\.0\.0\.1:\d+)$/m.exec(stdout.join("\n"))?.[1];
      assert.ok(apiUrl, log());

      // Start-up says, in one line, that nothing needing a model will run and what to do.
      const notice = stdout.filter((l) => l.startsWith(NO_MODEL_NOTICE));
      assert.equal(notice.length, 1, log());
      assert.match(notice[0], /OPENAI_API_KEY, OPENAI_BASE_URL, OPENAI_MODEL not set/);
      assert.match(notice[0], /npm run demo` replays the recorded trade-journal example offline/);
      assert.ok(!stdout.some((l) => /^Models at /.test(l)), "no model table without a model");

      // The token helper creates the user it mints a token for.
      const email = `newbie-${crypto.randomUUID().slice(0, 8)}@example.com`;
      const { token, stderr: helperErr } = await tokenHelper(email, stackEnv);
      assert.equal(helperErr.trim(), "", "no note: the user was created");
      const [user] = await db.sql<{ id: string }[]>`
        select id::text from auth.users where email = ${email}`;
      assert.ok(user, `the token helper created ${email}`);

      // REST: warm the function, then time the refusal.
      const functionsUrl = `${apiUrl}/functions/v1`;
      await (await fetch(`${functionsUrl}/orchestrator/openapi.json`)).body?.cancel();
      let started = performance.now();
      const res = await fetch(`${functionsUrl}/orchestrator/runs`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
        body: JSON.stringify({ request: "A todo API with per-user lists" }),
      });
      const restMs = performance.now() - started;
      const body = await res.json();
      assert.equal(res.status, 503, JSON.stringify(body));
      assert.equal(body.error.code, "llm_not_configured");
      assert.match(body.error.message, /OPENAI_API_KEY/);
      assert.match(body.error.message, /npm run demo/);
      assert.ok(restMs < 1000, `REST answered in ${Math.round(restMs)} ms`);

      // The CLI, in process (timed) and as `deno task bt` runs it (exit status and words).
      const cliEnv = { SUPABASE_URL: apiUrl, BT_ACCESS_TOKEN: token };
      const io = capturingIo(cliEnv);
      started = performance.now();
      const code = await runCli(["submit", "A todo API with per-user lists", "--follow"], io);
      const cliMs = performance.now() - started;
      assert.equal(code, 1, io.errs.join("\n"));
      const said = io.errs.join("\n");
      assert.match(said, /^error: llm_not_configured: /);
      assert.match(said, /OPENAI_API_KEY/);
      assert.match(said, /OPENAI_BASE_URL/);
      assert.match(said, /OPENAI_MODEL/);
      assert.match(said, /npm run demo/);
      assert.ok(cliMs < 1000, `the CLI answered in ${Math.round(cliMs)} ms`);

      started = performance.now();
      const bt = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", BT, "submit", "A todo API with per-user lists", "--follow"],
        env: envWithoutModel(cliEnv),
        clearEnv: true,
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
        signal: AbortSignal.timeout(60_000),
      }).output();
      const btMs = performance.now() - started;
      const btErr = new TextDecoder().decode(bt.stderr);
      assert.equal(bt.code, 1, btErr);
      assert.match(btErr, /^error: llm_not_configured: no language model is configured/m);
      assert.match(btErr, /npm run demo/);
      assert.deepEqual(btErr.split("\n").filter((l) => STACK_TRACE_LINE.test(l)), [], btErr);

      // MCP: submit_run is a tool error with the same code and message.
      const mcp = new Client({ name: "first-run-test", version: "1.0.0" });
      clients.push(mcp);
      await mcp.connect(
        new StreamableHTTPClientTransport(new URL(`${functionsUrl}/mcp`), {
          requestInit: { headers: { authorization: `Bearer ${token}` } },
        }),
      );
      await mcp.listTools();
      started = performance.now();
      const tool = await mcp.callTool({
        name: "submit_run",
        arguments: { request: "A todo API with per-user lists" },
      }) as { isError?: boolean; content: { type: string; text: string }[] };
      const mcpMs = performance.now() - started;
      assert.equal(tool.isError, true, JSON.stringify(tool));
      const toolError = JSON.parse(tool.content[0].text).error;
      assert.equal(toolError.code, "llm_not_configured");
      assert.match(toolError.message, /OPENAI_API_KEY/);
      assert.match(toolError.message, /npm run demo/);
      assert.ok(mcpMs < 1000, `MCP answered in ${Math.round(mcpMs)} ms`);
      const [{ count }] = await db.sql`select count(*)::int as count from backend_team.runs`;
      assert.equal(count, 0, "nothing was queued");

      // A run queued anyway (say, before the key was removed): the schedule wakes the worker,
      // which fails it with the reason instead of leaving it in `received`.
      const queued = await submitRun(db.sql, { role: "authenticated", sub: user.id }, {
        request: "A todo API with per-user lists",
      });

      // Idle, with the schedule ticking every second, for a full minute.
      let run: { status: string; error: { code?: string } | null } | undefined;
      while (performance.now() - idleFrom < IDLE_MS) {
        await new Promise((r) => setTimeout(r, 1000));
        if (run?.status !== "failed") {
          [run] = await db.sql<{ status: string; error: { code?: string } | null }[]>`
            select status, error from backend_team.runs where id = ${queued.id}`;
        }
      }
      assert.equal(run?.status, "failed", log());
      assert.equal(run?.error?.code, "llm_not_configured");

      console.log(
        `REST ${Math.round(restMs)} ms, CLI in process ${Math.round(cliMs)} ms, ` +
          `bt process ${Math.round(btMs)} ms, MCP ${Math.round(mcpMs)} ms; idled ` +
          `${Math.round((performance.now() - idleFrom) / 1000)} s`,
      );
      child.kill("SIGTERM");
      stopped = true;
      const status = await exited;
      await pumps;
      assert.equal(status.code, 0, log());

      const lines = [...stdout, ...stderr];
      assert.deepEqual(lines.filter((l) => STACK_TRACE_LINE.test(l)), [], log());
      assert.deepEqual(
        lines.filter((l) => /Uncaught|wake .* failed|exited with code|BOOT_ERROR/i.test(l)),
        [],
        log(),
      );
      // Each function says it has no model once, when it starts — not once a second.
      const notices = stderr.filter((l) => /no language model is configured/.test(l));
      const perFunction = new Map<string, number>();
      for (const l of notices) {
        const fn = /\[fn:([^\]]+)\]/.exec(l)?.[1] ?? "?";
        perFunction.set(fn, (perFunction.get(fn) ?? 0) + 1);
      }
      for (const [fn, n] of perFunction) assert.ok(n <= 2, `${fn} said it ${n} times\n${log()}`);
      console.log(
        `stack log: ${lines.length} lines over the idle minute, ${notices.length} no-model notices`,
      );
    } finally {
      for (const c of clients) await c.close().catch(() => {});
      if (!stopped) {
        child.kill("SIGTERM");
        await exited;
        await pumps.catch(() => {});
      }
    }
  },
});

Deno.test("a token from the token helper submits a run (the helper creates the user)", async () => {
  await using app = await startProduct({
    scenarioFiles: [new URL("../fixtures/llm/todo_app.json", import.meta.url)],
    reportUsage: false,
  });
  const email = `helper-${crypto.randomUUID().slice(0, 8)}@example.com`;
  const { token } = await tokenHelper(
    email,
    envWithoutModel({ DATABASE_URL: app.db.url, JWT_SECRET: app.stack.jwtSecret }),
  );
  const res = await app.api(token, "/runs", {
    method: "POST",
    body: JSON.stringify({ request: "A todo app with per-user lists" }),
  });
  const body = await res.json();
  assert.equal(res.status, 202, JSON.stringify(body));
  const [owner] = await app.db.sql<{ email: string }[]>`
    select u.email from backend_team.runs r join auth.users u on u.id = r.owner_id
     where r.id = ${body.run.id}`;
  assert.equal(owner?.email, email);
  // The run really goes: the orchestrator asks the model to understand the request.
  // (The run is `understanding` a moment before the request reaches the model: wait for the call.)
  const deadline = Date.now() + 60_000;
  while (!app.llm.requests.some((r) => r.phase === "understand") && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.ok(app.llm.requests.some((r) => r.phase === "understand"), "the model was never asked");
});
