/**
 * The local stack's edge-functions gateway: serves `/functions/v1/<name>/*` as Supabase's edge
 * runtime does. The JWT check (`verify_jwt`) happens here, before any function code runs; each
 * function runs in its own Deno subprocess ({@link ./function_host.ts}), started on its first
 * request and kept for the following ones (the runtime's `per_worker` policy), started again if it
 * died. The function sees the path from `/<name>` on, the platform's env variables, and its output
 * appears on the gateway's stderr prefixed with `[fn:<name>]`.
 *
 * In hosted-limits mode (`BT_HOSTED_LIMITS=1` in its env or the process's, or the `hostedLimits`
 * option) functions run as they would on Supabase's platform as far as one machine can tell (see
 * ./hosted_limits.ts): `--deny-run`, the V8 heap capped at 256 MB, no Web Workers, CPU per request
 * over 2 s and RSS over 256 MiB logged as misses, requests idle for 150 s cut with 504.
 * {@link FunctionsGateway.usage} gives each function's peak RSS and CPU figures in every mode.
 *
 * @example
 * ```ts
 * const gateway = createFunctionsGateway({ configPath: "supabase/config.toml", jwtSecret, env });
 * Deno.serve({ port: 54321 }, gateway.fetch);
 * // later
 * await gateway.close();
 * ```
 */
import { dirname, join } from "node:path";
import { getPriority, setPriority } from "node:os";
import { fileURLToPath } from "node:url";
import { bearerToken, verifyToken } from "../../shared/auth/mod.ts";
import { FunctionEnv, loadConfig } from "../../shared/config/mod.ts";
import { type FunctionSpec, loadFunctionsConfig } from "./functions_config.ts";
import { type HostReport, READY_MARKER_ENV, REFUSE_WORKERS_ENV } from "./function_host.ts";
import {
  type FunctionUsage,
  hostedLimitFlags,
  type HostedLimits,
  hostedLimitsFromEnv,
  isHeapOutOfMemory,
  readProcessMemory,
  UsageLedger,
} from "./hosted_limits.ts";

export type { FunctionSpec, FunctionUsage, HostedLimits };

const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));
const HOST_MODULE = fileURLToPath(new URL("./function_host.ts", import.meta.url));
const PREFIX = "/functions/v1/";

// What Deno itself needs from the parent environment (cache, npm registry, certificates, proxies);
// everything else stays out, as on the platform where functions see only their own variables.
const INHERITED_ENV = [
  "PATH",
  "HOME",
  "USER",
  "LANG",
  "LC_ALL",
  "TZ",
  "TMPDIR",
  "TMP",
  "TEMP",
  "XDG_CACHE_HOME",
  "DENO_DIR",
  "DENO_CERT",
  "DENO_TLS_CA_STORE",
  "DENO_AUTH_TOKENS",
  "DENO_NO_UPDATE_CHECK",
  "NPM_CONFIG_REGISTRY",
  "npm_config_registry",
  "SSL_CERT_FILE",
  "SSL_CERT_DIR",
  "NODE_EXTRA_CA_CERTS",
  "HTTP_PROXY",
  "HTTPS_PROXY",
  "NO_PROXY",
  "http_proxy",
  "https_proxy",
  "no_proxy",
  "NO_COLOR",
  "SYSTEMROOT",
];

// Hop-by-hop headers (RFC 9110 §7.6.1) plus those the two fetch legs set themselves.
const UNFORWARDED_HEADERS = new Set([
  "connection",
  "keep-alive",
  "proxy-authenticate",
  "proxy-authorization",
  "proxy-connection",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
  "host",
  "content-length",
]);

/** How to build a gateway. */
export interface FunctionsGatewayOptions {
  /** Supabase CLI config to read `[functions.*]` from (default `supabase/config.toml`). */
  configPath?: string;
  /** Folder of unlisted function folders (default `functions/` beside the config, as the CLI). */
  functionsDir?: string;
  /** Functions to serve instead of reading the config (tests). */
  functions?: FunctionSpec[];
  /**
   * Environment of every function: must hold `SUPABASE_URL`, `SUPABASE_ANON_KEY`,
   * `SUPABASE_SERVICE_ROLE_KEY`, `SUPABASE_DB_URL`; anything else (e.g. `OPENAI_*`) is passed on.
   */
  env: Record<string, string>;
  /** Secret user tokens are verified with when `verify_jwt` is on; also given as `JWT_SECRET`. */
  jwtSecret: string;
  /** `deno.json` for functions that name no import map and have none beside them (default: repo's). */
  denoConfig?: string;
  /** How long a function may take to call `Deno.serve` (default 60 s: first runs may download). */
  bootTimeoutMs?: number;
  /** How long a function may take to exit after SIGTERM before it is killed (default 3 s). */
  stopTimeoutMs?: number;
  /** Where function output lines go, already prefixed (default: the gateway's stderr). */
  log?: (line: string) => void;
  /**
   * Hosted-limits mode: `true` for Supabase's limits, an object for others (tests), `false` for
   * off. Default: on when `BT_HOSTED_LIMITS` (in `env`, else this process's) is `1`.
   */
  hostedLimits?: boolean | HostedLimits;
  /** How often each function's memory is sampled, in ms (default 1000). */
  memorySampleMs?: number;
  /**
   * Functions that do background work (the queue workers): their processes run at a lower CPU
   * priority (`nice`, default {@link BACKGROUND_NICE}), so on a machine with fewer cores than
   * function processes the functions people and apps wait on (the API) are scheduled first.
   * Local only: hosted, every function runs in isolates of its own and cannot starve another.
   */
  background?: { functions: readonly string[]; nice?: number };
}

/** How much lower background functions' CPU priority is by default (`nice` 0–19). */
export const BACKGROUND_NICE = 5;

/** A running gateway. */
export interface FunctionsGateway {
  /** Handles a request for `/functions/v1/<name>/*`; suitable as a `Deno.serve` handler. */
  fetch(req: Request): Promise<Response>;
  /** Stops every function process and waits for them to exit. */
  close(): Promise<void>;
  /** Kills a function's process (SIGKILL, like a crash); its next request starts a new one. */
  kill(name: string): Promise<void>;
  /** Stops a function's process and starts a new one, resolving once it listens. */
  restart(name: string): Promise<void>;
  /** The functions this gateway knows, enabled or not. */
  readonly functions: readonly FunctionSpec[];
  /** The limits applied, when in hosted-limits mode. */
  readonly hostedLimits: HostedLimits | undefined;
  /**
   * What each function that has run used so far: peak RSS, CPU per request and the misses
   * against the hosted limits (counted in every mode), by name.
   */
  usage(): FunctionUsage[];
}

/** Thrown when a function process cannot be started; the gateway answers 503 BOOT_ERROR. */
export class FunctionBootError extends Error {
  constructor(name: string, reason: string) {
    super(`function ${name} failed to boot: ${reason}`);
    this.name = "FunctionBootError";
  }
}

/**
 * Creates the gateway. Reads the config now, so a broken `config.toml` or missing platform
 * variable fails start-up; processes start only when requests arrive.
 */
export function createFunctionsGateway(options: FunctionsGatewayOptions): FunctionsGateway {
  loadConfig(FunctionEnv, options.env);
  const specs = options.functions ??
    loadFunctionsConfig(options.configPath ?? join(REPO_ROOT, "supabase/config.toml"), {
      functionsDir: options.functionsDir,
    });
  const byName = new Map(specs.map((s) => [s.name, s]));
  const env = { ...inheritedEnv(), JWT_SECRET: options.jwtSecret, ...options.env };
  const log = options.log ?? ((line: string) => console.error(line));
  const limits = hostedLimitsOf(options);
  const ledger = new UsageLedger(limits);
  const slots = new Map<string, Slot>();
  let closed = false;

  const background = new Set(options.background?.functions ?? []);
  const launch = (spec: FunctionSpec): Slot => {
    const slot: Slot = {
      starting: startProcess(spec, {
        env,
        nice: background.has(spec.name) ? options.background?.nice ?? BACKGROUND_NICE : 0,
        denoConfig: options.denoConfig ?? join(REPO_ROOT, "deno.json"),
        bootTimeoutMs: options.bootTimeoutMs ?? 60_000,
        stopTimeoutMs: options.stopTimeoutMs ?? 3_000,
        log,
        limits,
        ledger,
        memorySampleMs: options.memorySampleMs ?? 1000,
      }),
    };
    slot.starting.then((w) => slot.process = w, () => slot.failed = true);
    slots.set(spec.name, slot);
    return slot;
  };

  // One start shared by concurrent requests; a dead or failed process is replaced on demand.
  const processFor = (spec: FunctionSpec): Promise<FunctionProcess> => {
    const slot = slots.get(spec.name);
    if (slot && !slot.failed && !slot.process?.exited) return slot.starting;
    return launch(spec).starting;
  };

  const stop = async (name: string, signal: Deno.Signal): Promise<void> => {
    const slot = slots.get(name);
    if (!slot) return;
    slots.delete(name);
    const worker = await slot.starting.catch(() => undefined);
    await worker?.stop(signal);
  };

  return {
    functions: specs,
    hostedLimits: limits,

    usage() {
      return ledger.snapshot();
    },

    async fetch(req: Request): Promise<Response> {
      const url = new URL(req.url);
      const route = routeOf(url.pathname);
      const spec = route && byName.get(route.name);
      if (!route || !spec?.enabled) {
        return relayError(404, "NOT_FOUND", "Requested function was not found");
      }
      // Preflight carries no credentials, so the runtime lets it through for the function's CORS.
      if (spec.verifyJwt && req.method !== "OPTIONS") {
        const denied = await checkJwt(req, options.jwtSecret);
        if (denied) return denied;
      }
      if (closed) return relayError(503, "SHUTTING_DOWN", "The functions gateway is shutting down");
      let worker: FunctionProcess;
      try {
        worker = await processFor(spec);
      } catch (e) {
        log(`[fn:${spec.name}] ${e instanceof Error ? e.message : String(e)}`);
        return relayError(503, "BOOT_ERROR", "Worker failed to boot (please check logs)");
      }
      return await forward(req, url, route.path, worker, limits?.idleTimeoutMs, () => {
        ledger.idleTimeout(spec.name);
        worker.log(
          `hosted limit missed: ${req.method} ${route.path} idle for ${limits!.idleTimeoutMs} ms ` +
            "without a response, cut with 504 (the platform's idle timeout)",
        );
      });
    },

    async close() {
      closed = true;
      await Promise.all([...slots.keys()].map((name) => stop(name, "SIGTERM")));
    },

    kill(name: string) {
      return stop(name, "SIGKILL");
    },

    async restart(name: string) {
      const spec = byName.get(name);
      if (!spec) throw new Error(`unknown function ${name}`);
      await stop(name, "SIGTERM");
      // Through processFor, so a request that started it meanwhile shares that process.
      if (!closed) await processFor(spec);
    },
  };
}

function hostedLimitsOf(options: FunctionsGatewayOptions): HostedLimits | undefined {
  const setting = options.hostedLimits;
  if (setting === false) return undefined;
  if (setting === true) return hostedLimitsFromEnv("1");
  if (setting) return { ...setting };
  return hostedLimitsFromEnv(options.env.BT_HOSTED_LIMITS ?? Deno.env.get("BT_HOSTED_LIMITS"));
}

interface Slot {
  starting: Promise<FunctionProcess>;
  process?: FunctionProcess;
  failed?: boolean;
}

/** `/functions/v1/echo/a?b` → name `echo`, path `/echo/a` (the function's view of the URL). */
function routeOf(pathname: string): { name: string; path: string } | undefined {
  if (!pathname.startsWith(PREFIX)) return undefined;
  const path = pathname.slice(PREFIX.length - 1);
  const name = path.slice(1).split("/", 1)[0];
  return name ? { name, path } : undefined;
}

// The bodies Supabase's relay answers with when it rejects a request before the function runs.
async function checkJwt(req: Request, secret: string): Promise<Response | undefined> {
  const header = req.headers.get("authorization");
  if (!header) return relayError(401, 401, "Missing authorization header");
  const token = bearerToken(header);
  if (!token) return relayError(401, 401, "Invalid JWT");
  try {
    await verifyToken(secret, token);
    return undefined;
  } catch {
    return relayError(401, 401, "Invalid JWT");
  }
}

function relayError(status: number, code: number | string, message: string): Response {
  return Response.json({ code, message }, { status });
}

/**
 * Sends the request on to the function's process and streams its answer back. With
 * `idleTimeoutMs`, a request that waits that long for its response, or for the next chunk of its
 * body, is cut: 504 before the response, an aborted body after it (`onIdle` is told either way).
 */
async function forward(
  req: Request,
  url: URL,
  path: string,
  worker: FunctionProcess,
  idleTimeoutMs?: number,
  onIdle?: () => void,
): Promise<Response> {
  const headers = new Headers();
  for (const [k, v] of req.headers) if (!UNFORWARDED_HEADERS.has(k)) headers.append(k, v);
  // The function listens on its own port; these tell it the address the caller used.
  if (!headers.has("x-forwarded-host")) headers.set("x-forwarded-host", url.host);
  if (!headers.has("x-forwarded-proto")) {
    headers.set("x-forwarded-proto", url.protocol.slice(0, -1));
  }
  // Aborted only when the idle timeout cuts the request.
  const idle = idleTimeoutMs === undefined ? undefined : new AbortController();
  let idleTimer: ReturnType<typeof setTimeout> | undefined;
  if (idle) idleTimer = setTimeout(() => idle.abort(), idleTimeoutMs);
  let upstream: Response;
  try {
    upstream = await fetch(`http://127.0.0.1:${worker.port}${path}${url.search}`, {
      method: req.method,
      headers,
      body: req.body,
      redirect: "manual",
      // No `signal: req.signal`: Deno aborts it once a response is sent, which would cut streamed
      // bodies; a client hanging up cancels the returned body, and that cancels the upstream one.
      signal: idle?.signal,
    });
  } catch (e) {
    if (idle?.signal.aborted) {
      onIdle?.();
      return relayError(504, "IDLE_TIMEOUT", "Request idle timeout");
    }
    worker.log(`request failed: ${e instanceof Error ? e.message : String(e)}`);
    return relayError(502, "WORKER_ERROR", "Function exited before responding (please check logs)");
  } finally {
    clearTimeout(idleTimer);
  }
  const out = new Headers();
  for (const [k, v] of upstream.headers) if (!UNFORWARDED_HEADERS.has(k)) out.append(k, v);
  const body = upstream.body && idle
    ? idleCutBody(upstream.body, idleTimeoutMs!, idle, () => onIdle?.())
    : upstream.body;
  return new Response(body, {
    status: upstream.status,
    statusText: upstream.statusText,
    headers: out,
  });
}

/** `body`, errored (and its upstream aborted) when no chunk comes for `timeoutMs`. */
function idleCutBody(
  body: ReadableStream<Uint8Array>,
  timeoutMs: number,
  upstream: AbortController,
  onIdle: () => void,
): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const idle = new Promise<"idle">((resolve) => {
        timer = setTimeout(() => resolve("idle"), timeoutMs);
      });
      try {
        const next = await Promise.race([reader.read(), idle]);
        if (next === "idle") {
          onIdle();
          upstream.abort();
          reader.cancel().catch(() => {});
          controller.error(new Error(`no response data for ${timeoutMs} ms (idle timeout)`));
        } else if (next.done) {
          controller.close();
        } else {
          controller.enqueue(next.value);
        }
      } catch (e) {
        controller.error(e);
      } finally {
        clearTimeout(timer);
      }
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  });
}

function inheritedEnv(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of INHERITED_ENV) {
    const value = Deno.env.get(name);
    if (value !== undefined) out[name] = value;
  }
  return out;
}

interface ProcessOptions {
  env: Record<string, string>;
  denoConfig: string;
  bootTimeoutMs: number;
  stopTimeoutMs: number;
  log: (line: string) => void;
  limits: HostedLimits | undefined;
  ledger: UsageLedger;
  memorySampleMs: number;
  /** CPU priority offset of the process (0: the gateway's own). */
  nice: number;
}

/** One function subprocess that has announced its port. */
interface FunctionProcess {
  readonly pid: number;
  readonly port: number;
  /** Whether the process has exited (it is then replaced on the next request). */
  readonly exited: boolean;
  /** Writes a gateway-side line under the function's prefix. */
  log(line: string): void;
  /** Sends `signal`, escalates to SIGKILL after the stop timeout, and waits for the exit. */
  stop(signal: Deno.Signal): Promise<void>;
}

async function startProcess(spec: FunctionSpec, options: ProcessOptions): Promise<FunctionProcess> {
  const marker = `__function_host_ready_${crypto.randomUUID()}`;
  const log = (line: string) => options.log(`[fn:${spec.name}] ${line}`);
  const { limits, ledger } = options;
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      ...permissionArgs(spec),
      ...(limits ? hostedLimitFlags(limits) : []),
      ...configArgs(spec, options.denoConfig),
      HOST_MODULE,
      spec.entrypoint,
    ],
    cwd: spec.sandbox ? spec.sandbox.cwd ?? spec.sandbox.read[0] ?? REPO_ROOT : REPO_ROOT,
    clearEnv: true,
    env: {
      ...options.env,
      [READY_MARKER_ENV]: marker,
      ...(limits ? { [REFUSE_WORKERS_ENV]: "1" } : {}),
      NO_COLOR: "1",
    },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (options.nice > 0) {
    try {
      // Relative to the gateway's own priority; a process may always lower its children's.
      setPriority(child.pid, Math.min(19, getPriority(Deno.pid) + options.nice));
    } catch (e) {
      log(`could not lower the CPU priority: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  ledger.processStarted(spec.name);
  const ready = Promise.withResolvers<number>();
  let exited = false;
  let stopping = false;
  let heapOutOfMemory = false;

  // Peak RSS: the kernel keeps the high-water mark, so sampling it now and then misses nothing
  // but the last moments of a process that dies.
  let overMemory = false;
  const sampleMemory = async () => {
    const memory = await readProcessMemory(child.pid);
    if (!memory || exited) return;
    if (ledger.memory(spec.name, memory.peakRssBytes, overMemory)) {
      overMemory = true;
      if (limits) {
        log(
          `hosted limit missed: peak RSS ${mib(memory.peakRssBytes)} MiB is over the ` +
            `${limits.memoryMiB} MiB a hosted function gets`,
        );
      }
    }
  };
  const sampler = setInterval(() => void sampleMemory(), options.memorySampleMs);
  Deno.unrefTimer(sampler);

  const onReport = (r: HostReport) => {
    switch (r.kind) {
      case "listening":
        ready.resolve(r.port);
        return;
      case "request":
        if (ledger.request(spec.name, r) && limits) {
          log(
            `hosted limit missed: ${r.method} ${r.path} used ${Math.round(r.cpuMs)} ms of CPU ` +
              `(limit ${limits.cpuMsPerRequest} ms per request; the platform would stop it ` +
              "with 546 CPUTime)",
          );
        }
        void sampleMemory();
        return;
      case "worker_refused":
        ledger.workerRefused(spec.name);
        log(`hosted limit: a Web Worker was refused (none on the platform): ${r.stack}`);
        return;
    }
  };

  const pumps = Promise.all([
    forwardLines(child.stdout, (line) => {
      // Searched anywhere in the line: output the function wrote without a newline may precede it.
      const at = line.indexOf(`${marker} `);
      if (at < 0) return log(line);
      if (at > 0) log(line.slice(0, at));
      const report = parseReport(line.slice(at + marker.length + 1));
      if (report) onReport(report);
      else log(`unreadable report from the function host: ${line.slice(at + marker.length + 1)}`);
    }),
    forwardLines(child.stderr, (line) => {
      if (!heapOutOfMemory && isHeapOutOfMemory(line)) {
        heapOutOfMemory = true;
        ledger.heapOutOfMemory(spec.name);
      }
      log(line);
    }),
  ]).catch((e) => log(`output lost: ${e instanceof Error ? e.message : String(e)}`));
  const status = child.status.then((status) => {
    exited = true;
    clearInterval(sampler);
    if (!stopping) {
      log(`exited with code ${status.code}${status.signal ? ` (${status.signal})` : ""}`);
    }
    ready.reject(new FunctionBootError(spec.name, `process exited with code ${status.code}`));
  });
  // Done means exited and every output line forwarded, so nothing is left running or unread.
  const finished = Promise.all([status, pumps]);

  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new FunctionBootError(spec.name, `no Deno.serve within ${options.bootTimeoutMs} ms`),
        ),
      options.bootTimeoutMs,
    );
  });

  const worker: FunctionProcess = {
    pid: child.pid,
    port: 0,
    get exited() {
      return exited;
    },
    log,
    async stop(signal: Deno.Signal) {
      stopping = true;
      if (!exited) await sampleMemory();
      if (!exited) {
        signalChild(child, signal);
        let killTimer: ReturnType<typeof setTimeout> | undefined;
        await Promise.race([
          finished,
          new Promise((resolve) => killTimer = setTimeout(resolve, options.stopTimeoutMs)),
        ]);
        clearTimeout(killTimer);
        if (!exited) signalChild(child, "SIGKILL");
      }
      await finished;
    },
  };

  try {
    const port = await Promise.race([ready.promise, timeout]);
    return Object.assign(worker, { port });
  } catch (e) {
    await worker.stop("SIGKILL");
    throw e;
  } finally {
    clearTimeout(timer);
  }
}

function parseReport(text: string): HostReport | undefined {
  try {
    const report = JSON.parse(text) as HostReport;
    return typeof report?.kind === "string" ? report : undefined;
  } catch {
    return undefined;
  }
}

function mib(bytes: number): number {
  return Math.round(bytes / (1024 * 1024));
}

// `-A`, or for a sandboxed function (the bundle test) only what it is given.
function permissionArgs(spec: FunctionSpec): string[] {
  if (!spec.sandbox) return ["-A"];
  const { read, write = [] } = spec.sandbox;
  return [
    "--no-prompt",
    ...(read.length ? [`--allow-read=${read.join(",")}`] : []),
    ...(write.length ? [`--allow-write=${write.join(",")}`] : []),
    "--allow-net",
    "--allow-env",
  ];
}

// A function's own deno.json (as the CLI prefers) or import map, else the given default.
function configArgs(spec: FunctionSpec, fallback: string): string[] {
  const own = spec.importMap ??
    ["deno.json", "deno.jsonc"].map((f) => join(dirname(spec.entrypoint), f)).find(isFile);
  const config = own ?? fallback;
  return /deno\.jsonc?$/.test(config)
    ? ["--config", config]
    : ["--no-config", "--import-map", config];
}

function isFile(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

function signalChild(child: Deno.ChildProcess, signal: Deno.Signal): void {
  try {
    child.kill(signal);
  } catch {
    // Already exited between the check and the signal; the exit is awaited by the caller.
  }
}

async function forwardLines(
  stream: ReadableStream<Uint8Array>,
  onLine: (line: string) => void,
): Promise<void> {
  let buffer = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    buffer += chunk;
    let newline: number;
    while ((newline = buffer.indexOf("\n")) >= 0) {
      onLine(buffer.slice(0, newline).replace(/\r$/, ""));
      buffer = buffer.slice(newline + 1);
    }
  }
  if (buffer) onLine(buffer);
}
