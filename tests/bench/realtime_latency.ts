/**
 * Broadcast-from-Database latency on the local stack: how long from a transaction's COMMIT to the
 * supabase-js callback of a subscriber on a private, RLS-authorized topic. Each of 1,000 events is
 * sent in its own transaction, one after the other (so no event waits behind another), and timed
 * twice: from the moment COMMIT is sent, and from the moment the committing client has its answer
 * (a NOTIFY may overtake that answer, so the second figure can be below zero). Then a burst of
 * 1,000 events committed in one transaction measures throughput. Both serializer versions.
 *
 * Run: `deno run -A tests/bench/realtime_latency.ts [events]`
 */
import { createClient } from "@supabase/supabase-js";
import { mintUserToken } from "../../shared/auth/mod.ts";
import { startLocalStack } from "../../supabase/local/stack.ts";
import { freshDatabase } from "../_support/db.ts";

const EVENTS = Number(Deno.args[0] ?? 1000);

function percentile(sorted: number[], p: number): number {
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

function summary(label: string, samples: number[]): string {
  const s = [...samples].sort((a, b) => a - b);
  const mean = s.reduce((a, b) => a + b, 0) / s.length;
  const f = (n: number) => n.toFixed(2).padStart(7);
  return `${label.padEnd(34)} p50 ${f(percentile(s, 50))} ms  p99 ${f(percentile(s, 99))} ms  ` +
    `mean ${f(mean)} ms  max ${f(s[s.length - 1])} ms  (n=${s.length})`;
}

const db = await freshDatabase();
await db.sql.unsafe(`
  create table public.bench_topics (topic text primary key, owner uuid not null);
  alter table public.bench_topics enable row level security;
  grant select on public.bench_topics to authenticated;
  create policy "own topics" on public.bench_topics for select to authenticated
    using (owner = (select auth.uid()));
  create policy "owners receive" on realtime.messages for select to authenticated
    using (exists (select 1 from public.bench_topics t where t.topic = (select realtime.topic())));
`);
const owner = crypto.randomUUID();
const topic = `bench:${crypto.randomUUID()}`;
await db.sql`insert into public.bench_topics values (${topic}, ${owner})`;

const stack = await startLocalStack({
  port: 0,
  databaseUrl: db.url,
  migrate: false,
  functions: [],
});
const token = await mintUserToken(stack.jwtSecret, { sub: owner });
console.log(`Realtime latency, local stack at ${stack.apiUrl}, ${EVENTS} events per run\n`);

try {
  for (const vsn of ["2.0.0", "1.0.0"]) {
    const supabase = createClient(stack.apiUrl, stack.anonKey, {
      accessToken: () => Promise.resolve(token),
      realtime: { vsn },
    });
    await supabase.realtime.setAuth();
    let arrived: (() => void) | undefined;
    let received = 0;
    const channel = supabase.channel(topic, { config: { private: true } })
      .on("broadcast", { event: "tick" }, () => {
        received++;
        arrived?.();
      });
    await new Promise<void>((resolve, reject) =>
      channel.subscribe((status, err) => {
        if (status === "SUBSCRIBED") resolve();
        else if (err) reject(err);
      })
    );

    const fromCommitSent: number[] = [];
    const fromCommitAck: number[] = [];
    const conn = await db.sql.reserve();
    try {
      for (let n = 0; n < EVENTS; n++) {
        const delivered = new Promise<number>((resolve) => {
          arrived = () => resolve(performance.now());
        });
        await conn`begin`;
        await conn`select realtime.send(${conn.json({ n })}, 'tick', ${topic}, true)`;
        const sent = performance.now();
        await conn`commit`;
        const acked = performance.now();
        const at = await delivered;
        fromCommitSent.push(at - sent);
        fromCommitAck.push(at - acked);
      }

      received = 0;
      const burstDone = new Promise<number>((resolve) => {
        arrived = () => {
          if (received === EVENTS) resolve(performance.now());
        };
      });
      await conn`begin`;
      await conn`select realtime.send(jsonb_build_object('n', g), 'tick', ${topic}, true)
                   from generate_series(1, ${EVENTS}) g`;
      const burstStart = performance.now();
      await conn`commit`;
      const burstMs = (await burstDone) - burstStart;

      console.log(`vsn ${vsn}`);
      console.log("  " + summary("COMMIT sent -> callback", fromCommitSent));
      console.log("  " + summary("COMMIT acknowledged -> callback", fromCommitAck));
      console.log(
        `  burst of ${EVENTS} in one transaction: last callback ${burstMs.toFixed(1)} ms after ` +
          `COMMIT sent (${Math.round(EVENTS / (burstMs / 1000))} events/s)\n`,
      );
    } finally {
      conn.release();
      await supabase.removeAllChannels();
    }
  }
} finally {
  await stack.stop();
  await db.close();
}
// realtime-js leaves a disconnect timer behind; nothing else is pending.
Deno.exit(0);
