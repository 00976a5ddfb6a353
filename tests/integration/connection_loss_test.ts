/**
 * A terminated backend fails the queries on it, never the process. A child process
 * (`tests/_support/connection_storm_child.ts`) keeps a pool from `connect()` busy with plain
 * queries, reserved sessions, transactions and a LISTEN while this test calls
 * `pg_terminate_backend` on its backends, found by application name, for a few seconds. The child
 * must stay alive, every query it started must settle, and every kind of work must succeed again
 * once the storm is over. Two deterministic cases pin down the paths the storm hits by chance: a
 * reserved session and a transaction whose backend dies under them.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { connect, type Sql } from "../../shared/db/mod.ts";
import { freshDatabase } from "../_support/db.ts";
import type { StormReport } from "../_support/connection_storm_child.ts";

const CHILD = fileURLToPath(new URL("../_support/connection_storm_child.ts", import.meta.url));
const CONFIG = fileURLToPath(new URL("../../deno.json", import.meta.url));
const STORM_MS = 5_000;
const READY_MS = 30_000;
const REPORT_MS = 150_000;

/** Splits a byte stream into lines and hands each to `onLine`. */
async function readLines(
  stream: ReadableStream<Uint8Array>,
  onLine: (line: string) => void,
): Promise<void> {
  let rest = "";
  for await (const text of stream.pipeThrough(new TextDecoderStream())) {
    rest += text;
    let newline: number;
    while ((newline = rest.indexOf("\n")) >= 0) {
      onLine(rest.slice(0, newline));
      rest = rest.slice(newline + 1);
    }
  }
  if (rest) onLine(rest);
}

/** Resolves when `predicate` holds, polling; rejects with `what` after `ms`. */
async function waitFor(what: string, ms: number, predicate: () => boolean): Promise<void> {
  const end = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

Deno.test("terminating backends under load fails their queries but never the process", async () => {
  await using db = await freshDatabase({ template: false });
  const applicationName = `bt-storm-${crypto.randomUUID().slice(0, 8)}`;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--config", CONFIG, CHILD],
    env: { STORM_DB_URL: db.url, STORM_APP_NAME: applicationName },
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();

  const lines: { event?: string }[] = [];
  const stderr: string[] = [];
  let exited = false;
  const reading = Promise.all([
    readLines(child.stdout, (line) => {
      try {
        lines.push(JSON.parse(line));
      } catch {
        stderr.push(`stdout: ${line}`);
      }
    }),
    readLines(child.stderr, (line) => stderr.push(line)),
  ]);
  const status = child.status.then((s) => {
    exited = true;
    return s;
  });
  const stdin = child.stdin.getWriter();

  try {
    await waitFor("the child to warm up", READY_MS, () => {
      return exited || lines.some((l) => l.event === "ready");
    });
    assert.ok(!exited, `the child ended before the storm:\n${stderr.join("\n")}`);

    let terminated = 0;
    const stormEnd = Date.now() + STORM_MS;
    while (Date.now() < stormEnd && !exited) {
      const rows = await db.sql<{ ok: boolean }[]>`
        select pg_terminate_backend(pid) as ok
        from (select pid from pg_stat_activity
              where application_name = ${applicationName} and pid <> pg_backend_pid()
              order by random() limit 1 + (random() * 3)::int) victims`;
      terminated += rows.filter((r) => r.ok).length;
      await new Promise((resolve) => setTimeout(resolve, 10 + Math.random() * 90));
    }
    assert.ok(!exited, `the child died during the storm:\n${stderr.join("\n")}`);
    assert.ok(terminated >= 20, `only ${terminated} backends were terminated`);

    await stdin.write(new TextEncoder().encode("stop\n"));
    await waitFor("the child's report", REPORT_MS, () => exited);
    const { code } = await status;
    assert.equal(code, 0, `the child exited with ${code}:\n${stderr.join("\n")}`);
    await reading;

    const report = lines.find((l): l is StormReport => l.event === "report");
    assert.ok(report, `no report from the child:\n${stderr.join("\n")}`);
    const summary = JSON.stringify(report, null, 2);
    assert.equal(report.pending, 0, `queries never settled:\n${summary}`);
    for (const [kind, c] of Object.entries(report.counts)) {
      assert.equal(c.started, c.resolved + c.rejected, `${kind} work never settled:\n${summary}`);
      assert.ok(c.resolved > 0, `no ${kind} work succeeded:\n${summary}`);
    }
    const rejected = Object.values(report.counts).reduce((n, c) => n + c.rejected, 0);
    assert.ok(rejected > 0, `the storm failed no query, so it proved nothing:\n${summary}`);
    assert.ok(
      report.listensEstablished > 1,
      `the listening connection was never lost:\n${summary}`,
    );
    assert.deepEqual(report.after, { pool: true, reserved: true, transaction: true, listen: true });
  } finally {
    await stdin.close().catch(() => {});
    if (!exited) child.kill("SIGKILL");
    await status;
    await reading.catch(() => {});
  }
});

/** Polls until `pid` no longer shows in `pg_stat_activity`. */
async function awaitGone(admin: Sql, pid: number): Promise<void> {
  const end = Date.now() + 10_000;
  while (Date.now() < end) {
    const [row] = await admin`select 1 from pg_stat_activity where pid = ${pid}`;
    if (!row) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`backend ${pid} did not end`);
}

Deno.test("a reserved session whose backend was terminated rejects its next query and the pool recovers", async () => {
  await using db = await freshDatabase({ template: false });
  const sql = connect(db.url, { max: 2, applicationName: "bt-reserved-loss" });
  try {
    const reserved = await sql.reserve();
    const [{ pid }] = await reserved<{ pid: number }[]>`select pg_backend_pid() as pid`;
    await db.sql`select pg_terminate_backend(${pid})`;
    await awaitGone(db.sql, pid);
    // Let the driver see the socket close while the session sits idle.
    await new Promise((resolve) => setTimeout(resolve, 100));
    await assert.rejects(() => reserved`select 1`);
    await assert.rejects(() => reserved`select 2`);
    reserved.release();
    const again = await sql.reserve();
    const [{ n }] = await again<{ n: number }[]>`select 3 as n`;
    again.release();
    assert.equal(n, 3);
    const [{ m }] = await sql<{ m: number }[]>`select 4 as m`;
    assert.equal(m, 4);
  } finally {
    await sql.end({ timeout: 5 });
  }
});

Deno.test("a transaction whose backend is terminated mid-statement rejects and the pool recovers", async () => {
  await using db = await freshDatabase({ template: false });
  const sql = connect(db.url, { max: 2, applicationName: "bt-transaction-loss" });
  try {
    let pid = 0;
    const tx = sql.begin(async (t) => {
      [{ pid }] = await t<{ pid: number }[]>`select pg_backend_pid() as pid`;
      await t`select pg_sleep(5)`;
    });
    await waitFor("the transaction to start", 10_000, () => pid !== 0);
    await new Promise((resolve) => setTimeout(resolve, 100));
    await db.sql`select pg_terminate_backend(${pid})`;
    await assert.rejects(() => tx);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const [{ n }] = await sql<{ n: number }[]>`select 5 as n`;
    assert.equal(n, 5);
    const k = await sql.begin(async (t) => (await t<{ k: number }[]>`select 6 as k`)[0].k);
    assert.equal(k, 6);
  } finally {
    await sql.end({ timeout: 5 });
  }
});
