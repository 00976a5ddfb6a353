/**
 * The child process of `tests/integration/connection_loss_test.ts`: a pool from `connect()` under
 * steady load — plain queries, reserved sessions (held idle between queries, released in `finally`
 * the way the shadow does), transactions with pipelined statements, and a LISTEN fed by NOTIFY —
 * while the parent terminates its backends. It installs no process-level error handler on
 * purpose: a driver error that escapes a query kills it, and the parent sees that exit.
 *
 * Protocol: the database URL and application name come in `STORM_DB_URL` and `STORM_APP_NAME`.
 * It prints `{"event":"ready"}` once every kind of work has succeeded once, keeps working until a
 * line arrives on stdin, waits for everything in flight to settle, checks that every kind of work
 * succeeds again, and prints `{"event":"report", ...}` with the counts.
 */
import { connect, type Sql } from "../../shared/db/mod.ts";

/** How one kind of work ended. */
export interface KindCounts {
  started: number;
  resolved: number;
  rejected: number;
}

/** What the child prints last. */
export interface StormReport {
  event: "report";
  counts: Record<WorkKind, KindCounts>;
  /** Operations that had not settled when the settle deadline passed. */
  pending: number;
  /** The same, by what they were (e.g. `reserved: reserve()`). */
  pendingWork: Record<string, number>;
  /** Distinct error messages seen, with how often. */
  errors: Record<string, number>;
  notificationsReceived: number;
  /** Times the LISTEN was established: the first, then once per lost listening connection. */
  listensEstablished: number;
  /** Whether each kind of work (and a NOTIFY reaching the listener) succeeded after the storm. */
  after: Record<WorkKind | "listen", boolean>;
}

type WorkKind = "pool" | "reserved" | "transaction";

const KINDS: WorkKind[] = ["pool", "reserved", "transaction"];
const CHANNEL = "connection_storm";
const SETTLE_MS = 30_000;
const AFTER_MS = 45_000;

const counts = Object.fromEntries(
  KINDS.map((k) => [k, { started: 0, resolved: 0, rejected: 0 }]),
) as Record<WorkKind, KindCounts>;
const errors: Record<string, number> = {};
const inFlight = new Map<Promise<unknown>, string>();
let notificationsReceived = 0;
let stopping = false;
let listensEstablished = 0;

function emit(line: { event: string }): void {
  console.log(JSON.stringify(line));
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function errorKey(e: unknown): string {
  if (e instanceof Error) {
    const code = (e as { code?: unknown }).code;
    return `${e.name}${typeof code === "string" ? ` ${code}` : ""}: ${e.message}`;
  }
  return `non-error: ${String(e)}`;
}

/** Counts how `work` settles; never lets it reject unobserved. */
function track<T>(kind: WorkKind, what: string, work: PromiseLike<T>): Promise<T | undefined> {
  counts[kind].started++;
  const settled = Promise.resolve(work).then(
    (value) => {
      counts[kind].resolved++;
      return value;
    },
    (e: unknown) => {
      counts[kind].rejected++;
      const key = errorKey(e);
      errors[key] = (errors[key] ?? 0) + 1;
      return undefined;
    },
  );
  inFlight.set(settled, `${kind}: ${what}`);
  void settled.finally(() => inFlight.delete(settled));
  return settled;
}

async function poolLoop(sql: Sql): Promise<void> {
  while (!stopping) {
    await track("pool", "query", sql`select pg_sleep(${Math.random() * 0.02}), 1 as one`);
  }
}

async function reservedLoop(sql: Sql): Promise<void> {
  while (!stopping) {
    const reserved = await track("reserved", "reserve()", sql.reserve());
    if (!reserved) {
      await sleep(10);
      continue;
    }
    try {
      for (let i = 0; i < 3 && !stopping; i++) {
        // Idle between statements, like a shadow session waiting for the next migration.
        await sleep(Math.random() * 40);
        await track("reserved", "query", reserved`select pg_backend_pid() as pid`);
      }
    } finally {
      reserved.release();
    }
  }
}

async function transactionLoop(sql: Sql): Promise<void> {
  while (!stopping) {
    await track(
      "transaction",
      "begin()",
      sql.begin(async (tx) => {
        await tx`select 1`;
        // Pipelined statements queue inside the transaction while one is in flight.
        await Promise.all([tx`select pg_sleep(0.005)`, tx`select 2`, tx`select 3`]);
        await tx`select 4`;
      }),
    );
  }
}

async function notifyLoop(sql: Sql): Promise<void> {
  while (!stopping) {
    await track("pool", "notify", sql`select pg_notify(${CHANNEL}, 'tick')`);
    await sleep(20);
  }
}

async function withDeadline<T>(ms: number, work: () => Promise<T>): Promise<T | undefined> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
  });
  try {
    return await Promise.race([work(), deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** Retries `check` until it succeeds or `ms` pass: reconnecting after a storm takes a while. */
async function succeedsWithin(ms: number, check: () => Promise<boolean>): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const ok = await withDeadline(end - Date.now(), async () => {
      try {
        return await check();
      } catch {
        return false;
      }
    });
    if (ok) return true;
    await sleep(100);
  }
  return false;
}

async function afterStorm(sql: Sql): Promise<StormReport["after"]> {
  const pool = await succeedsWithin(AFTER_MS, async () => {
    const [row] = await sql<{ n: number }[]>`select 42 as n`;
    return row.n === 42;
  });
  const reserved = await succeedsWithin(AFTER_MS, async () => {
    const r = await sql.reserve();
    try {
      const [row] = await r<{ n: number }[]>`select 7 as n`;
      return row.n === 7;
    } finally {
      r.release();
    }
  });
  const transaction = await succeedsWithin(AFTER_MS, async () => {
    const n = await sql.begin(async (tx) => {
      const [row] = await tx<{ n: number }[]>`select 9 as n`;
      return row.n;
    });
    return n === 9;
  });
  const before = notificationsReceived;
  const listen = await succeedsWithin(AFTER_MS, async () => {
    await sql`select pg_notify(${CHANNEL}, 'after')`;
    await sleep(200);
    return notificationsReceived > before;
  });
  return { pool, reserved, transaction, listen };
}

async function waitForStopLine(): Promise<void> {
  const reader = Deno.stdin.readable.getReader();
  try {
    await reader.read();
  } finally {
    reader.releaseLock();
  }
}

async function main(): Promise<void> {
  const url = Deno.env.get("STORM_DB_URL");
  const applicationName = Deno.env.get("STORM_APP_NAME");
  if (!url || !applicationName) throw new Error("STORM_DB_URL and STORM_APP_NAME are required");
  const sql = connect(url, { max: 6, applicationName, idleTimeout: 5 });

  await sql.listen(CHANNEL, () => {
    notificationsReceived++;
  }, () => {
    listensEstablished++;
  });
  await sql`select 1`;
  const warm = await sql.reserve();
  await warm`select 1`;
  warm.release();
  await sql.begin((tx) => tx`select 1`);
  emit({ event: "ready" });

  const loops = [
    ...Array.from({ length: 4 }, () => poolLoop(sql)),
    ...Array.from({ length: 3 }, () => reservedLoop(sql)),
    ...Array.from({ length: 3 }, () => transactionLoop(sql)),
    notifyLoop(sql),
  ];
  await waitForStopLine();
  stopping = true;

  // A loop waits on one tracked operation at a time, so loops end once their work settles.
  await withDeadline(SETTLE_MS, () => Promise.all(loops));
  const pending = inFlight.size;
  const pendingWork: Record<string, number> = {};
  for (const what of inFlight.values()) pendingWork[what] = (pendingWork[what] ?? 0) + 1;
  const after = await afterStorm(sql);
  const report: StormReport = {
    event: "report",
    counts,
    pending,
    pendingWork,
    errors,
    notificationsReceived,
    listensEstablished,
    after,
  };
  emit(report);
  await sql.end({ timeout: 5 });
}

if (import.meta.main) {
  await main();
  // Anything the driver left scheduled must not keep the child alive after its report.
  Deno.exit(0);
}
