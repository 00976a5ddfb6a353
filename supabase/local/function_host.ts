/**
 * Main module of one edge-function subprocess (`deno run -A function_host.ts <entrypoint>`), the
 * local stand-in for an edge-runtime worker. It runs the function's module unchanged: the
 * function's own `Deno.serve(handler)` is redirected to a free port on 127.0.0.1, and the port is
 * announced on stdout as `<marker> <port>` (marker from {@link READY_MARKER_ENV}) so the gateway
 * knows where to forward. It also provides the edge runtime's `EdgeRuntime.waitUntil` and, on
 * SIGTERM, the runtime's `beforeunload` event followed by a short grace for background tasks.
 *
 * The host imports nothing but `node:` builtins, so it runs under any function's import map.
 */
import { pathToFileURL } from "node:url";

/** Environment variable carrying the line prefix the gateway waits for; removed before user code. */
export const READY_MARKER_ENV = "FUNCTION_HOST_READY_MARKER";

// Shorter than the gateway's stop timeout, so background work finishing in time is not killed.
const SHUTDOWN_GRACE_MS = 1500;

type Handler = (
  request: Request,
  info: Deno.ServeHandlerInfo<Deno.NetAddr>,
) => Response | Promise<Response>;
type ServeArgs = [unknown?, unknown?];

/** Background tasks kept referenced, like the edge runtime keeps them alive after the response. */
const pending = new Set<Promise<unknown>>();

const edgeRuntime = Object.freeze({
  /** Keeps `promise` running after the response is sent; a rejection is logged, not fatal. */
  waitUntil<T>(promise: Promise<T>): Promise<T> {
    pending.add(promise);
    promise
      .catch((e) => console.error("EdgeRuntime.waitUntil: background task failed:", e))
      .finally(() => pending.delete(promise));
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

  Object.defineProperty(globalThis, "EdgeRuntime", { value: edgeRuntime, enumerable: false });
  const serve = redirectServe(marker);
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
 * Replaces `Deno.serve` with one that listens on 127.0.0.1:0 whatever the function asked for, and
 * announces the bound port. Every call form (`serve(handler)`, `serve(options, handler)`,
 * `serve({ handler, ... })`) is accepted; address, TLS and unix-socket options are dropped because
 * on the platform the runtime, not the function, owns the listener.
 */
function redirectServe(marker: string): { readonly called: boolean } {
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
    for (const key of ["path", "cert", "key", "hostname", "port", "reusePort"]) delete options[key];
    return realServe({
      ...options,
      hostname: "127.0.0.1",
      port: 0,
      onListen(addr: Deno.NetAddr) {
        console.log(`${marker} ${addr.port}`);
        userOnListen?.(addr);
      },
    });
  };
  Object.assign(Deno, { serve: hostServe });
  return state;
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
