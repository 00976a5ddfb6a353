/**
 * The bare limit of dispatch on this server: `pgmq.send` committed, then the same HTTP wake-up the
 * product uses (a POST through the local gateway, a process of its own, to a function subprocess),
 * then the woken function's `pgmq.read` and its first statement. One message at a time, so
 * nothing queues behind anything; measured with the same commit clock and the same end point
 * (`now()` of the first statement after the read) as the product's dispatch.
 *
 * @example
 * ```ts
 * const samples = await bareRoundTrips(db, 1000);
 * ```
 */
import { fileURLToPath } from "node:url";
import type { TestDatabase } from "../_support/db.ts";
import { bareSamples } from "./_probe.ts";

const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));

/**
 * Runs `count` round trips (after `warmup` unmeasured ones), `gapMs` apart (0: back to back, every
 * process stays hot; a gap lets them go idle between hand-overs, as the product's do); returns
 * their samples.
 */
export async function bareRoundTrips(
  db: TestDatabase,
  count: number,
  options: { warmup?: number; gapMs?: number } = {},
): Promise<{ ms: number; toReadMs: number | null }[]> {
  const warmup = options.warmup ?? 50;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "tests/bench/_bare_stack.ts", db.url],
    cwd: REPO_ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  while (!buffer.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error("the bare stack exited before it started");
    buffer += value;
  }
  const { functionsUrl } = JSON.parse(buffer.slice(0, buffer.indexOf("\n"))) as {
    functionsUrl: string;
  };
  const drain = (async () => {
    while (!(await reader.read()).done) { /* discard */ }
  })();

  const conn = await db.sql.reserve();
  try {
    for (let n = 0; n < warmup + count; n++) {
      if (n === warmup) {
        await db.sql`truncate bench.bare_started`;
        await db.sql`delete from bench.commit_clock where kind = 'bare'`;
      }
      await conn`begin`;
      const [{ id }] = await conn<{ id: string }[]>`
        select pgmq.send('bench_bare', ${conn.json({ n })}) as id`;
      await conn`insert into bench.bare_sent (msg_id) values (${id}::bigint)`;
      await conn`commit`;
      const res = await fetch(`${functionsUrl}/bench-bare-reader/wake`, { method: "POST" });
      await res.body?.cancel();
      if (!res.ok) throw new Error(`bare wake: HTTP ${res.status}`);
      if (options.gapMs) await new Promise((r) => setTimeout(r, options.gapMs));
    }
  } finally {
    conn.release();
    child.kill("SIGTERM");
    await child.status;
    await drain.catch(() => {});
  }
  return await bareSamples(db.sql);
}
