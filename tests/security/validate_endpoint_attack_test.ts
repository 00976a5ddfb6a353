/**
 * Attack suite, `POST /functions/v1/validate` as an ordinary signed-in user reaches it: the real
 * `validate` function started by the local functions gateway (`verify_jwt`, the deployed
 * entrypoint, its own process and environment), a product database for its per-user limits, and
 * both shadows — `shadow: "postgres"` on the shadow server of its own, `shadow: "pglite"`. Over
 * HTTP: `COPY … PROGRAM` hidden in a DO block, `EXECUTE` or a trigger function is refused and runs
 * nothing on the host; padded bodies end within the total limit (`BT_VALIDATION_TOTAL_MS`) with
 * `resource_limit`; and no answer carries a server path, host or port — not even when the SQL
 * itself goes looking for them.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { tmpdir } from "node:os";
import { apiKeys, LOCAL_JWT_SECRET, mintUserToken } from "../../shared/auth/mod.ts";
import { ValidationReport } from "../../shared/validation/mod.ts";
import { createFunctionsGateway } from "../../supabase/local/functions_gateway.ts";
import { adminUrl, freshDatabase, shadowAdminUrl } from "../_support/db.ts";
import { hostTarget, rulesOf, SERVER_ATTACKS, sqlstateOf, wrap } from "./_attacks.ts";

const TOTAL_MS = 3000;
/** Beyond the total limit: the watchdog's grace, closing the session, HTTP. */
const GRACE_MS = 2500;
const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));
const COPY_PROGRAM = SERVER_ATTACKS.find((a) => a.name === "COPY … TO PROGRAM")!;
const COPY_FROM_PROGRAM = SERVER_ATTACKS.find((a) => a.name === "COPY … FROM PROGRAM")!;

interface Answer {
  status: number;
  text: string;
  ms: number;
}

interface Endpoint {
  /** Posts as the attacker (default) or as another signed-in user. */
  post(body: unknown, timeoutMs?: number, as?: "attacker" | "other"): Promise<Answer>;
  /** Every answer body so far, for the leak check. */
  readonly answers: string[];
}

/** The gateway and the real function, as the local stack runs them, for one test. */
async function withEndpoint(fn: (endpoint: Endpoint) => Promise<void>): Promise<void> {
  const keys = await apiKeys(LOCAL_JWT_SECRET);
  await using product = await freshDatabase();
  const logs: string[] = [];
  const route: { gateway?: ReturnType<typeof createFunctionsGateway> } = {};
  const server = Deno.serve(
    { port: 0, hostname: "127.0.0.1", onListen() {} },
    (req) => route.gateway!.fetch(req),
  );
  const url = `http://127.0.0.1:${server.addr.port}`;
  const gateway = route.gateway = createFunctionsGateway({
    jwtSecret: LOCAL_JWT_SECRET,
    env: {
      SUPABASE_URL: url,
      SUPABASE_ANON_KEY: keys.anon,
      SUPABASE_SERVICE_ROLE_KEY: keys.serviceRole,
      SUPABASE_DB_URL: product.url,
      SHADOW_DATABASE_URL: await shadowAdminUrl(),
      BT_VALIDATION_TOTAL_MS: String(TOTAL_MS),
      BT_SHADOW_MAX_DATABASE_MB: "64",
    },
    bootTimeoutMs: 120_000,
    log: (line) => logs.push(line),
  });
  const tokens = {
    attacker: await mintUserToken(LOCAL_JWT_SECRET, { sub: crypto.randomUUID() }),
    other: await mintUserToken(LOCAL_JWT_SECRET, { sub: crypto.randomUUID() }),
  };
  const answers: string[] = [];
  try {
    await fn({
      answers,
      async post(body, timeoutMs = 60_000, as = "attacker") {
        const started = performance.now();
        const response = await fetch(`${url}/functions/v1/validate`, {
          method: "POST",
          headers: {
            authorization: `Bearer ${tokens[as]}`,
            apikey: keys.anon,
            "content-type": "application/json",
          },
          body: JSON.stringify(body),
          signal: AbortSignal.timeout(timeoutMs),
        });
        const text = await response.text();
        answers.push(text);
        return { status: response.status, text, ms: performance.now() - started };
      },
    });
  } catch (e) {
    throw new Error(
      `${(e as Error).message}\n--- function log ---\n${logs.slice(-40).join("\n")}`,
      {
        cause: e,
      },
    );
  } finally {
    await gateway.close();
    await server.shutdown();
  }
}

function reportOf(answer: Answer): ValidationReport {
  assert.equal(answer.status, 200, answer.text.slice(0, 1000));
  return ValidationReport.parse(JSON.parse(answer.text));
}

/** Text no answer may hold: where the servers are, where files live. */
async function internals(): Promise<RegExp[]> {
  const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const out: RegExp[] = [
    /localhost/,
    /postgres(ql)?:\/\//,
    /file:\/\//,
    /\.ts:\d+/,
    /\bat [^\s]+ \(/, // a stack frame
    /ECONNREFUSED|CONNECTION_(CLOSED|ENDED|DESTROYED)/,
    new RegExp(escape(REPO_ROOT.replace(/\/$/, ""))),
    new RegExp(escape(`${tmpdir()}/backend-team`)),
    /\/pglite\/data/,
  ];
  for (const url of [await shadowAdminUrl(), await adminUrl()]) {
    const u = new URL(url);
    out.push(new RegExp(`(^|[^0-9])${escape(u.hostname)}([^0-9]|$)`));
    out.push(new RegExp(`(^|[^0-9])${escape(u.port)}([^0-9]|$)`));
  }
  return out;
}

async function assertNothingInternal(answers: string[], what: string): Promise<void> {
  for (const pattern of await internals()) {
    for (const text of answers) {
      assert.doesNotMatch(text, pattern, `${what} leaks ${pattern}: ${text.slice(0, 1500)}`);
    }
  }
}

for (const shadow of ["postgres", "pglite"] as const) {
  Deno.test(`POST /validate with shadow "${shadow}" holds against one signed-in attacker`, async (t) => {
    await withEndpoint(async (endpoint) => {
      const warm = reportOf(
        await endpoint.post({ shadow, files: [{ name: "001_warm.sql", sql: "select 1" }] }),
      );
      assert.deepEqual([warm.ok, warm.findings], [true, []], "a plain validation");

      await t.step(
        "COPY … PROGRAM at top level, in DO, in EXECUTE and in a trigger function is refused and creates no file",
        async () => {
          let i = 0;
          for (const attack of [COPY_PROGRAM, COPY_FROM_PROGRAM]) {
            for (
              const disguise of ["top level", "DO block", "EXECUTE", "trigger function"] as const
            ) {
              const target = hostTarget(`http_${shadow}_${attack.name}`);
              try {
                const report = reportOf(
                  await endpoint.post({
                    shadow,
                    files: [{
                      name: "001_attack.sql",
                      sql: wrap(disguise, attack, target.path, `h${i++}`),
                    }],
                  }),
                );
                const what = `${attack.name} (${disguise}): ${JSON.stringify(report.findings)}`;
                assert.equal(report.ok, false, what);
                if (disguise === "top level") {
                  assert.ok(rulesOf(report).includes("unsafe_statement"), what);
                } else {
                  const error = report.findings.find((f) => f.rule === "apply_error");
                  assert.equal(sqlstateOf(error?.message ?? ""), "42501", what);
                }
              } finally {
                await target.assertAbsent(`${shadow}: ${attack.name} (${disguise})`);
              }
            }
          }
        },
      );

      await t.step(
        "a body of short sleeps, each far under the statement timeout, ends within the total limit with resource_limit",
        async () => {
          const answer = await endpoint.post({
            shadow,
            files: [{ name: "001_padded.sql", sql: "select pg_sleep(0.01);\n".repeat(1_500) }],
          });
          const report = reportOf(answer);
          assert.ok(rulesOf(report).includes("resource_limit"), JSON.stringify(report.findings));
          assert.ok(
            answer.ms < TOTAL_MS + GRACE_MS,
            `answered after ${Math.round(answer.ms)} ms (total limit ${TOTAL_MS} ms)`,
          );
        },
      );

      await t.step(
        "one long statement ends within the total limit with resource_limit",
        async () => {
          const answer = await endpoint.post({
            shadow,
            files: [{ name: "001_long.sql", sql: "select pg_sleep(8)" }],
          });
          const report = reportOf(answer);
          assert.ok(rulesOf(report).includes("resource_limit"), JSON.stringify(report.findings));
          assert.ok(
            answer.ms < TOTAL_MS + GRACE_MS,
            `answered after ${Math.round(answer.ms)} ms (total limit ${TOTAL_MS} ms)`,
          );
        },
      );

      await t.step(
        "a body padded with tens of thousands of statements ends within the total limit with resource_limit",
        async () => {
          const answer = await endpoint.post({
            shadow,
            files: [{
              name: "001_padded.sql",
              sql: "select 1;\n".repeat(20_000) + "select pg_sleep(30);",
            }],
          }, 60_000);
          const report = reportOf(answer);
          assert.ok(rulesOf(report).includes("resource_limit"), JSON.stringify(report.findings));
          assert.ok(
            answer.ms < TOTAL_MS + GRACE_MS,
            `answered after ${Math.round(answer.ms)} ms (total limit ${TOTAL_MS} ms)`,
          );
        },
      );

      await t.step(
        "failures of every kind answer without server paths, hosts or ports",
        async () => {
          const bodies = [
            "select * from public.no_such_table",
            "create table public.t (id bigint primary key",
            "select pg_sleep(4)",
            "do $$ begin perform pg_read_file('/etc/passwd'); end $$",
            "do $$ begin perform lo_import('/etc/passwd'); end $$",
            "do $$ begin raise exception '%', current_setting('data_directory'); end $$",
            "do $$ begin raise exception '%', current_setting('config_file'); end $$",
            "do $$ begin execute 'create extension dblink'; end $$",
          ];
          // Over the disk cap (PostgreSQL watches disk; PGlite's instance lives in memory).
          if (shadow === "postgres") {
            bodies.push(
              "create table public.fill as select repeat('x', 1000) as pad " +
                "from generate_series(1, 1000000)",
            );
          }
          for (const sql of bodies) {
            reportOf(await endpoint.post({ shadow, files: [{ name: "001_fail.sql", sql }] }));
          }
          await assertNothingInternal(endpoint.answers, `answers of the ${shadow} shadow`);
        },
      );

      await t.step(
        "while one user's validation runs long or is padded, another user's validation answers promptly",
        async () => {
          const wrong: string[] = [];
          for (
            const [what, sql] of [
              ["a long statement", "select pg_sleep(8)"],
              ["20,000 statements", "select 1;\n".repeat(20_000)],
            ]
          ) {
            // The same validation alone, just before: the machine's speed right now (CI runs
            // many suites at once), so "promptly" means "not behind the attacker", not a fixed
            // number of milliseconds.
            const alone = await endpoint.post(
              { shadow: "postgres", files: [{ name: "001_other.sql", sql: "select 1" }] },
              60_000,
              "other",
            );
            let slowEnded = 0;
            const slow = endpoint.post({ shadow, files: [{ name: "001_slow.sql", sql }] })
              .finally(() => slowEnded = performance.now());
            await new Promise((r) => setTimeout(r, 500));
            const other = await endpoint.post(
              { shadow: "postgres", files: [{ name: "001_other.sql", sql: "select 1" }] },
              60_000,
              "other",
            );
            const otherEnded = performance.now();
            assert.deepEqual(reportOf(other).findings, [], "the other user's validation");
            await slow;
            // Behind the attacker: slower than the machine allows now, and done only after it.
            if (other.ms > Math.max(2000, 3 * alone.ms) && otherEnded >= slowEnded) {
              wrong.push(
                `behind ${what}: the other user waited ${Math.round(other.ms)} ms ` +
                  `(alone ${Math.round(alone.ms)} ms; ended ${
                    otherEnded >= slowEnded ? "after" : "before"
                  } the attacker's)`,
              );
            }
          }
          assert.deepEqual(wrong, []);
        },
      );

      await t.step(
        "SQL that goes looking for the shadow server's address and port does not get them into the answer",
        async () => {
          const answer = await endpoint.post({
            shadow,
            files: [{
              name: "001_recon.sql",
              sql: `do $$ begin raise exception 'addr=% port=% listen=% setting=%',
              inet_server_addr(), inet_server_port(), current_setting('listen_addresses'),
              current_setting('port'); end $$`,
            }],
          });
          reportOf(answer);
          const shadowUrl = new URL(await shadowAdminUrl());
          for (const value of [shadowUrl.hostname, shadowUrl.port]) {
            assert.ok(
              !new RegExp(`(^|[^0-9])${value.replaceAll(".", "\\.")}([^0-9]|$)`).test(answer.text),
              `the answer names the shadow server's ${value}: ${answer.text.slice(0, 1500)}`,
            );
          }
        },
      );
    });
  });
}
