/**
 * The limits of one validation, in total whatever its shape: wall clock, statements, bytes of SQL.
 * A statement timeout alone is not a bound (a body padded with `select 1;` runs for as long as it
 * has statements), so every call a validation makes on its shadow session is capped by what is
 * left of the validation's own deadline, and running past it ends the validation with a
 * `resource_limit` finding.
 *
 * @example
 * ```ts
 * const limits = validationLimits();
 * await using session = boundedSession(await shadow.open(), Date.now() + limits.totalMs);
 * ```
 */
import { positiveNumber } from "../config/mod.ts";
import {
  type Identity,
  type Row,
  type RunOptions,
  ShadowResourceLimitError,
  type ShadowSession,
  ShadowTimeoutError,
  type StatementResult,
} from "../shadow/mod.ts";

/** The limits of one validation. */
export interface ValidationLimits {
  /** Wall clock from the first statement to the last check, in ms. */
  totalMs: number;
  /** Statements in all files (baseline, migrations, downs) together. */
  maxStatements: number;
  /** Bytes of SQL in all files together. */
  maxSqlBytes: number;
}

/** Defaults of {@link validationLimits}. */
export const DEFAULT_VALIDATION_LIMITS: ValidationLimits = {
  totalMs: 30_000,
  maxStatements: 2_000,
  maxSqlBytes: 2 * 1024 * 1024,
};

/**
 * The limits from the environment: `BT_VALIDATION_TOTAL_MS`, `BT_VALIDATION_MAX_STATEMENTS`,
 * `BT_VALIDATION_MAX_SQL_BYTES` (defaults in {@link DEFAULT_VALIDATION_LIMITS}).
 */
export function validationLimits(
  env: Record<string, string | undefined> = Deno.env.toObject(),
): ValidationLimits {
  return {
    totalMs: positiveNumber(env, "BT_VALIDATION_TOTAL_MS", DEFAULT_VALIDATION_LIMITS.totalMs),
    maxStatements: positiveNumber(
      env,
      "BT_VALIDATION_MAX_STATEMENTS",
      DEFAULT_VALIDATION_LIMITS.maxStatements,
    ),
    maxSqlBytes: positiveNumber(
      env,
      "BT_VALIDATION_MAX_SQL_BYTES",
      DEFAULT_VALIDATION_LIMITS.maxSqlBytes,
    ),
  };
}

const timeUp = (totalMs: number) =>
  new ShadowResourceLimitError(
    "time",
    `the validation ran past its total time limit (${totalMs} ms) and was stopped`,
  );

/**
 * `session` with every call's timeout capped by what is left until `deadline` (ms since the
 * epoch); a call that would start after it, or is stopped by it, throws
 * {@link ShadowResourceLimitError}.
 */
export function boundedSession(
  session: ShadowSession,
  deadline: number,
  totalMs: number,
): ShadowSession {
  const bounded = async <T>(
    options: RunOptions | undefined,
    run: (o: RunOptions) => Promise<T>,
  ) => {
    const left = deadline - Date.now();
    if (left <= 0) {
      await session.close();
      throw timeUp(totalMs);
    }
    const asked = options?.timeoutMs;
    const capped = asked === undefined ? undefined : Math.min(asked, left);
    // Without an explicit timeout the session's own applies; cap it only when it exceeds `left`.
    const timeoutMs = capped ?? (left < 5_000 ? left : undefined);
    try {
      return await run({ ...options, timeoutMs });
    } catch (e) {
      if (e instanceof ShadowTimeoutError && Date.now() >= deadline - 50) {
        await session.close();
        throw timeUp(totalMs);
      }
      throw e;
    }
  };
  return {
    backend: session.backend,
    get alive() {
      return session.alive;
    },
    exec: (sql: string, options?: RunOptions): Promise<StatementResult> =>
      bounded(options, (o) => session.exec(sql, o)),
    query: <T extends Row = Row>(sql: string, params?: unknown[], options?: RunOptions) =>
      bounded(options, (o) => session.query<T>(sql, params, o)),
    queryAs: (
      identity: Identity,
      sql: string,
      params?: unknown[],
      options?: RunOptions & { keep?: boolean },
    ) => bounded(options, (o) => session.queryAs(identity, sql, params, { ...options, ...o })),
    ...(session.connectionUrl ? { connectionUrl: (n?: number) => session.connectionUrl!(n) } : {}),
    close: () => session.close(),
    [Symbol.asyncDispose]: () => session.close(),
  };
}
