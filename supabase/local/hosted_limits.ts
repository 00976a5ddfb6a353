/**
 * Supabase's hosted limits for edge functions, and what the local functions host does about them
 * in hosted-limits mode (`BT_HOSTED_LIMITS=1`): the V8 heap is capped at the memory limit, the
 * process runs with `--deny-run` and without `Worker`, every request's CPU time is measured (its
 * background work included) and logged as a miss over the limit, a request idle past the idle
 * timeout is cut with 504, and each function's peak RSS is tracked against the memory limit. The
 * figures ({@link FunctionUsage}) are kept in every mode, so the bench can report them.
 *
 * What is not enforced: the CPU limit only logs (the platform ends the request with 546), memory
 * is checked as RSS, which also counts what the platform may not (the Deno binary, code caches),
 * and the wall-clock limit is not applied.
 *
 * @example
 * ```ts
 * const limits = hostedLimitsFromEnv(Deno.env.get("BT_HOSTED_LIMITS")); // HOSTED_LIMITS or undefined
 * const flags = limits ? hostedLimitFlags(limits) : []; // ["--deny-run", "--v8-flags=…"]
 * ```
 */

/** The limits hosted-limits mode applies. */
export interface HostedLimits {
  /** Memory of one function, in MiB: the V8 old-space cap and the RSS a process is held to. */
  memoryMiB: number;
  /** CPU time one request may use, in ms; more is logged as a miss. */
  cpuMsPerRequest: number;
  /** How long a request may wait for its response (or for the next chunk of it), in ms. */
  idleTimeoutMs: number;
}

/** Supabase's documented limits: 256 MB memory, 2 s CPU per request, 150 s idle, then 504. */
export const HOSTED_LIMITS: Readonly<HostedLimits> = Object.freeze({
  memoryMiB: 256,
  cpuMsPerRequest: 2000,
  idleTimeoutMs: 150_000,
});

const MIB = 1024 * 1024;

/**
 * The limits `BT_HOSTED_LIMITS` asks for: {@link HOSTED_LIMITS} for `1`, `true`, `yes` or `on`
 * (any case), undefined for anything else. Pure.
 *
 * @example
 * ```ts
 * hostedLimitsFromEnv("1"); // HOSTED_LIMITS
 * hostedLimitsFromEnv(undefined); // undefined
 * ```
 */
export function hostedLimitsFromEnv(value: string | undefined): HostedLimits | undefined {
  return /^(1|true|yes|on)$/i.test(value?.trim() ?? "") ? { ...HOSTED_LIMITS } : undefined;
}

/**
 * The `deno run` flags of a function process in hosted-limits mode: no subprocesses, and the V8
 * heap capped at the memory limit (a function past it dies with V8's out-of-memory error, as the
 * platform stops it with `Memory`). Pure.
 *
 * @example
 * ```ts
 * hostedLimitFlags(HOSTED_LIMITS); // ["--deny-run", "--v8-flags=--max-old-space-size=256"]
 * ```
 */
export function hostedLimitFlags(limits: HostedLimits): string[] {
  return ["--deny-run", `--v8-flags=--max-old-space-size=${limits.memoryMiB}`];
}

/** Resident memory of a process, in bytes, from `/proc/<pid>/status`. */
export interface ProcessMemory {
  /** Resident set size now (`VmRSS`). */
  rssBytes: number;
  /** Highest resident set size the process has had (`VmHWM`, kept by the kernel). */
  peakRssBytes: number;
}

/**
 * `VmRSS` and `VmHWM` of a `/proc/<pid>/status` text, or undefined when either is missing. Pure.
 *
 * @example
 * ```ts
 * parseProcStatus("VmHWM:\t  2048 kB\nVmRSS:\t  1024 kB\n"); // { rssBytes: 1048576, peakRssBytes: 2097152 }
 * ```
 */
export function parseProcStatus(text: string): ProcessMemory | undefined {
  const kib = (field: string) => {
    const m = new RegExp(`^${field}:\\s+(\\d+)\\s*kB`, "m").exec(text);
    return m ? Number(m[1]) * 1024 : undefined;
  };
  const rssBytes = kib("VmRSS");
  const peakRssBytes = kib("VmHWM");
  return rssBytes === undefined || peakRssBytes === undefined
    ? undefined
    : { rssBytes, peakRssBytes };
}

/** The memory of process `pid`, or undefined where `/proc` cannot tell (not Linux, exited). */
export async function readProcessMemory(pid: number): Promise<ProcessMemory | undefined> {
  try {
    return parseProcStatus(await Deno.readTextFile(`/proc/${pid}/status`));
  } catch {
    return undefined;
  }
}

/** What V8 prints when the heap cap is reached, on the function's stderr. */
const HEAP_OUT_OF_MEMORY =
  /JavaScript heap out of memory|Fatal JavaScript out of memory|Reached heap limit/i;

/**
 * Whether a line of a function's output is V8 giving up at the heap cap. Pure.
 *
 * @example
 * ```ts
 * isHeapOutOfMemory("FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory"); // true
 * ```
 */
export function isHeapOutOfMemory(line: string): boolean {
  return HEAP_OUT_OF_MEMORY.test(line);
}

/** One request as the function host measured it. */
export interface RequestUsage {
  method: string;
  /** The path the function saw (`/<name>/…`), without the query. */
  path: string;
  /**
   * CPU time of the function's process while the request, its response body or the background
   * work it started (`EdgeRuntime.waitUntil`) was in flight, in ms. Time shared with other
   * requests in flight is split evenly between them.
   */
  cpuMs: number;
  /** From the request reaching the function until its response and background work finished. */
  wallMs: number;
}

/** What one function used since the gateway started, over all its processes. */
export interface FunctionUsage {
  name: string;
  /** Processes started (the first, and one per restart after a crash or kill). */
  processes: number;
  /** Requests the function finished (response sent, background work done). */
  requests: number;
  /** Highest peak RSS of any of its processes, in bytes (0 where `/proc` cannot tell). */
  peakRssBytes: number;
  /** Processes whose peak RSS went over the memory limit. */
  processesOverMemory: number;
  /** Processes that died at the V8 heap cap. */
  heapOutOfMemory: number;
  /** The most CPU one request used, in ms. */
  maxCpuMs: number;
  /** CPU of all its requests, in ms. */
  totalCpuMs: number;
  /** Requests that used more CPU than the limit allows. */
  cpuOverLimit: number;
  /** Requests cut with 504 after idling past the idle timeout. */
  idleTimeouts: number;
  /** Attempts to start a Web Worker (refused in hosted-limits mode). */
  workersRefused: number;
}

/**
 * Per-function usage, updated by the gateway as reports arrive. Decides what counts as a miss;
 * logging them is the caller's job.
 *
 * @example
 * ```ts
 * const ledger = new UsageLedger(HOSTED_LIMITS);
 * ledger.processStarted("orchestrator");
 * if (ledger.request("orchestrator", usage)) console.error("over the CPU limit");
 * ledger.snapshot(); // [{ name: "orchestrator", requests: 1, … }]
 * ```
 */
export class UsageLedger {
  readonly limits: HostedLimits;
  readonly #byName = new Map<string, FunctionUsage>();

  constructor(limits: HostedLimits = HOSTED_LIMITS) {
    this.limits = limits;
  }

  #of(name: string): FunctionUsage {
    let usage = this.#byName.get(name);
    if (!usage) {
      usage = {
        name,
        processes: 0,
        requests: 0,
        peakRssBytes: 0,
        processesOverMemory: 0,
        heapOutOfMemory: 0,
        maxCpuMs: 0,
        totalCpuMs: 0,
        cpuOverLimit: 0,
        idleTimeouts: 0,
        workersRefused: 0,
      };
      this.#byName.set(name, usage);
    }
    return usage;
  }

  /** Counts a new process of `name`. */
  processStarted(name: string): void {
    this.#of(name).processes++;
  }

  /** Records a finished request; true when it used more CPU than the limit. */
  request(name: string, usage: RequestUsage): boolean {
    const u = this.#of(name);
    u.requests++;
    u.totalCpuMs += usage.cpuMs;
    u.maxCpuMs = Math.max(u.maxCpuMs, usage.cpuMs);
    const over = usage.cpuMs > this.limits.cpuMsPerRequest;
    if (over) u.cpuOverLimit++;
    return over;
  }

  /**
   * Records a process's peak RSS; true the first time that process goes over the memory limit
   * (`alreadyOver` says whether it had been before).
   */
  memory(name: string, peakRssBytes: number, alreadyOver: boolean): boolean {
    const u = this.#of(name);
    u.peakRssBytes = Math.max(u.peakRssBytes, peakRssBytes);
    const over = peakRssBytes > this.limits.memoryMiB * MIB;
    if (over && !alreadyOver) u.processesOverMemory++;
    return over && !alreadyOver;
  }

  /** Counts a process that died at the heap cap. */
  heapOutOfMemory(name: string): void {
    this.#of(name).heapOutOfMemory++;
  }

  /** Counts a request cut by the idle timeout. */
  idleTimeout(name: string): void {
    this.#of(name).idleTimeouts++;
  }

  /** Counts a refused Web Worker. */
  workerRefused(name: string): void {
    this.#of(name).workersRefused++;
  }

  /** Every function's usage so far (copies), by name. */
  snapshot(): FunctionUsage[] {
    return [...this.#byName.values()].map((u) => ({ ...u }))
      .sort((a, b) => a.name.localeCompare(b.name));
  }
}

/**
 * One line per function: peak RSS against the memory limit, CPU per request, and every miss.
 * Pure.
 *
 * @example
 * ```ts
 * formatUsage(ledger.snapshot(), HOSTED_LIMITS);
 * // "orchestrator: peak RSS 98 MiB of 256 MiB; 12 requests, CPU max 140 ms, total 800 ms"
 * ```
 */
export function formatUsage(usage: readonly FunctionUsage[], limits: HostedLimits): string {
  return usage.map((u) => {
    const misses = [
      u.cpuOverLimit ? `${u.cpuOverLimit} over ${limits.cpuMsPerRequest} ms CPU` : "",
      u.processesOverMemory ? `${u.processesOverMemory} process(es) over memory` : "",
      u.heapOutOfMemory ? `${u.heapOutOfMemory} heap out of memory` : "",
      u.idleTimeouts ? `${u.idleTimeouts} idle timeout(s)` : "",
      u.workersRefused ? `${u.workersRefused} Worker(s) refused` : "",
    ].filter(Boolean);
    return `${u.name}: peak RSS ${Math.round(u.peakRssBytes / MIB)} MiB of ${limits.memoryMiB} ` +
      `MiB; ${u.requests} requests, CPU max ${Math.round(u.maxCpuMs)} ms, total ` +
      `${Math.round(u.totalCpuMs)} ms` + (misses.length ? `; MISSES: ${misses.join(", ")}` : "");
  }).join("\n");
}
