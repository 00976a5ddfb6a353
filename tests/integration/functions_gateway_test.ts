/**
 * The local edge-functions gateway, driven the way apps drive Supabase: over HTTP with the real
 * supabase-js client. The fixture functions live in tests/fixtures/functions (echo with
 * verify_jwt on by default, echo-public with it off, a disabled one and one that cannot boot).
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { createClient } from "@supabase/supabase-js";
import { apiKeys, LOCAL_JWT_SECRET, mintUserToken } from "../../shared/auth/mod.ts";
import {
  createFunctionsGateway,
  type FunctionsGateway,
  type FunctionsGatewayOptions,
} from "../../supabase/local/functions_gateway.ts";

const FIXTURES = fileURLToPath(new URL("../fixtures/functions/", import.meta.url));
const SECRET = LOCAL_JWT_SECRET;

interface Echo {
  method: string;
  path: string;
  search: string;
  claims: Record<string, unknown> | null;
  body: unknown;
  header: string | null;
  pid: number;
  supabaseUrl: string | null;
  envNames: string[];
  edgeRuntime: string;
}

interface Stack {
  url: string;
  anonKey: string;
  gateway: FunctionsGateway;
  logs: string[];
}

/** Runs `fn` against a gateway behind a real HTTP server, closing both afterwards. */
async function withGateway(fn: (stack: Stack) => Promise<void>): Promise<void> {
  const keys = await apiKeys(SECRET);
  const logs: string[] = [];
  const abort = new AbortController();
  let gateway: FunctionsGateway | undefined;
  const server = Deno.serve(
    { port: 0, hostname: "127.0.0.1", signal: abort.signal, onListen() {} },
    (req) => gateway!.fetch(req),
  );
  const url = `http://127.0.0.1:${server.addr.port}`;
  try {
    gateway = createFunctionsGateway({
      configPath: `${FIXTURES}config.toml`,
      functionsDir: FIXTURES,
      jwtSecret: SECRET,
      env: {
        SUPABASE_URL: url,
        SUPABASE_ANON_KEY: keys.anon,
        SUPABASE_SERVICE_ROLE_KEY: keys.serviceRole,
        SUPABASE_DB_URL: "postgresql://postgres:postgres@127.0.0.1:1/unused",
        OPENAI_MODEL: "test-model",
      },
      log: (line) => logs.push(line),
    });
    await fn({ url, anonKey: keys.anon, gateway, logs });
  } finally {
    await gateway?.close();
    abort.abort();
    await server.finished;
  }
}

function userClient(stack: Stack, token: string) {
  return createClient(stack.url, stack.anonKey, {
    auth: { persistSession: false, autoRefreshToken: false },
    global: { headers: { Authorization: `Bearer ${token}` } },
  });
}

async function eventually(what: string, check: () => boolean): Promise<void> {
  for (let i = 0; i < 250 && !check(); i++) await new Promise((r) => setTimeout(r, 20));
  assert.ok(check(), what);
}

Deno.test("a request without a valid token is refused with Supabase's 401 before the function runs", async () => {
  await withGateway(async (stack) => {
    const bare = await fetch(`${stack.url}/functions/v1/echo`, { method: "POST" });
    assert.equal(bare.status, 401);
    assert.deepEqual(await bare.json(), { code: 401, message: "Missing authorization header" });

    const garbage = createClient(stack.url, "not-a-jwt", {
      auth: { persistSession: false, autoRefreshToken: false },
    });
    const { data, error } = await garbage.functions.invoke("echo", { body: { a: 1 } });
    assert.equal(data, null);
    assert.equal(error?.name, "FunctionsHttpError");
    assert.equal(error.context.status, 401);
    assert.deepEqual(await error.context.json(), { code: 401, message: "Invalid JWT" });

    const expired = await mintUserToken(SECRET, { sub: crypto.randomUUID(), expiresIn: -60 });
    const late = await userClient(stack, expired).functions.invoke("echo");
    assert.equal(late.error?.context.status, 401);
    assert.deepEqual(await late.error.context.json(), { code: 401, message: "Invalid JWT" });

    const otherSecret = await mintUserToken("another-secret-another-secret-another-secret", {
      sub: crypto.randomUUID(),
    });
    const forged = await userClient(stack, otherSecret).functions.invoke("echo");
    assert.equal(forged.error?.context.status, 401);
    await forged.error.context.body?.cancel();

    // None of these reached the function, so none started it.
    assert.equal(stack.logs.length, 0, stack.logs.join("\n"));
  });
});

Deno.test("a user's call reaches the function with their claims, the platform env and its path", async () => {
  await withGateway(async (stack) => {
    const sub = crypto.randomUUID();
    const token = await mintUserToken(SECRET, { sub, email: "ada@example.com" });
    const client = userClient(stack, token);

    const { data, error } = await client.functions.invoke<Echo>("echo/runs/42?view=full&x=1", {
      body: { goal: "a todo app", n: 3 },
      headers: { "x-test-header": "kept" },
    });
    assert.equal(error, null);
    assert.equal(data?.method, "POST");
    assert.equal(data?.path, "/echo/runs/42");
    assert.equal(data?.search, "?view=full&x=1");
    assert.deepEqual(data?.body, { goal: "a todo app", n: 3 });
    assert.equal(data?.header, "kept");
    assert.equal(data?.claims?.sub, sub);
    assert.equal(data?.claims?.role, "authenticated");
    assert.equal(data?.claims?.email, "ada@example.com");
    assert.equal(data?.supabaseUrl, stack.url);
    for (
      const name of [
        "SUPABASE_URL",
        "SUPABASE_ANON_KEY",
        "SUPABASE_SERVICE_ROLE_KEY",
        "SUPABASE_DB_URL",
        "JWT_SECRET",
        "OPENAI_MODEL",
        "PATH",
      ]
    ) assert.ok(data?.envNames.includes(name), `function env lacks ${name}`);
    // The gateway's own environment and the host's handshake do not leak into functions.
    assert.ok(!data?.envNames.includes("FUNCTION_HOST_READY_MARKER"));
    assert.ok(!data?.envNames.includes("PWD"));
    assert.equal(data?.edgeRuntime, "function");

    const get = await client.functions.invoke<Echo>("echo", { method: "GET" });
    assert.equal(get.data?.path, "/echo");
    assert.equal(get.data?.method, "GET");
    assert.equal(get.data?.body, null);

    // The anon key is a valid JWT too, as on Supabase: it passes verify_jwt as role anon.
    const anon = createClient(stack.url, stack.anonKey, {
      auth: { persistSession: false, autoRefreshToken: false },
    });
    const asAnon = await anon.functions.invoke<Echo>("echo");
    assert.equal(asAnon.data?.claims?.role, "anon");

    await eventually(
      "function output is forwarded with its prefix",
      () => stack.logs.includes("[fn:echo] handled POST /echo/runs/42"),
    );
  });
});

Deno.test("verify_jwt off lets anonymous calls through and preflight never needs a token", async () => {
  await withGateway(async (stack) => {
    const open = await fetch(`${stack.url}/functions/v1/echo-public/hook?src=cron`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ ping: true }),
    });
    assert.equal(open.status, 200);
    const echoed: Echo = await open.json();
    assert.equal(echoed.path, "/echo-public/hook");
    assert.equal(echoed.search, "?src=cron");
    assert.equal(echoed.claims, null);
    assert.deepEqual(echoed.body, { ping: true });

    const preflight = await fetch(`${stack.url}/functions/v1/echo`, {
      method: "OPTIONS",
      headers: { origin: "http://localhost:3000", "access-control-request-method": "POST" },
    });
    assert.equal(preflight.status, 200);
    assert.equal(preflight.headers.get("access-control-allow-origin"), "*");
    await preflight.body?.cancel();
  });
});

Deno.test("unknown, disabled and unbootable functions get the relay's errors", async () => {
  await withGateway(async (stack) => {
    const token = await mintUserToken(SECRET, { sub: crypto.randomUUID() });
    for (const name of ["nope", "echo-disabled"]) {
      const res = await fetch(`${stack.url}/functions/v1/${name}`, {
        headers: { authorization: `Bearer ${token}` },
      });
      assert.equal(res.status, 404, name);
      assert.deepEqual(await res.json(), {
        code: "NOT_FOUND",
        message: "Requested function was not found",
      });
    }
    const broken = await fetch(`${stack.url}/functions/v1/broken`);
    assert.equal(broken.status, 503);
    assert.equal((await broken.json()).code, "BOOT_ERROR");
    assert.ok(stack.logs.some((l) => l.startsWith("[fn:broken] ")), "boot failure is logged");
  });
});

Deno.test("a function's process is reused across requests and restarted after it dies", async () => {
  await withGateway(async (stack) => {
    const client = userClient(stack, await mintUserToken(SECRET, { sub: crypto.randomUUID() }));
    // Concurrent first requests share one start.
    const first = await Promise.all(
      [1, 2, 3].map(() => client.functions.invoke<Echo>("echo", { method: "GET" })),
    );
    const pids = new Set(first.map((r) => r.data?.pid));
    assert.equal(pids.size, 1);
    const [pid] = pids;
    assert.equal((await client.functions.invoke<Echo>("echo")).data?.pid, pid);

    await stack.gateway.kill("echo");
    const after = await client.functions.invoke<Echo>("echo");
    assert.equal(after.error, null);
    assert.ok(after.data?.pid !== undefined && after.data.pid !== pid, "a new process serves it");

    await stack.gateway.restart("echo");
    const restarted = await client.functions.invoke<Echo>("echo");
    assert.notEqual(restarted.data?.pid, after.data?.pid);

    // A crash the gateway did not cause is noticed, logged, and healed by the next request.
    Deno.kill(restarted.data!.pid, "SIGKILL");
    await eventually(
      "the crash is logged",
      () => stack.logs.some((l) => l.startsWith("[fn:echo] exited with code")),
    );
    const healed = await client.functions.invoke<Echo>("echo");
    assert.equal(healed.error, null);
    assert.notEqual(healed.data?.pid, restarted.data?.pid);
  });
});

Deno.test("responses stream through the gateway and background work outlives the response", async () => {
  await withGateway(async (stack) => {
    const url = `${stack.url}/functions/v1/echo-public`;
    // The function holds its second chunk until /release; a buffering gateway would never return
    // the first one (nor the response), so waiting for it is bounded.
    let timer: ReturnType<typeof setTimeout> | undefined;
    const readFirst = async () => {
      const res = await fetch(`${url}/stream`);
      assert.equal(res.status, 200);
      const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
      return { reader, first: await reader.read() };
    };
    const { reader, first } = await Promise.race([
      readFirst(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error("first chunk was not streamed")), 10_000);
      }),
    ]).finally(() => clearTimeout(timer));
    assert.equal(first.value, "first\n");
    assert.equal(await (await fetch(`${url}/release`)).text(), "released");
    let rest = "";
    for (let r = await reader.read(); !r.done; r = await reader.read()) rest += r.value;
    assert.equal(rest, "second\n");

    const bg = await fetch(`${url}/background`);
    assert.equal(bg.status, 200);
    await bg.body?.cancel();
    await eventually(
      "EdgeRuntime.waitUntil task completes",
      () => stack.logs.includes("[fn:echo-public] background done"),
    );
  });
});

Deno.test("closing the gateway tells functions why, as the runtime's beforeunload event does", async () => {
  await withGateway(async (stack) => {
    const res = await fetch(`${stack.url}/functions/v1/echo-public`);
    await res.body?.cancel();
    await stack.gateway.close();
    assert.ok(
      stack.logs.includes("[fn:echo-public] beforeunload TerminationRequested"),
      stack.logs.join("\n"),
    );
    const after = await fetch(`${stack.url}/functions/v1/echo-public`);
    assert.equal(after.status, 503);
    await after.body?.cancel();
  });
});

// ---------------------------------------------------------------------------------------------
// Hosted-limits mode: the `limits` fixture does what the platform limits.

const LIMITS_FN = `${FIXTURES}limits/index.ts`;

/** Runs `fn` against a gateway serving only the `limits` fixture, in the given mode. */
async function withLimitsGateway(
  hostedLimits: FunctionsGatewayOptions["hostedLimits"],
  fn: (stack: Stack, call: (path: string) => Promise<Response>) => Promise<void>,
  env: Record<string, string> = {},
): Promise<void> {
  const keys = await apiKeys(SECRET);
  const logs: string[] = [];
  const abort = new AbortController();
  let gateway: FunctionsGateway | undefined;
  const server = Deno.serve(
    { port: 0, hostname: "127.0.0.1", signal: abort.signal, onListen() {} },
    (req) => gateway!.fetch(req),
  );
  const url = `http://127.0.0.1:${server.addr.port}`;
  try {
    gateway = createFunctionsGateway({
      functions: [{ name: "limits", entrypoint: LIMITS_FN, verifyJwt: false, enabled: true }],
      jwtSecret: SECRET,
      env: {
        SUPABASE_URL: url,
        SUPABASE_ANON_KEY: keys.anon,
        SUPABASE_SERVICE_ROLE_KEY: keys.serviceRole,
        SUPABASE_DB_URL: "postgresql://postgres:postgres@127.0.0.1:1/unused",
        ...env,
      },
      hostedLimits,
      memorySampleMs: 100,
      log: (line) => logs.push(line),
    });
    await fn(
      { url, anonKey: keys.anon, gateway, logs },
      (path) => fetch(`${url}/functions/v1/limits${path}`),
    );
  } finally {
    await gateway?.close();
    abort.abort();
    await server.finished;
  }
}

const SMALL_LIMITS = { memoryMiB: 256, cpuMsPerRequest: 150, idleTimeoutMs: 400 };

Deno.test("hosted-limits mode denies subprocesses and Web Workers, which the default mode allows", async () => {
  await withLimitsGateway(true, async (stack, call) => {
    assert.deepEqual(stack.gateway.hostedLimits, {
      memoryMiB: 256,
      cpuMsPerRequest: 2000,
      idleTimeoutMs: 150_000,
    });
    assert.deepEqual(await (await call("/permissions")).json(), { run: "denied" });
    const run = await (await call("/run")).json();
    assert.equal(run.ran, false);
    assert.match(run.error, /NotCapable|PermissionDenied/);
    const worker = await (await call("/worker")).json();
    assert.equal(worker.started, false);
    assert.match(worker.error, /Web Workers are not available/);
    await eventually(
      "the refused Worker is counted and logged",
      () => stack.gateway.usage()[0]?.workersRefused === 1,
    );
    assert.ok(stack.logs.some((l) => l.startsWith("[fn:limits] hosted limit: a Web Worker")));
  });
  await withLimitsGateway(false, async (stack, call) => {
    assert.equal(stack.gateway.hostedLimits, undefined);
    assert.deepEqual(await (await call("/permissions")).json(), { run: "granted" });
    assert.deepEqual(await (await call("/run")).json(), { ran: true });
    assert.deepEqual(await (await call("/worker")).json(), { started: true });
  });
});

Deno.test("BT_HOSTED_LIMITS=1 in the functions' env turns hosted-limits mode on", async () => {
  await withLimitsGateway(undefined, async (stack, call) => {
    assert.equal(stack.gateway.hostedLimits?.cpuMsPerRequest, 2000);
    assert.deepEqual(await (await call("/permissions")).json(), { run: "denied" });
  }, { BT_HOSTED_LIMITS: "1" });
});

Deno.test("CPU per request is measured, background work included, and a request over the limit is logged as a miss", async () => {
  await withLimitsGateway({ ...SMALL_LIMITS, idleTimeoutMs: 60_000 }, async (stack, call) => {
    await (await call("/burn?ms=10")).body?.cancel();
    await (await call("/burn?ms=300")).body?.cancel();
    const bg = await call("/background-burn?ms=300");
    assert.equal(bg.status, 202);
    await bg.body?.cancel();
    await eventually("three requests are reported", () => stack.gateway.usage()[0]?.requests === 3);
    const [usage] = stack.gateway.usage();
    assert.equal(usage.name, "limits");
    assert.equal(usage.processes, 1);
    assert.equal(usage.cpuOverLimit, 2, JSON.stringify(usage));
    assert.ok(usage.maxCpuMs >= 300 && usage.maxCpuMs < 2000, JSON.stringify(usage));
    assert.ok(usage.totalCpuMs >= 610, JSON.stringify(usage));
    assert.ok(usage.peakRssBytes > 10 * 1024 * 1024, JSON.stringify(usage));
    const misses = stack.logs.filter((l) => l.includes("hosted limit missed"));
    assert.equal(misses.length, 2, misses.join("\n"));
    assert.match(misses[0], /GET \/limits\/burn used \d+ ms of CPU \(limit 150 ms/);
    assert.match(misses[1], /GET \/limits\/background-burn used \d+ ms of CPU/);
  });
});

Deno.test("a request idle past the idle timeout is cut with 504, before or during its response", async () => {
  await withLimitsGateway(SMALL_LIMITS, async (stack, call) => {
    const hung = await call("/hang?ms=3000");
    assert.equal(hung.status, 504);
    assert.deepEqual(await hung.json(), { code: "IDLE_TIMEOUT", message: "Request idle timeout" });

    const stalled = await call("/stall?ms=3000");
    assert.equal(stalled.status, 200);
    const reader = stalled.body!.pipeThrough(new TextDecoderStream()).getReader();
    assert.equal((await reader.read()).value, "first\n");
    await assert.rejects(() => reader.read());

    // A response in time is untouched.
    assert.equal(await (await call("/hang?ms=50")).text(), "late");
    assert.equal(stack.gateway.usage()[0].idleTimeouts, 2);
  });
});

Deno.test("a function filling its heap dies at the V8 heap cap, and the death is counted", async () => {
  await withLimitsGateway({ ...SMALL_LIMITS, memoryMiB: 64, idleTimeoutMs: 60_000 }, async (
    stack,
    call,
  ) => {
    const res = await call("/fill-heap");
    assert.equal(res.status, 502);
    await res.body?.cancel();
    await eventually(
      "the heap death is counted",
      () => stack.gateway.usage()[0]?.heapOutOfMemory === 1,
    );
    await eventually(
      "the dead process is noticed",
      () => stack.logs.some((l) => l.startsWith("[fn:limits] exited with code")),
    );
    // The next request gets a fresh process.
    assert.deepEqual(await (await call("/permissions")).json(), { run: "denied" });
    assert.equal(stack.gateway.usage()[0].processes, 2);
  });
});
