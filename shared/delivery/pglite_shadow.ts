/**
 * The PGlite backend of the delivery shadow: an in-process WASM Postgres per validation, nothing
 * on the host reachable from it, with the platform SQL and the `pgtap` extension
 * (`@electric-sql/pglite-pgtap`; `pgcrypto` for the platform's `extensions` schema). Each
 * validation boots a fresh instance and closes it afterwards.
 *
 * @example
 * ```ts
 * const shadow = pgliteDeliveryShadow({ platformSql: await platformFiles() });
 * const { report } = await validateIntegration(shadow, { migrations });
 * ```
 */
import { PGlite } from "@electric-sql/pglite";
import { pgcrypto } from "@electric-sql/pglite/contrib/pgcrypto";
import { pgtap } from "@electric-sql/pglite-pgtap";
import type { DeliveryShadow, Row, ShadowSession } from "./shadow_port.ts";

/** What {@link pgliteDeliveryShadow} boots each instance with. */
export interface PgliteShadowOptions {
  /** The platform SQL files (roles, auth, realtime, pgmq), applied in order. */
  platformSql: { name: string; sql: string }[];
}

/** A {@link DeliveryShadow} on PGlite. */
export function pgliteDeliveryShadow(options: PgliteShadowOptions): DeliveryShadow {
  return {
    backend: "pglite",
    async withDatabase<T>(fn: (db: ShadowSession) => Promise<T>): Promise<T> {
      const pg = await PGlite.create({ extensions: { pgtap, pgcrypto } });
      try {
        for (const file of options.platformSql) await pg.exec(file.sql);
        await pg.exec("create extension if not exists pgtap with schema extensions");
        return await fn({
          async exec(sql: string): Promise<Row[]> {
            const results = await pg.exec(sql);
            return results.flatMap((r) => r.rows as Row[]);
          },
          async query<R extends Row = Row>(sql: string, params: unknown[] = []): Promise<R[]> {
            return (await pg.query<R>(sql, params)).rows;
          },
        });
      } finally {
        await pg.close();
      }
    },
  };
}
