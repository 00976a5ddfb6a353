/**
 * Attack suite, two tenants at once (issue 12 acceptance): one process, one PostgreSQL shadow
 * (`createPostgresShadow`, shared as a real function shares it), two tenants validating through
 * `validateMigrations`. The attacker spies on `pg_stat_activity`, terminates and cancels other
 * backends, poisons role settings, pads a file with statements and fills the disk; meanwhile the
 * victim validates an ordinary migration (a table with RLS and a policy per operation, from the
 * validator corpus) again and again. The victim's result equals its result alone, its SQL appears
 * in nothing the attacker can read, the process sees no unhandled rejection, the attacker's
 * validations end with findings within their limits, and later validations are normal.
 */
import assert from "node:assert/strict";
import { connect, type Sql } from "../../shared/db/mod.ts";
import { createPostgresShadow, type ShadowDatabase } from "../../shared/shadow/mod.ts";
import {
  validateMigrations,
  type ValidateOptions,
  type ValidationReport,
} from "../../shared/validation/mod.ts";
import { shadowAdminUrl } from "../_support/db.ts";
import { eventually, newMarker, rulesOf, verdict, victimMigration } from "./_attacks.ts";

const MAX_DATABASE_BYTES = 64 * 1024 * 1024;
/** The attacker's total limit where time is what the attack reaches for. */
const TOTAL_MS = 3000;
/** What finishing "within the total limit" may take beyond it: the watchdog's grace, a close. */
const GRACE_MS = 2000;

type Verdict = ReturnType<typeof verdict>;

interface Tenants {
  shadow: ShadowDatabase;
  /** Superuser pool on the shadow server, for looking from outside. */
  observer: Sql;
  marker: string;
  /** The victim's result when it validated alone, before any attack. */
  alone: Verdict;
  victim(): Promise<ValidationReport>;
  attacker(sql: string, options?: Partial<ValidateOptions>): Promise<Attack>;
}

interface Attack {
  report: ValidationReport;
  ms: number;
}

/**
 * A fresh shared shadow, the victim's result alone, and a guard that fails the test on any
 * unhandled rejection (a dead backend must fail one validation, never the process).
 */
async function withTenants(fn: (t: Tenants) => Promise<void>): Promise<void> {
  const rejections: unknown[] = [];
  const onRejection = (e: PromiseRejectionEvent) => {
    rejections.push(e.reason);
    e.preventDefault();
  };
  globalThis.addEventListener("unhandledrejection", onRejection);
  const url = await shadowAdminUrl();
  const shadow = await createPostgresShadow({
    adminUrl: url,
    maxDatabaseBytes: MAX_DATABASE_BYTES,
  });
  const observer = connect(url, { max: 2, applicationName: "attack suite observer" });
  const marker = newMarker("v");
  const sql = await victimMigration(marker);
  const victim = () =>
    validateMigrations({ shadow, files: [{ name: "20250101000000_todos.sql", sql }] });
  const attacker = async (text: string, options: Partial<ValidateOptions> = {}) => {
    const started = performance.now();
    const report = await validateMigrations({
      shadow,
      files: [{ name: "20250101000000_hostile.sql", sql: text }],
      ...options,
    });
    return { report, ms: performance.now() - started };
  };
  try {
    const alone = verdict(await victim());
    assert.equal(alone.ok, true, `the victim alone: ${JSON.stringify(alone.findings)}`);
    await fn({ shadow, observer, marker, alone, victim, attacker });
    // Later validations are normal.
    for (let i = 0; i < 2; i++) {
      assert.deepEqual(verdict(await victim()), alone, `a later validation (${i + 1})`);
    }
    const plain = await validateMigrations({ shadow, files: [{ name: "a.sql", sql: "select 1" }] });
    assert.deepEqual(verdict(plain), { ok: true, findings: [] }, "a later plain validation");
  } finally {
    await observer.end({ timeout: 2 });
    await shadow.close();
    globalThis.removeEventListener("unhandledrejection", onRejection);
  }
  assert.deepEqual(rejections.map(String), [], "unhandled rejections in the process");
}

/**
 * Runs the victim's validation over and over while `attack` runs (at least `minRuns` times),
 * then checks every one of its results equals its result alone.
 */
async function whileVictimValidates<T>(
  t: Tenants,
  attack: () => Promise<T>,
  minRuns = 2,
): Promise<T> {
  let attacking = true;
  const runs: Verdict[] = [];
  const loop = (async () => {
    while (attacking || runs.length < minRuns) runs.push(verdict(await t.victim()));
  })();
  try {
    return await attack();
  } finally {
    attacking = false;
    await loop;
    runs.forEach((run, i) =>
      assert.deepEqual(run, t.alone, `the victim's validation ${i + 1} of ${runs.length}`)
    );
  }
}

/** Fails when any report the attacker got back quotes the victim's SQL. */
function assertUnseen(t: Tenants, reports: ValidationReport[]): void {
  const text = JSON.stringify(reports);
  assert.ok(!text.includes(t.marker), `the attacker read the victim's SQL: ${text.slice(0, 2000)}`);
}

/** The message of the attacker's DO block's final `raise exception`. */
function raised(report: ValidationReport, prefix: string): string {
  const error = report.findings.find((f) => f.rule === "apply_error" && f.message.includes(prefix));
  assert.ok(error, `no ${prefix} in ${JSON.stringify(report.findings)}`);
  return error.message;
}

/** Counts rows of `pg_stat_activity` quoting the marker, as the server's superuser sees them. */
function watchForMarker(t: Tenants): { stop(): Promise<number> } {
  let on = true;
  let seen = 0;
  const loop = (async () => {
    while (on) {
      const [row] = await t.observer<{ n: number }[]>`
        select count(*)::int as n from pg_stat_activity where query like ${`%${t.marker}%`}`;
      seen += row.n;
      await new Promise((r) => setTimeout(r, 10));
    }
  })();
  return {
    async stop() {
      on = false;
      await loop;
      return seen;
    },
  };
}

/** Reads every other backend's query text it may, for `seconds`; raises what it saw. */
const spy = (seconds: number, resetRole: boolean) => `
do $$
declare
  seen text := '';
  r record;
  until timestamptz := clock_timestamp() + interval '${seconds} seconds';
begin
  ${resetRole ? "execute 'reset role';" : ""}
  while clock_timestamp() < until loop
    perform pg_stat_clear_snapshot();
    for r in
      select pid, query from pg_stat_activity
      where pid <> pg_backend_pid() and coalesce(query, '') not in ('', '<insufficient privilege>')
    loop
      if length(seen) < 20000 then seen := seen || r.pid || ': ' || left(r.query, 300) || E'\\n'; end if;
    end loop;
    perform pg_sleep(0.01);
  end loop;
  raise exception 'seen[%]', seen;
end
$$`;

/** Terminates and cancels every other backend it can, for `seconds`; raises the counts. */
const killer = (seconds: number, resetRole: boolean) => `
do $$
declare
  r record;
  signalled int := 0;
  refused int := 0;
  until timestamptz := clock_timestamp() + interval '${seconds} seconds';
begin
  ${resetRole ? "execute 'reset role';" : ""}
  while clock_timestamp() < until loop
    perform pg_stat_clear_snapshot();
    for r in select pid from pg_stat_activity where pid <> pg_backend_pid() loop
      begin
        if pg_cancel_backend(r.pid) then signalled := signalled + 1; end if;
      exception when others then refused := refused + 1;
      end;
      begin
        if pg_terminate_backend(r.pid) then signalled := signalled + 1; end if;
      exception when others then refused := refused + 1;
      end;
    end loop;
    perform pg_sleep(0.01);
  end loop;
  raise exception 'signalled=% refused=%', signalled, refused;
end
$$`;

const POISON = [
  "alter role current_user set default_transaction_read_only = on",
  "alter role current_user set statement_timeout = 1",
  "alter role current_user set search_path = nowhere",
  "alter role bt_shadow_owner password 'pwned'",
  "alter role bt_shadow_owner login",
  "alter role authenticated set default_transaction_read_only = on",
  "alter role anon set statement_timeout = 1",
  "alter role service_role set search_path = nowhere",
  "reset role",
  "alter role session_user set default_transaction_read_only = on",
  "alter role session_user set statement_timeout = 1",
  "alter role session_user password 'pwned'",
];

/** Every poisoning statement, each allowed to fail on its own, committed together. */
const poison = `do $$ begin ${
  POISON.map((s) =>
    `begin execute '${s.replaceAll("'", "''")}'; exception when others then null; end;`
  ).join("\n")
} end $$`;

const FILL = "create table public.fill as " +
  "select repeat('x', 1000) as pad from generate_series(1, 1000000)";

Deno.test("postgres: a tenant spying on pg_stat_activity reads nothing of a tenant validating at the same time", async () => {
  await withTenants(async (t) => {
    const watch = watchForMarker(t);
    const spies = await whileVictimValidates(
      t,
      () => Promise.all([t.attacker(spy(2.5, false)), t.attacker(spy(2.5, true))]),
      3,
    );
    const visible = await watch.stop();
    assert.ok(visible > 0, "control: the victim's SQL was in pg_stat_activity while spied on");
    assertUnseen(t, spies.map((s) => s.report));
    for (const { report } of spies) assert.match(raised(report, "seen["), /seen\[\]/);
  });
});

Deno.test("postgres: a tenant terminating and cancelling every backend it sees stops none, and the process lives", async () => {
  await withTenants(async (t) => {
    const attacks = await whileVictimValidates(
      t,
      () =>
        Promise.all([
          t.attacker(killer(2.5, false)),
          t.attacker(killer(2.5, true)),
          t.attacker(
            "select pg_terminate_backend(pid) from pg_stat_activity where pid <> pg_backend_pid()",
          ),
        ]),
      3,
    );
    for (const { report } of attacks.slice(0, 2)) {
      const message = raised(report, "signalled=");
      assert.match(message, /signalled=0 /, message);
      assert.doesNotMatch(message, /refused=0\b/, `control: it found backends to try: ${message}`);
    }
    assert.ok(rulesOf(attacks[2].report).includes("unsafe_statement"), "the filter's warning");
    assertUnseen(t, attacks.map((a) => a.report));
  });
});

Deno.test("postgres: a tenant poisoning role settings changes nothing for the other tenant, then or later", async () => {
  await withTenants(async (t) => {
    const attacks = await whileVictimValidates(t, async () => {
      const out: Attack[] = [];
      for (let i = 0; i < 3; i++) out.push(await t.attacker(poison));
      return out;
    });
    assertUnseen(t, attacks.map((a) => a.report));
    // Sessions logged in after the poisoning (spares included) behave as before.
    for (let i = 0; i < 4; i++) {
      await using session = await t.shadow.open();
      const [row] = await session.query<{ ro: string; timeout: string }>(
        "select current_setting('default_transaction_read_only') as ro, " +
          "current_setting('statement_timeout') as timeout",
      );
      assert.deepEqual(row, { ro: "off", timeout: "5s" }, `session ${i + 1} after the poisoning`);
    }
  });
});

Deno.test("postgres: a file padded with tens of thousands of statements ends with resource_limit within the total limit", async () => {
  await withTenants(async (t) => {
    const attacks = await whileVictimValidates(
      t,
      // One after the other, so each one's time is its own.
      async () => [
        // Short sleeps, each far under the statement timeout, under the statement cap.
        await t.attacker("select pg_sleep(0.01);\n".repeat(1_500), {
          limits: { totalMs: TOTAL_MS },
        }),
        await t.attacker("select 1;\n".repeat(20_000) + "select pg_sleep(30);", {
          limits: { totalMs: TOTAL_MS },
        }),
      ],
    );
    assertUnseen(t, attacks.map((a) => a.report));
    const wrong: string[] = [];
    for (const [i, { report, ms }] of attacks.entries()) {
      const what = ["1,500 short sleeps", "20,000 × select 1, then a long sleep"][i];
      if (!rulesOf(report).includes("resource_limit")) {
        wrong.push(`${what}: no resource_limit in ${JSON.stringify(report.findings)}`);
      }
      if (ms >= TOTAL_MS + GRACE_MS) {
        wrong.push(`${what}: took ${Math.round(ms)} ms (total limit ${TOTAL_MS} ms)`);
      }
    }
    assert.deepEqual(wrong, []);
  });
});

Deno.test("postgres: a tenant filling the disk ends with resource_limit and its database dropped, the other tenant unharmed", async () => {
  await withTenants(async (t) => {
    const big = new Set<string>();
    let watching = true;
    const watch = (async () => {
      while (watching) {
        const rows = await t.observer<{ datname: string }[]>`
          select datname from pg_database
          where datname ~ '^bt_shadow_[0-9]+_[0-9a-f]+$'
            and pg_database_size(oid) > ${MAX_DATABASE_BYTES / 2}`;
        for (const r of rows) big.add(r.datname);
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    const fill = await whileVictimValidates(t, () => t.attacker(FILL));
    watching = false;
    await watch;
    assert.ok(rulesOf(fill.report).includes("resource_limit"), JSON.stringify(fill.report));
    assert.ok(big.size > 0, "control: the attacker's database grew past half the cap");
    const gone = await eventually(async () => {
      const left = await t.observer`
        select datname from pg_database where datname = any(${[...big]})`;
      return left.length === 0;
    });
    assert.ok(gone, `the filled database outlived its validation: ${[...big]}`);
    assertUnseen(t, [fill.report]);
  });
});

Deno.test("postgres: all attacks at once leave the victim's validations unchanged, unseen, and the process alive", async () => {
  await withTenants(async (t) => {
    const attacks = await whileVictimValidates(
      t,
      () =>
        Promise.all([
          t.attacker(spy(2, true)),
          t.attacker(killer(2, true)),
          t.attacker(poison),
          t.attacker("select pg_sleep(0.01);\n".repeat(1_500), { limits: { totalMs: TOTAL_MS } }),
          t.attacker(FILL),
        ]),
      3,
    );
    const [spied, killed, , padded, filled] = attacks;
    assert.match(raised(spied.report, "seen["), /seen\[\]/);
    assert.match(raised(killed.report, "signalled="), /signalled=0 /);
    assert.ok(rulesOf(padded.report).includes("resource_limit"), JSON.stringify(padded.report));
    assert.ok(padded.ms < TOTAL_MS + GRACE_MS, `padded: ${Math.round(padded.ms)} ms`);
    assert.ok(rulesOf(filled.report).includes("resource_limit"), JSON.stringify(filled.report));
    assertUnseen(t, attacks.map((a) => a.report));
  });
});
