/**
 * Profile of the shadow database's fixed cost, the part every agent validation and every delivery
 * pays before checking anything: a session of the PostgreSQL shadow (`shared/shadow`: a database
 * cloned from the platform template, a login role of its own, both dropped after). Beside it a
 * bare `create database` + drop (the floor of any database-per-validation design) and the same
 * prepared database cloned from a template made once (`create database … template …`). Timed by
 * wall clock and by the machine's busy CPU (10 ms ticks, summed over the repetitions).
 *
 * @example
 * ```ts
 * const cost = await shadowSetupCost(await shadowAdminUrl(), 10);
 * ```
 */
import { connect } from "../../shared/db/mod.ts";
import { createPostgresShadow } from "../../shared/shadow/mod.ts";
import { applyPlatformSql } from "../../shared/platform/mod.ts";
import { withDatabase } from "../_support/db.ts";
import { summarize, type Summary } from "./_stats.ts";

/** Wall time and CPU of one way of getting an empty shadow database. */
export interface SetupCost {
  wall: Summary;
  /** Machine busy CPU per database, ms (all processes: noise from other work included). */
  cpuMsEach: number;
}

async function busyTicks(): Promise<number> {
  const n = (await Deno.readTextFile("/proc/stat")).split("\n")[0].split(/\s+/).slice(1)
    .map(Number);
  return n.slice(0, 8).reduce((a, b) => a + b, 0) - n[3] - n[4];
}

// Interleaved (A B C A B C …) so drift in the machine's load hits every way alike.
async function measureInterleaved(
  count: number,
  ways: (() => Promise<void>)[],
): Promise<SetupCost[]> {
  for (const once of ways) await once(); // warm
  const samples = ways.map(() => [] as number[]);
  const cpu = ways.map(() => 0);
  for (let i = 0; i < count; i++) {
    for (const [w, once] of ways.entries()) {
      const busy = await busyTicks();
      const started = performance.now();
      await once();
      samples[w].push(performance.now() - started);
      cpu[w] += (await busyTicks()) - busy;
    }
  }
  return ways.map((_, w) => ({
    wall: summarize(samples[w]),
    cpuMsEach: Math.round((cpu[w] * 10) / count),
  }));
}

/**
 * Measures today's shadow set-up, a bare `create database` + drop, and the template clone,
 * `count` times each, interleaved.
 */
export async function shadowSetupCost(
  clusterUrl: string,
  count: number,
): Promise<{ current: SetupCost; createOnly: SetupCost; fromTemplate: SetupCost }> {
  const adminUrl = withDatabase(clusterUrl, "postgres");
  const shadow = await createPostgresShadow({ adminUrl, spare: false });
  const template = `bench_shadow_tpl_${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`;
  const admin = connect(adminUrl, { max: 1, applicationName: "bench shadow template" });
  const cloneAndDrop = (from: string | null) => async () => {
    const name = `bench_shadow_${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`;
    await admin.unsafe(`create database ${name}${from ? ` template ${from}` : ""}`);
    const db = connect(withDatabase(adminUrl, name), { max: 1 });
    try {
      await db`select 1`;
    } finally {
      await db.end();
    }
    await admin.unsafe(`drop database if exists ${name} with (force)`);
  };
  try {
    await admin.unsafe(`create database ${template}`);
    const tpl = connect(withDatabase(adminUrl, template), { max: 1 });
    try {
      await applyPlatformSql(tpl);
      await tpl.unsafe("create extension if not exists pgtap with schema extensions");
    } finally {
      await tpl.end();
    }
    const [current, createOnly, fromTemplate] = await measureInterleaved(count, [
      async () => {
        const session = await shadow.open();
        await session.close();
      },
      cloneAndDrop(null),
      cloneAndDrop(template),
    ]);
    return { current, createOnly, fromTemplate };
  } finally {
    await admin.unsafe(`drop database if exists ${template} with (force)`);
    await admin.end();
    await shadow.close();
  }
}
