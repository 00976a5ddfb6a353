/**
 * The `mcp` function as a coding agent meets it: started by the local functions gateway from
 * `supabase/config.toml` (deployed shape), driven by the official MCP client SDK over Streamable
 * HTTP with a user's token. Tools are listed, SQL is validated by the real `validate` function,
 * runs are read, answered-for and cancelled as their owner only, a missing model is a clear tool
 * error, and a call without a token is a 401 with a Bearer challenge.
 */
import assert from "node:assert/strict";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { apiKeys, LOCAL_JWT_SECRET, mintUserToken } from "../../shared/auth/mod.ts";
import { submitRun } from "../../shared/runs/mod.ts";
import { createFunctionsGateway } from "../../supabase/local/functions_gateway.ts";
import { freshDatabase, type TestDatabase } from "../_support/db.ts";
import { startProduct } from "../_support/stack.ts";
import { SEED_REQUEST, seedScenario, TRADE_JOURNAL_PLAN, warmUp } from "./_execution_support.ts";

async function newUser(db: TestDatabase) {
  const id = crypto.randomUUID();
  await db.sql`insert into auth.users (id, email) values (${id}, ${`${id}@example.test`})`;
  return { id, token: await mintUserToken(LOCAL_JWT_SECRET, { sub: id }) };
}

async function mcpClient(url: string, token: string): Promise<Client> {
  const client = new Client({ name: "backend-team-test", version: "1.0.0" });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(`${url}/functions/v1/mcp`), {
      requestInit: { headers: { authorization: `Bearer ${token}` } },
    }),
  );
  return client;
}

interface ToolText {
  isError?: boolean;
  content: { type: string; text: string }[];
}

function errorOf(result: unknown): { code: string; message: string } {
  const r = result as ToolText;
  assert.equal(r.isError, true, JSON.stringify(r));
  return JSON.parse(r.content[0].text).error;
}

Deno.test("a coding agent uses Backend Team over MCP: tools, validate_sql, its own runs only, clear errors, 401 without a token", async () => {
  await using db = await freshDatabase();
  const keys = await apiKeys(LOCAL_JWT_SECRET);
  const logs: string[] = [];
  const route: { gateway?: ReturnType<typeof createFunctionsGateway> } = {};
  const server = Deno.serve(
    { port: 0, hostname: "127.0.0.1", onListen() {} },
    (req) => route.gateway!.fetch(req),
  );
  const url = `http://127.0.0.1:${server.addr.port}`;
  const gateway = route.gateway = createFunctionsGateway({
    jwtSecret: LOCAL_JWT_SECRET,
    env: {
      SUPABASE_URL: url,
      SUPABASE_ANON_KEY: keys.anon,
      SUPABASE_SERVICE_ROLE_KEY: keys.serviceRole,
      SUPABASE_DB_URL: db.url,
    },
    bootTimeoutMs: 120_000,
    log: (line) => logs.push(line),
  });
  const clients: Client[] = [];
  try {
    // No token: 401, the product's error shape, a Bearer challenge.
    const bare = await fetch(`${url}/functions/v1/mcp`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
      },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }),
    });
    assert.equal(bare.status, 401);
    assert.match(bare.headers.get("www-authenticate") ?? "", /^Bearer /);
    assert.equal((await bare.json()).error.code, "unauthorized");

    const alice = await newUser(db);
    const bob = await newUser(db);
    const agent = await mcpClient(url, alice.token);
    clients.push(agent);

    const { tools } = await agent.listTools();
    assert.deepEqual(tools.map((t: { name: string }) => t.name).sort(), [
      "answer_run",
      "cancel_run",
      "get_deliverable",
      "get_run",
      "submit_run",
      "validate_sql",
    ]);

    // validate_sql runs the real validator (the `validate` function, with the caller's token).
    const validated = await agent.callTool({
      name: "validate_sql",
      arguments: {
        files: [{
          name: "001_invoices.sql",
          sql: "create table public.invoices (id bigint primary key, amount numeric);",
        }],
      },
    }) as ToolText & { structuredContent?: { ok: boolean; findings: { rule: string }[] } };
    assert.notEqual(validated.isError, true, JSON.stringify(validated) + logs.join("\n"));
    assert.equal(validated.structuredContent?.ok, false);
    assert.ok(
      validated.structuredContent?.findings.some((f) => f.rule === "rls_disabled_in_public"),
    );

    // Input is checked with the API's schemas.
    const invalid = await agent.callTool({ name: "get_run", arguments: { id: "not-a-uuid" } });
    assert.equal((invalid as ToolText).isError, true);

    // No model configured here: submitting says so, naming what to set.
    const refused = errorOf(
      await agent.callTool({ name: "submit_run", arguments: { request: "A todo API" } }),
    );
    assert.equal(refused.code, "llm_not_configured");
    assert.match(refused.message, /OPENAI_API_KEY/);

    // Alice's run is hers: she reads and cancels it; Bob gets not_found.
    const run = await submitRun(db.sql, { role: "authenticated", sub: alice.id }, {
      request: "A todo API with per-user lists",
    });
    const mine = await agent.callTool({ name: "get_run", arguments: { id: run.id } }) as
      & ToolText
      & { structuredContent?: { run: { id: string; status: string } } };
    assert.equal(mine.structuredContent?.run.id, run.id);

    const intruder = await mcpClient(url, bob.token);
    clients.push(intruder);
    for (const name of ["get_run", "cancel_run", "get_deliverable"]) {
      const error = errorOf(await intruder.callTool({ name, arguments: { id: run.id } }));
      assert.equal(error.code, "not_found", name);
    }
    const answered = errorOf(
      await intruder.callTool({ name: "answer_run", arguments: { id: run.id, answers: { a: 1 } } }),
    );
    assert.equal(answered.code, "not_found");

    const cancelled = await agent.callTool({ name: "cancel_run", arguments: { id: run.id } }) as
      & ToolText
      & { structuredContent?: { run: { status: string } } };
    assert.equal(cancelled.structuredContent?.run.status, "cancelled");
    // Not completed: no deliverable yet, said with the product's code.
    const early = errorOf(
      await agent.callTool({ name: "get_deliverable", arguments: { id: run.id } }),
    );
    assert.ok(["illegal_transition", "conflict", "not_found"].includes(early.code), early.code);
  } finally {
    for (const client of clients) await client.close();
    await gateway.close();
    await server.shutdown();
  }
});

Deno.test("a coding agent runs the seed example over MCP with the scripted model: submit, follow with progress, deliverable", async () => {
  await using app = await startProduct({
    scenarios: [await seedScenario()],
    scenarioFiles: [TRADE_JOURNAL_PLAN],
  });
  await warmUp(app);
  const alice = await app.newUser();
  const agent = new Client({ name: "backend-team-test", version: "1.0.0" });
  await agent.connect(
    new StreamableHTTPClientTransport(new URL(`${app.stack.functionsUrl}/mcp`), {
      requestInit: { headers: { authorization: `Bearer ${alice.token}` } },
    }),
  );
  try {
    const submitted = await agent.callTool({
      name: "submit_run",
      arguments: { request: SEED_REQUEST, options: { cost_budget_usd: 1 } },
    }) as ToolText & { structuredContent?: { run: { id: string; status: string } } };
    assert.notEqual(submitted.isError, true, JSON.stringify(submitted));
    const id = submitted.structuredContent!.run.id;
    assert.equal(submitted.structuredContent!.run.status, "received");

    // Followed to the end, one progress notification per event, in order.
    const progress: { progress: number; message?: string }[] = [];
    const followed = await agent.callTool(
      { name: "get_run", arguments: { id, wait_seconds: 90 } },
      undefined,
      {
        onprogress: (p: { progress: number; message?: string }) => progress.push(p),
        timeout: 100_000,
        resetTimeoutOnProgress: true,
      },
    ) as ToolText & {
      structuredContent?: {
        run: { status: string; cost_usd: number | null; cost_budget_usd: number | null };
        tasks: { key: string; status: string; cost_usd: number | null }[];
      };
    };
    const detail = followed.structuredContent!;
    assert.equal(detail.run.status, "completed", JSON.stringify(detail.run));
    assert.deepEqual(detail.tasks.map((t) => [t.key, t.status]), [
      ["T1", "succeeded"],
      ["T2", "succeeded"],
      ["T3", "succeeded"],
    ]);
    assert.ok(detail.run.cost_usd! > 0 && detail.run.cost_usd! < 1, String(detail.run.cost_usd));
    assert.equal(detail.run.cost_budget_usd, 1);
    assert.ok(detail.tasks.every((t) => t.cost_usd! > 0));
    const seqs = progress.map((p) => p.progress);
    assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b), "progress only goes forward");
    const messages = progress.map((p) => p.message ?? "");
    // The event that ends T1's attempt carries its usage (task.attempt in older logs).
    assert.ok(
      messages.some((m) =>
        m.startsWith("task.status key=T1") && / status=succeeded .*cost_usd=/.test(m)
      ),
      messages.join("\n"),
    );
    assert.ok(messages.some((m) => m.startsWith("run.completed")), messages.join("\n"));

    // The deliverable as one Markdown document, and one of its files.
    const markdown = await agent.callTool({
      name: "get_deliverable",
      arguments: { id },
    }) as ToolText;
    assert.notEqual(markdown.isError, true, JSON.stringify(markdown));
    const doc = markdown.content[0].text;
    assert.match(doc, /## Summary/);
    assert.match(doc, /Model usage: [\d,]+ tokens, \$0\.\d+\./);
    assert.match(doc, /## Migrations/);
    const listed = errorOf(
      await agent.callTool({ name: "get_deliverable", arguments: { id, path: "no/such.sql" } }),
    ) as { code: string; message: string; details?: { paths: string[] } };
    assert.equal(listed.code, "not_found");
  } finally {
    await agent.close();
  }
});
