/**
 * Memory of the stack's processes from `/proc` (Linux): the gateway is the stack process itself,
 * the worker functions are its children running `function_host.ts`. `VmHWM` is a process's peak
 * resident set over its life; `VmRSS` is what it holds now (sampled to see the peak under load).
 *
 * @example
 * ```ts
 * const snapshot = await stackMemory(product.stackPid);
 * ```
 */

/** A process's resident memory, in MiB. */
export interface ProcessMemory {
  pid: number;
  /** The function's name (its folder), or `gateway`. */
  name: string;
  rssMb: number;
  peakRssMb: number;
}

async function status(pid: number): Promise<Record<string, string> | undefined> {
  try {
    const text = await Deno.readTextFile(`/proc/${pid}/status`);
    return Object.fromEntries(
      text.split("\n").map((line) => line.split(":\t")).filter((p) => p.length === 2)
        .map(([k, v]) => [k, v.trim()]),
    );
  } catch {
    return undefined;
  }
}

const mb = (kb: string | undefined) => Math.round(parseInt(kb ?? "0", 10) / 102.4) / 10;

async function memoryOf(pid: number, name: string): Promise<ProcessMemory | undefined> {
  const s = await status(pid);
  return s && { pid, name, rssMb: mb(s.VmRSS), peakRssMb: mb(s.VmHWM) };
}

/** The gateway's and every function process's memory now. */
export async function stackMemory(
  stackPid: number,
): Promise<{ gateway?: ProcessMemory; functions: ProcessMemory[] }> {
  const functions: ProcessMemory[] = [];
  for await (const entry of Deno.readDir("/proc")) {
    const pid = Number(entry.name);
    if (!Number.isInteger(pid)) continue;
    const s = await status(pid);
    if (!s || Number(s.PPid) !== stackPid) continue;
    let cmdline: string[];
    try {
      cmdline = (await Deno.readTextFile(`/proc/${pid}/cmdline`)).split("\0");
    } catch {
      continue;
    }
    const host = cmdline.findIndex((arg) => arg.endsWith("function_host.ts"));
    if (host < 0) continue;
    const name = cmdline[host + 1]?.split("/").at(-2) ?? `pid ${pid}`;
    functions.push({ pid, name, rssMb: mb(s.VmRSS), peakRssMb: mb(s.VmHWM) });
  }
  functions.sort((a, b) => a.name.localeCompare(b.name));
  return { gateway: await memoryOf(stackPid, "gateway"), functions };
}

/** This process's memory (the load generator and the scripted LLM). */
export function ownMemory(): Promise<ProcessMemory | undefined> {
  return memoryOf(Deno.pid, "bench");
}

/** Samples {@link stackMemory} every `everyMs` until stopped; returns the largest RSS seen. */
export function sampleStackMemory(stackPid: number, everyMs = 1000) {
  let gatewayMaxRssMb = 0;
  let functionsMaxTotalRssMb = 0;
  const tick = async () => {
    const now = await stackMemory(stackPid);
    gatewayMaxRssMb = Math.max(gatewayMaxRssMb, now.gateway?.rssMb ?? 0);
    const total = now.functions.reduce((s, f) => s + f.rssMb, 0);
    functionsMaxTotalRssMb = Math.max(functionsMaxTotalRssMb, Math.round(total * 10) / 10);
  };
  let running = tick();
  const timer = setInterval(() => running = running.then(tick), everyMs);
  return {
    async stop() {
      clearInterval(timer);
      await running;
      return { gatewayMaxRssMb, functionsMaxTotalRssMb };
    },
  };
}
