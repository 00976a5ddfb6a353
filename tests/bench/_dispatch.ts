/**
 * Dispatch latency of the product: runs of 30 independent documentation-only tasks (so no shadow
 * validation competes for the CPU), a few at a time; every task's hand-over from the commit that
 * queued it to its worker's first statement is one sample (see `_probe.ts` for what exactly is
 * measured). With `max_parallel` 4, a run's first four tasks are queued by the plan's commit and
 * each later one by the commit completing an earlier one, the path every dependent task takes.
 *
 * @example
 * ```ts
 * const samples = await productDispatch(product, user.token, plan, { runs: 34, inFlight: 2 });
 * ```
 */
import type { BenchPlan } from "../fixtures/bench/mod.ts";
import { functionOf, queueOf, type WorkerName } from "../../shared/dispatch/mod.ts";
import { type BenchProduct, TASK_LEASE_SECONDS } from "./_product.ts";
import { type DispatchSample, dispatchSamples } from "./_probe.ts";

/** Runs `runs` runs of `plan`, `inFlight` at a time; returns every clean dispatch sample. */
export async function productDispatch(
  product: BenchProduct,
  tokens: readonly string[],
  plan: BenchPlan,
  options: { runs: number; inFlight: number },
): Promise<{ samples: DispatchSample[]; runIds: string[]; wallMs: number }> {
  const runIds: string[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(Array.from({ length: options.inFlight }, async (_, slot) => {
    while (next < options.runs) {
      next++;
      runIds.push(await product.runToEnd(tokens[slot % tokens.length], plan.request));
    }
  }));
  const wallMs = performance.now() - started;
  return {
    samples: await dispatchSamples(product.db.sql, runIds, TASK_LEASE_SECONDS),
    runIds,
    wallMs,
  };
}

/**
 * The product's receiving half of a hand-over, with this process as the sender: a message for a
 * task that does not exist is committed to an agent's queue (commit clock), the agent's worker
 * function is woken through the product's gateway exactly as a worker wakes another, and the
 * worker's read is recovered from the lease it took. The worker's `start_attempt` finds no such
 * task and leaves the message alone; the messages are deleted afterwards. Compared with the bare
 * round trip (same sender, a minimal function behind a gateway without Realtime) and with the
 * product's own hand-overs, it says which half of the path the time is spent in.
 */
export async function productWakePath(
  product: BenchProduct,
  agent: WorkerName,
  count: number,
): Promise<number[]> {
  const sql = product.db.sql;
  const queue = queueOf(agent);
  const ids: string[] = [];
  const conn = await sql.reserve();
  try {
    for (let n = 0; n < count; n++) {
      await conn`begin`;
      const [{ id }] = await conn<{ id: string }[]>`
        select pgmq.send(${queue}, jsonb_build_object(
          'task_id', gen_random_uuid(), 'run_id', gen_random_uuid())) as id`;
      await conn`insert into bench.bare_sent (kind, msg_id) values ('wake-path', ${id}::bigint)`;
      await conn`commit`;
      ids.push(id);
      const res = await fetch(`${product.functionsUrl}/${functionOf(agent)}/wake`, {
        method: "POST",
        headers: { apikey: product.workerSecret, authorization: `Bearer ${product.workerSecret}` },
      });
      await res.body?.cancel();
      // Let the worker finish with it (start_attempt included) before the next one.
      await new Promise((r) => setTimeout(r, 15));
    }
  } finally {
    conn.release();
  }
  const rows = await sql.unsafe<{ ms: number }[]>(
    `select extract(epoch from (q.vt - make_interval(secs => ${TASK_LEASE_SECONDS}))
                               - c.committed_at) * 1000 as ms
       from bench.commit_clock c
       join pgmq.q_${queue} q on q.msg_id = c.key::bigint
      where c.kind = 'wake-path' and q.read_ct = 1`,
  );
  await sql`select pgmq.delete(${queue}, ${ids}::bigint[])`;
  await sql`delete from bench.commit_clock where kind = 'wake-path'`;
  return rows.map((r) => Number(r.ms));
}
