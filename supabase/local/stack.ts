/**
 * The local stack (`deno task dev`): PostgreSQL with Supabase's platform SQL and the product's
 * migrations, and one API port serving the edge functions (`/functions/v1`) and Realtime
 * (`/realtime/v1`). Started in the foreground it prints URLs and keys as `supabase start` does and
 * stops everything it started on Ctrl-C. Tests and the demo call {@link startLocalStack} with port 0.
 */
import { fileURLToPath } from "node:url";
import { apiKeys, LOCAL_JWT_SECRET } from "../../shared/auth/mod.ts";
import { connect } from "../../shared/db/mod.ts";
import { routeApi } from "./api_server.ts";
import { createFunctionsGateway, type FunctionSpec } from "./functions_gateway.ts";
import { applyPlatformSql } from "../../shared/platform/mod.ts";
import {
  ensureCluster,
  ensureShadowCluster,
  stopCluster,
  stopShadowCluster,
} from "./postgres_cluster.ts";
import { createRealtimeServer, localChannelProbe } from "./realtime/mod.ts";
import { channelProbeHandler } from "../../shared/validation/mod.ts";
import { pushProductMigrations } from "./supabase_cli.ts";
import { localWorkerSecret, startWorkerSchedule } from "./worker_schedule.ts";
import { createWaker, functionOf, WORKERS } from "../../shared/dispatch/mod.ts";
import { describeModels } from "../../shared/llm/mod.ts";
import { AGENTS } from "../../shared/plan/mod.ts";

const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));

/** How to start the stack. */
export interface LocalStackOptions {
  /** API port on 127.0.0.1 (default 54321; 0 picks a free one). */
  port?: number;
  /** Database to use (default `DATABASE_URL`, else the local cluster). */
  databaseUrl?: string;
  /** JWT secret for keys and user tokens (default `JWT_SECRET`, else the CLI's local secret). */
  jwtSecret?: string;
  /** Supabase CLI config to read functions from (default `supabase/config.toml`). */
  configPath?: string;
  /** Functions to serve instead of those in the config (tests). */
  functions?: FunctionSpec[];
  /** Extra environment for functions (e.g. `OPENAI_BASE_URL`). */
  env?: Record<string, string>;
  /** Apply platform SQL and migrations first (default true). */
  migrate?: boolean;
  /** Milliseconds between safety-net checks of the queues (default 1000; 0 turns it off). */
  scheduleIntervalMs?: number;
}

/** A running stack. */
export interface LocalStack {
  apiUrl: string;
  functionsUrl: string;
  realtimeUrl: string;
  dbUrl: string;
  jwtSecret: string;
  anonKey: string;
  serviceRoleKey: string;
  /** The secret worker functions accept (`BT_WORKER_SECRET`). */
  workerSecret: string;
  /** The functions gateway (tests kill and restart function processes through it). */
  functions: ReturnType<typeof createFunctionsGateway>;
  /** Whether this call started the PostgreSQL cluster. */
  startedDatabase: boolean;
  /** Whether this stack started the shadow cluster. */
  startedShadowDatabase: boolean;
  /** Admin URL of the shadow server (given to functions as `SHADOW_DATABASE_URL`). */
  shadowUrl: string;
  /** The model settings the functions were given (`OPENAI_*`, `BT_LLM_PRICES`), for start-up text. */
  llmEnv: Record<string, string>;
  stop(): Promise<void>;
}

/** Starts the stack and returns its URLs and keys. */
export async function startLocalStack(options: LocalStackOptions = {}): Promise<LocalStack> {
  const jwtSecret = options.jwtSecret ?? Deno.env.get("JWT_SECRET") ?? LOCAL_JWT_SECRET;
  let dbUrl = options.databaseUrl ?? Deno.env.get("DATABASE_URL");
  let startedDatabase = false;
  if (!dbUrl) {
    const cluster = await ensureCluster();
    dbUrl = cluster.url;
    startedDatabase = cluster.started;
  }
  // Untrusted SQL runs on a server of its own, never the product's (see SECURITY.md).
  let shadowUrl = Deno.env.get("SHADOW_DATABASE_URL");
  let startedShadowDatabase = false;
  if (!shadowUrl) {
    const cluster = await ensureShadowCluster();
    shadowUrl = cluster.url;
    startedShadowDatabase = cluster.started;
  }
  if (options.migrate ?? true) {
    const sql = connect(dbUrl, { max: 1, applicationName: "backend-team migrate" });
    try {
      await applyPlatformSql(sql);
    } finally {
      await sql.end();
    }
    // The real CLI applies and records the migrations, as `supabase db push` does on deploy.
    const report = await pushProductMigrations(dbUrl);
    for (const f of report.applied) console.error(`[migrate] applied ${f}`);
  }

  const keys = await apiKeys(jwtSecret);
  const workerSecret = Deno.env.get("BT_WORKER_SECRET") ?? await localWorkerSecret(jwtSecret);
  // Listen first: functions must be told the public URL, which is known only once bound.
  const abort = new AbortController();
  let handler: (req: Request) => Promise<Response> = () =>
    Promise.resolve(
      Response.json({ error: { code: "upstream_unavailable", message: "starting" } }, {
        status: 503,
      }),
    );
  const { promise: listening, resolve: onListen } = Promise.withResolvers<number>();
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: options.port ?? 54321,
    signal: abort.signal,
    onListen: ({ port }) => onListen(port),
  }, (req) => handler(req));
  const port = await listening;
  const apiUrl = `http://127.0.0.1:${port}`;
  // The validators in the functions join delivered channels through this loopback service (they
  // must not import the local stack); only callers with the worker secret are served.
  const probeAbort = new AbortController();
  const probeServer = Deno.serve(
    { hostname: "127.0.0.1", port: 0, signal: probeAbort.signal, onListen() {} },
    channelProbeHandler(localChannelProbe(), [workerSecret]),
  );

  const functionEnv: Record<string, string> = {
    SUPABASE_URL: apiUrl,
    SUPABASE_ANON_KEY: keys.anon,
    SUPABASE_SERVICE_ROLE_KEY: keys.serviceRole,
    SUPABASE_DB_URL: dbUrl,
    JWT_SECRET: jwtSecret,
    BT_WORKER_SECRET: workerSecret,
    // Shadow databases (validation of untrusted SQL) live on the shadow cluster, a second
    // server; set SHADOW_DATABASE_URL to use another one.
    SHADOW_DATABASE_URL: shadowUrl,
    BT_CHANNEL_PROBE_URL: `http://127.0.0.1:${probeServer.addr.port}/channel-probe`,
    ...passThroughEnv(),
    ...options.env,
  };
  const functions = createFunctionsGateway({
    configPath: options.configPath ?? `${REPO_ROOT}supabase/config.toml`,
    functions: options.functions,
    jwtSecret,
    env: functionEnv,
    // The queue workers yield the CPU to the API on a busy machine (local only: see the option).
    background: { functions: WORKERS.map(functionOf) },
  });
  const realtime = await createRealtimeServer({ databaseUrl: dbUrl, jwtSecret });
  handler = routeApi({ functions, realtime });
  const scheduleSql = connect(dbUrl, { max: 1, applicationName: "backend-team schedule" });
  const schedule = options.scheduleIntervalMs === 0 ? undefined : startWorkerSchedule({
    sql: scheduleSql,
    wake: createWaker({ functionsUrl: `${apiUrl}/functions/v1`, secret: workerSecret }),
    intervalMs: options.scheduleIntervalMs,
  });

  return {
    apiUrl,
    functionsUrl: `${apiUrl}/functions/v1`,
    realtimeUrl: `ws://127.0.0.1:${port}/realtime/v1`,
    dbUrl,
    jwtSecret,
    anonKey: keys.anon,
    serviceRoleKey: keys.serviceRole,
    workerSecret,
    functions,
    startedDatabase,
    startedShadowDatabase,
    shadowUrl,
    llmEnv: Object.fromEntries(
      Object.entries(functionEnv).filter(([k]) => k.startsWith("OPENAI_") || k === "BT_LLM_PRICES"),
    ),
    async stop() {
      await schedule?.stop();
      await scheduleSql.end();
      await realtime.close();
      await functions.close();
      abort.abort();
      probeAbort.abort();
      await server.finished;
      await probeServer.finished;
    },
  };
}

// Settings a user exports for the product (LLM endpoint, tuning) reach the functions.
function passThroughEnv(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(Deno.env.toObject())) {
    if (k.startsWith("OPENAI_") || k.startsWith("BT_") || k === "SHADOW_DATABASE_URL") out[k] = v;
  }
  return out;
}

/** Text `deno task dev` prints, in the style of `supabase start`. */
export function describeStack(stack: LocalStack): string {
  const rows: [string, string][] = [
    ["API URL", stack.apiUrl],
    ["Functions URL", stack.functionsUrl],
    ["Realtime URL", stack.realtimeUrl],
    ["DB URL", stack.dbUrl],
    ["JWT secret", stack.jwtSecret],
    ["anon key", stack.anonKey],
    ["service_role key", stack.serviceRoleKey],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  return [
    "Backend Team local stack is running.",
    "",
    ...rows.map(([k, v]) => `${k.padStart(width)}: ${v}`),
    "",
    describeModels(stack.llmEnv, ["orchestrator", ...AGENTS]),
    "",
    "Mint a user token: deno task token --user you@example.com",
    "Press Ctrl-C to stop.",
  ].join("\n");
}

if (import.meta.main) {
  const keepDb = Deno.args.includes("--keep-db");
  const stack = await startLocalStack({ port: Number(Deno.env.get("BT_API_PORT") ?? 54321) });
  console.log(describeStack(stack));
  const shutdown = async () => {
    console.error("\nstopping…");
    await stack.stop();
    if (stack.startedDatabase && !keepDb) await stopCluster();
    if (stack.startedShadowDatabase && !keepDb) await stopShadowCluster();
    Deno.exit(0);
  };
  Deno.addSignalListener("SIGINT", shutdown);
  Deno.addSignalListener("SIGTERM", shutdown);
}
