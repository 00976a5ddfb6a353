/**
 * Main module of one edge-function subprocess (`deno run -A function_host.ts <entrypoint>`, or
 * with fewer permissions: see ./functions_gateway.ts), the local stand-in for an edge-runtime
 * worker. It runs the function's module unchanged: the
 * function's own `Deno.serve(handler)` is redirected to a free port on 127.0.0.1, and the host
 * talks to the gateway in lines on stdout starting with a marker (from {@link READY_MARKER_ENV}):
 * `<marker> {"kind":"listening","port":…}` once it listens, then one `request` report per request
 * with the CPU time it used ({@link HostReport}). It also provides the edge runtime's
 * `EdgeRuntime.waitUntil` and, on SIGTERM, the runtime's `beforeunload` event followed by a short
 * grace for background tasks. With {@link REFUSE_WORKERS_ENV} set (hosted-limits mode) `Worker`
 * throws, as the platform has no Web Workers.
 *
 * A request's CPU time is the process's CPU while the request, its response body or background
 * work it started with `EdgeRuntime.waitUntil` is in flight; CPU spent while several are in
 * flight is split evenly between them, so the reports add up to the process's busy CPU.
 *
 * The host imports nothing but `node:` builtins, so it runs under any function's import map.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import process from "node:process";
import { pathToFileURL } from "node:url";

/** Environment variable carrying the line prefix the gateway waits for; removed before user code. */
export const READY_MARKER_ENV = "FUNCTION_HOST_READY_MARKER";

/** Environment variable that, set to `1`, makes `new Worker()` throw; removed before user code. */
export const REFUSE_WORKERS_ENV = "FUNCTION_HOST_REFUSE_WORKERS";

/** A line the host sends the gateway (after the marker, as JSON). */
export type HostReport =
  | { kind: "listening"; port: number }
  | { kind: "request"; method: string; path: string; cpuMs: number; wallMs: number }
  | { kind: "worker_refused"; stack: string };

// Shorter than the gateway's stop timeout, so background work finishing in time is not killed.
const SHUTDOWN_GRACE_MS = 1500;

type Handler = (
  request: Request,
  info: Deno.ServeHandlerInfo<Deno.NetAddr>,
) => Response | Promise<Response>;
type ServeArgs = [unknown?, unknown?];

/** Background tasks kept referenced, like the edge runtime keeps them alive after the response. */
const pending = new Set<Promise<unknown>>();

/** One request from arrival until its response body and its background work are done. */
interface Flight {
  method: string;
  path: string;
  startedAt: number;
  cpuMs: number;
  /** Background tasks it started that are still running. */
  background: number;
  responded: boolean;
  done: boolean;
}

/** Which request the running code serves, so `waitUntil` knows whose background work it is. */
const currentFlight = new AsyncLocalStorage<Flight>();

/** Splits the process's CPU time between the requests in flight. */
class CpuShares {
  readonly #inFlight = new Set<Flight>();
  #last = cpuMsNow();

  #advance(): void {
    const now = cpuMsNow();
    const spent = now - this.#last;
    this.#last = now;
    if (this.#inFlight.size === 0) return;
    const share = spent / this.#inFlight.size;
    for (const flight of this.#inFlight) flight.cpuMs += share;
  }

  start(flight: Flight): void {
    this.#advance();
    this.#inFlight.add(flight);
  }

  finish(flight: Flight): void {
    this.#advance();
    this.#inFlight.delete(flight);
  }
}

function cpuMsNow(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

const shares = new CpuShares();
let report: (r: HostReport) => void = () => {};

function finishIfDone(flight: Flight): void {
  if (flight.done || !flight.responded || flight.background > 0) return;
  flight.done = true;
  shares.finish(flight);
  report({
    kind: "request",
    method: flight.method,
    path: flight.path,
    cpuMs: Math.round(flight.cpuMs * 10) / 10,
    wallMs: Math.round(performance.now() - flight.startedAt),
  });
}

const edgeRuntime = Object.freeze({
  /** Keeps `promise` running after the response is sent; a rejection is logged, not fatal. */
  waitUntil<T>(promise: Promise<T>): Promise<T> {
    pending.add(promise);
    const flight = currentFlight.getStore();
    const counted = flight !== undefined && !flight.done;
    if (counted) flight.background++;
    promise
      .catch((e) => console.error("EdgeRuntime.waitUntil: background task failed:", e))
      .finally(() => {
        pending.delete(promise);
        if (counted) {
          flight.background--;
          finishIfDone(flight);
        }
      });
    return promise;
  },
});

if (import.meta.main) await main(Deno.args);

async function main(args: string[]): Promise<void> {
  const entrypoint = args[0];
  if (!entrypoint) {
    console.error("usage: function_host.ts <entrypoint>");
    Deno.exit(2);
  }
  const marker = Deno.env.get(READY_MARKER_ENV) ?? "FUNCTION_HOST_LISTENING";
  Deno.env.delete(READY_MARKER_ENV);
  report = reporter(marker);
  if (Deno.env.get(REFUSE_WORKERS_ENV) === "1") refuseWorkers();
  Deno.env.delete(REFUSE_WORKERS_ENV);

  Object.defineProperty(globalThis, "EdgeRuntime", { value: edgeRuntime, enumerable: false });
  const serve = redirectServe();
  Deno.addSignalListener("SIGTERM", () => void shutdown());

  let mod: Record<string, unknown>;
  try {
    mod = await import(pathToFileURL(entrypoint).href);
  } catch (e) {
    console.error(`function failed to load ${entrypoint}:`, e);
    Deno.exit(1);
  }
  if (serve.called) return;
  // A module exporting `{ fetch }` (the `deno serve` style) is served as if it called Deno.serve.
  const exported = mod.default as { fetch?: Handler } | undefined;
  if (typeof exported?.fetch === "function") {
    Deno.serve((request, info) => exported.fetch!(request, info));
    return;
  }
  console.error(
    `${entrypoint} never called Deno.serve, so there is nothing to forward requests to`,
  );
  Deno.exit(1);
}

/**
 * Writes reports straight to stdout (captured now, so user code replacing `console` cannot
 * swallow them), one line each.
 */
function reporter(marker: string): (r: HostReport) => void {
  const stdout = Deno.stdout;
  const encoder = new TextEncoder();
  return (r) => {
    const bytes = encoder.encode(`${marker} ${JSON.stringify(r)}\n`);
    for (let written = 0; written < bytes.length;) {
      written += stdout.writeSync(bytes.subarray(written));
    }
  };
}

/** Makes `new Worker()` throw, as on the platform, and tells the gateway who tried. */
function refuseWorkers(): void {
  class RefusedWorker {
    constructor() {
      const error = new Error(
        "Web Workers are not available on Supabase Edge Functions (hosted-limits mode refuses " +
          "them); do the work in this isolate or in another function",
      );
      report({ kind: "worker_refused", stack: error.stack ?? error.message });
      throw error;
    }
  }
  Object.defineProperty(globalThis, "Worker", {
    value: RefusedWorker,
    writable: true,
    configurable: true,
    enumerable: false,
  });
}

/**
 * Replaces `Deno.serve` with one that listens on 127.0.0.1:0 whatever the function asked for, and
 * reports the bound port. Every call form (`serve(handler)`, `serve(options, handler)`,
 * `serve({ handler, ... })`) is accepted; address, TLS and unix-socket options are dropped because
 * on the platform the runtime, not the function, owns the listener. The handler is wrapped so
 * each request's CPU time is measured.
 */
function redirectServe(): { readonly called: boolean } {
  const realServe = Deno.serve.bind(Deno) as unknown as (
    options: Record<string, unknown>,
  ) => Deno.HttpServer;
  const state = { called: false };
  const hostServe = (...args: ServeArgs): Deno.HttpServer => {
    if (state.called) throw new Error("an edge function can call Deno.serve only once");
    state.called = true;
    const [first, second] = args;
    const options: Record<string, unknown> = typeof first === "function" ? { handler: first } : {
      ...(first as Record<string, unknown> | undefined),
      ...(second ? { handler: second } : {}),
    };
    const userOnListen = options.onListen as ((addr: Deno.NetAddr) => void) | undefined;
    const handler = options.handler as Handler | undefined;
    for (const key of ["path", "cert", "key", "hostname", "port", "reusePort"]) delete options[key];
    return realServe({
      ...options,
      ...(handler ? { handler: measured(handler) } : {}),
      hostname: "127.0.0.1",
      port: 0,
      onListen(addr: Deno.NetAddr) {
        report({ kind: "listening", port: addr.port });
        userOnListen?.(addr);
      },
    });
  };
  Object.assign(Deno, { serve: hostServe });
  return state;
}

/** `handler`, with each request's flight measured and reported once it is over. */
function measured(handler: Handler): Handler {
  return async (request, info) => {
    const flight: Flight = {
      method: request.method,
      path: new URL(request.url).pathname,
      startedAt: performance.now(),
      cpuMs: 0,
      background: 0,
      responded: false,
      done: false,
    };
    shares.start(flight);
    const responded = () => {
      flight.responded = true;
      finishIfDone(flight);
    };
    let response: Response;
    try {
      response = await currentFlight.run(flight, () => handler(request, info));
    } catch (e) {
      responded();
      throw e;
    }
    // A body is part of the request until it has been sent (or the client went away); an
    // upgrade's response is not a body to wrap.
    if (!response.body || response.status === 101) {
      responded();
      return response;
    }
    return new Response(watchedBody(response.body, responded), {
      status: response.status,
      statusText: response.statusText,
      headers: response.headers,
    });
  };
}

/** `body` passed through chunk by chunk, calling `onEnd` once when it ends or is cancelled. */
function watchedBody(
  body: ReadableStream<Uint8Array>,
  onEnd: () => void,
): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  let ended = false;
  const end = () => {
    if (ended) return;
    ended = true;
    onEnd();
  };
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const { done, value } = await reader.read();
        if (done) {
          controller.close();
          end();
        } else {
          controller.enqueue(value);
        }
      } catch (e) {
        controller.error(e);
        end();
      }
    },
    async cancel(reason) {
      end();
      await reader.cancel(reason);
    },
  });
}

// Mirrors the runtime's shutdown: announce it, give background tasks a moment, then exit.
async function shutdown(): Promise<void> {
  globalThis.dispatchEvent(
    new CustomEvent("beforeunload", { detail: { reason: "TerminationRequested" } }),
  );
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([
    Promise.allSettled([...pending]),
    new Promise((resolve) => timer = setTimeout(resolve, SHUTDOWN_GRACE_MS)),
  ]);
  clearTimeout(timer);
  Deno.exit(0);
}
