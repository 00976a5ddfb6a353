/**
 * Runs many probe steps in one round trip: a generated `do` block executes each step as its
 * caller (role + JWT claims, as PostgREST sets them) inside its own subtransaction, records what
 * happened — rows counted or changed, whether the target user's rows were touched, or the error —
 * and undoes it. Results come back through a transaction-local setting. Statements run through
 * `execute` (no clash with the block's variables), every value is an SQL literal, and the block's
 * dollar-quote tag and "undo" SQLSTATE are random, so SQL from the migration under test (check
 * constraint values, triggers raising errors) can neither break out of the block nor fake a step.
 *
 * @example
 * ```ts
 * const results = await runUndoneSteps(session, steps, { versionsSql, reader: "bt_shadow_owner" });
 * ```
 */
import type { Identity, ShadowSession } from "../shadow/mod.ts";
import { CHECK_TIMEOUT_MS } from "./catalog.ts";

/** One probe step: run `sql` as `as`, then undo it. */
export interface ProbeStep {
  as: Identity;
  /** One statement, values inlined as literals (see {@link literal}). */
  sql: string;
  /**
   * `count`: the statement is `select count(*) …`; `rows`: rows it changed; `touch`: whether any
   * of the watched rows was changed or deleted (their physical versions, compared before and
   * after; rows that newly match do not count).
   */
  measure: "count" | "rows" | "touch";
}

/** What a step did. */
export interface StepResult {
  /** The count (`count`) or rows changed (`rows`, `touch`). */
  n: number;
  /** For `touch`: whether any watched row was changed or deleted. */
  touched: boolean;
  /** Postgres' message when the statement failed. */
  error?: string;
}

/** An SQL string literal (or `null`). */
export function literal(value: string | null): string {
  return value === null ? "null" : `'${value.replaceAll("'", "''")}'`;
}

function randomToken(length: number): string {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  const bytes = crypto.getRandomValues(new Uint8Array(length));
  return [...bytes].map((b) => alphabet[b % alphabet.length]).join("");
}

/** How the watched rows are read: as a role that sees them all. */
export interface Watch {
  /** `select ctid::text as v from … where …` for the watched rows. */
  versionsSql: string;
  /** Role that reads them regardless of policies (the table owner, or service_role). */
  reader: string;
}

/** Runs `steps`, each undone, in one round trip; their results in order. */
export async function runUndoneSteps(
  session: ShadowSession,
  steps: readonly ProbeStep[],
  watch: Watch,
): Promise<StepResult[]> {
  if (steps.length === 0) return [];
  const tag = `$bt_${randomToken(12).toLowerCase()}$`;
  const undo = `B${randomToken(4)}`;
  const versions =
    `select coalesce(string_agg(v, ',' order by v), '') from (${watch.versionsSql}) w`;
  const reader = `perform pg_catalog.set_config('role', ${literal(watch.reader)}, true);`;
  const blocks = steps.map((step, i) => {
    const become = `perform pg_catalog.set_config('role', ${literal(step.as.role)}, true);\n` +
      `    perform pg_catalog.set_config('request.jwt.claims', ` +
      `${literal(JSON.stringify(step.as.claims))}, true);`;
    const run = step.measure === "count"
      ? `execute ${literal(step.sql)} into n;`
      : `execute ${literal(step.sql)};\n    get diagnostics n = row_count;`;
    const touch = step.measure === "touch"
      ? `${reader}\n    execute ${
        literal(versions)
      } into after;\n    touched := not (string_to_array(before, ',') <@ string_to_array(after, ','));`
      : "touched := false;";
    return `
  begin
    ${become}
    ${run}
    ${touch}
    results := results || jsonb_build_object('i', ${i}, 'n', n, 'touched', touched);
    raise sqlstate '${undo}';
  exception
    when sqlstate '${undo}' then null;
    when others then
      results := results || jsonb_build_object('i', ${i}, 'n', 0, 'touched', false, 'error', sqlerrm);
  end;`;
  });
  const script = `do ${tag}
declare
  me text := current_user;
  n bigint := 0;
  touched boolean := false;
  before text;
  after text;
  results jsonb := '[]'::jsonb;
begin
  ${reader}
  execute ${literal(versions)} into before;
${blocks.join("\n")}
  perform pg_catalog.set_config('bt.probe_results', results::text, true);
  perform pg_catalog.set_config('role', me, true);
end
${tag}`;
  // The block and the read of its results in one round trip (inside the caller's transaction).
  const { rows } = await session.exec(
    `${script};\nselect pg_catalog.current_setting('bt.probe_results') as r`,
    { timeoutMs: CHECK_TIMEOUT_MS },
  );
  const parsed = JSON.parse(String(rows[0]?.r ?? "[]")) as ({ i: number } & StepResult)[];
  return steps.map((_, i) => {
    const found = parsed.find((r) => r.i === i);
    return {
      n: Number(found?.n ?? 0),
      touched: !!found?.touched,
      ...(found?.error ? { error: found.error } : {}),
    };
  });
}
