/**
 * Where the CPU went during a phase, from `/proc` (Linux): the machine's busy time, and per
 * process group — the gateway (stack process), each worker function, this process (load
 * generator and scripted LLM), the PostgreSQL backends serving the product's database, and the
 * backends that ended during the phase (the postmaster's reaped-children time: shadow databases
 * created, prepared, validated and dropped, plus short-lived admin connections). What no group
 * explains is other work on the machine (other users of the cluster, other processes).
 *
 * @example
 * ```ts
 * const before = await cpuSnapshot(product.stackPid, db.url);
 * // … load …
 * const used = cpuDelta(before, await cpuSnapshot(product.stackPid, db.url));
 * ```
 */

const TICK_MS = 10; // CLK_TCK = 100 on Linux

interface ProcStat {
  pid: number;
  ppid: number;
  comm: string;
  self: number;
  children: number;
}

async function procStat(pid: number): Promise<ProcStat | undefined> {
  try {
    const text = await Deno.readTextFile(`/proc/${pid}/stat`);
    const close = text.lastIndexOf(")");
    const fields = text.slice(close + 2).split(" ");
    // fields[0] is state (field 3); utime is field 14 → index 11.
    return {
      pid,
      ppid: Number(fields[1]),
      comm: text.slice(text.indexOf("(") + 1, close),
      self: Number(fields[11]) + Number(fields[12]),
      children: Number(fields[13]) + Number(fields[14]),
    };
  } catch {
    return undefined;
  }
}

async function cmdline(pid: number): Promise<string> {
  try {
    return (await Deno.readTextFile(`/proc/${pid}/cmdline`)).replaceAll("\0", " ");
  } catch {
    return "";
  }
}

/** CPU counters at one moment, in ticks. */
export interface CpuSnapshot {
  at: number;
  busy: number;
  total: number;
  groups: Map<string, Map<number, number>>;
  reaped: number;
}

/**
 * Reads the counters; `dbUrl` names the product database (its backends) and its server (whose
 * postmaster, found by port, has reaped the backends that ended).
 */
export async function cpuSnapshot(stackPid: number, dbUrl: string): Promise<CpuSnapshot> {
  const url = new URL(dbUrl);
  const dbName = url.pathname.slice(1);
  const port = url.port || "5432";
  const [cpu] = (await Deno.readTextFile("/proc/stat")).split("\n");
  const n = cpu.split(/\s+/).slice(1).map(Number);
  const idle = n[3] + n[4];
  const total = n.slice(0, 8).reduce((a, b) => a + b, 0);
  const groups = new Map<string, Map<number, number>>();
  const add = (group: string, pid: number, ticks: number) => {
    if (!groups.has(group)) groups.set(group, new Map());
    groups.get(group)!.set(pid, ticks);
  };
  let reaped = 0;
  for await (const entry of Deno.readDir("/proc")) {
    const pid = Number(entry.name);
    if (!Number.isInteger(pid)) continue;
    const s = await procStat(pid);
    if (!s) continue;
    if (pid === stackPid) add("gateway (stack process)", pid, s.self);
    else if (pid === Deno.pid) add("bench (load + scripted LLM)", pid, s.self);
    else if (s.ppid === stackPid) {
      const line = await cmdline(pid);
      const fn = /function_host\.ts (\S+)/.exec(line)?.[1]?.split("/").at(-2);
      add(fn ? `fn ${fn}` : "stack children", pid, s.self);
    } else if (s.comm === "postgres") {
      const line = await cmdline(pid);
      if (s.ppid === 1 && line.includes(" -D ") && line.includes(` -p ${port}`)) {
        reaped = s.children;
      } else if (line.includes(` ${dbName} `)) add("postgres: product database", pid, s.self);
    }
  }
  return { at: performance.now(), busy: total - idle, total, groups, reaped };
}

/** CPU used between two snapshots. */
export interface CpuUse {
  wallMs: number;
  /** Machine busy time (all cores), ms. */
  busyMs: number;
  /** Busy share of all cores, 0–1. */
  utilization: number;
  /** CPU ms per group, largest first; "other" is busy time no group explains. */
  groups: { name: string; ms: number }[];
}

/** The difference of two snapshots. */
export function cpuDelta(before: CpuSnapshot, after: CpuSnapshot): CpuUse {
  const groups: { name: string; ms: number }[] = [];
  for (const [name, pids] of after.groups) {
    let ticks = 0;
    for (const [pid, value] of pids) ticks += value - (before.groups.get(name)?.get(pid) ?? 0);
    groups.push({ name, ms: ticks * TICK_MS });
  }
  groups.push({
    name: "postgres: backends that ended (shadows, admin)",
    ms: (after.reaped - before.reaped) * TICK_MS,
  });
  const busyMs = (after.busy - before.busy) * TICK_MS;
  const explained = groups.reduce((s, g) => s + g.ms, 0);
  groups.push({ name: "other (rest of the machine)", ms: Math.max(0, busyMs - explained) });
  groups.sort((a, b) => b.ms - a.ms);
  return {
    wallMs: after.at - before.at,
    busyMs,
    utilization: (after.busy - before.busy) / Math.max(1, after.total - before.total),
    groups,
  };
}
