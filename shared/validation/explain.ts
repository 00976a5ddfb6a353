/**
 * Does a query use the index it was written for? On a fresh shadow every table is empty, so the
 * planner's costs say nothing; with sequential scans disabled the planner uses an index whenever
 * one can serve the query at all (right columns, operator class, collation, partial predicate),
 * which is the question here. Queries with `$1` parameters are planned generically (prepared, as
 * PostgREST and index_advisor do). Optionally the query runs as a signed-in user, so the policies'
 * predicates are part of the plan.
 *
 * @example
 * ```ts
 * const findings = await checkQueryPlans(session, [
 *   { sql: "select * from public.trades where user_id = $1 order by executed_at desc", index: "trades_user_executed_at_idx" },
 * ]);
 * ```
 */
import { z } from "zod";
import { asNode, walk } from "../pg_ast/mod.ts";
import { type Finding, finding } from "./finding.ts";
import { pgParser } from "./parse.ts";
import { type ShadowSession, ShadowSqlError } from "../shadow/mod.ts";

/** A query and the index it should use. */
export const QueryCheck = z.object({
  /** A label for reports (default `query <n>`). */
  name: z.string().min(1).max(200).optional(),
  /** One SELECT/UPDATE/DELETE statement; `$1`… parameters allowed. */
  sql: z.string().min(1).max(64 * 1024),
  /** The index the plan must use (name, optionally schema-qualified). */
  index: z.string().min(1).max(200),
  /** Plan as the table owner (default) or as a signed-in user, with policies applied. */
  role: z.enum(["owner", "authenticated"]).default("owner"),
});
export type QueryCheck = z.input<typeof QueryCheck>;

interface PlanNode {
  "Node Type"?: string;
  "Index Name"?: string;
  "Relation Name"?: string;
  Plans?: PlanNode[];
}

function scans(plan: PlanNode, out: string[] = []): string[] {
  const type = plan["Node Type"] ?? "";
  if (plan["Index Name"]) out.push(`${type} using ${plan["Index Name"]}`);
  else if (plan["Relation Name"]) out.push(`${type} on ${plan["Relation Name"]}`);
  for (const child of plan.Plans ?? []) scans(child, out);
  return out;
}

function indexesUsed(plan: PlanNode, out = new Set<string>()): Set<string> {
  if (plan["Index Name"]) out.add(plan["Index Name"]);
  for (const child of plan.Plans ?? []) indexesUsed(child, out);
  return out;
}

async function parameterCount(sql: string): Promise<number> {
  const parsed = await pgParser().parse(sql);
  let max = 0;
  walk(parsed.tree, ({ node }) => {
    const ref = asNode(node, "ParamRef");
    if (ref?.number && ref.number > max) max = ref.number;
  });
  return max;
}

/** EXPLAINs each query with sequential scans off; `index_not_used` when its index is not in the plan. */
export async function checkQueryPlans(
  session: ShadowSession,
  queries: readonly QueryCheck[],
): Promise<Finding[]> {
  const out: Finding[] = [];
  for (const [i, raw] of queries.entries()) {
    const q = QueryCheck.parse(raw);
    const label = q.name ?? `query ${i + 1}`;
    const where = { file: label, line: 1, statement: q.sql };
    const params = await parameterCount(q.sql);
    const expected = q.index.split(".").at(-1)!;
    await session.exec("begin");
    try {
      await session.exec(
        "set local enable_seqscan = off; set local plan_cache_mode = force_generic_plan",
      );
      if (q.role === "authenticated") {
        const sub = crypto.randomUUID();
        await session.query(
          "select set_config('role', 'authenticated', true), set_config('request.jwt.claims', $1, true)",
          [JSON.stringify({ sub, role: "authenticated" })],
        );
      }
      let rows;
      if (params > 0) {
        await session.exec(`prepare bt_explain as ${q.sql}`);
        const nulls = Array.from({ length: params }, () => "null").join(", ");
        rows = (await session.exec(`explain (format json) execute bt_explain(${nulls})`)).rows;
      } else {
        rows = (await session.exec(`explain (format json) ${q.sql}`)).rows;
      }
      const value = rows[0]?.["QUERY PLAN"];
      const doc = (typeof value === "string" ? JSON.parse(value) : value) as { Plan: PlanNode }[];
      const plan = doc[0].Plan;
      if (!indexesUsed(plan).has(expected)) {
        out.push(finding(
          "index_not_used",
          `${label} does not use index ${q.index} even with sequential scans disabled; the plan ` +
            `is: ${scans(plan).join(", ") || plan["Node Type"]}`,
          { ...where, object: q.index },
        ));
      }
    } catch (e) {
      if (!(e instanceof ShadowSqlError)) throw e;
      out.push(finding("query_error", `${label} failed: ${e.message}`, where));
    } finally {
      if (session.alive) {
        await session.exec("rollback").catch(() => {});
        await session.exec("deallocate all").catch(() => {});
      }
    }
  }
  return out;
}
