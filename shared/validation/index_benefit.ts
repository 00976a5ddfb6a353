/**
 * Does an index pay off? `index_not_used` only proves the planner *can* use an index (sequential
 * scans disabled, empty tables). Here the tables a query reads are filled with synthetic rows at a
 * realistic scale (`bulk_rows.ts`, default 50 000 rows per queried table), analyzed, and the query
 * runs with `EXPLAIN (ANALYZE, BUFFERS)` twice: with the index (after the task's migration) and
 * with it dropped (before) — each warmed once, the second run measured. Both plans, times and
 * buffers become the evidence; an index that neither cuts the time by a fifth nor halves the
 * buffers read is `index_no_improvement` (a warning: the planner's choice on uniform synthetic
 * data can differ from production skew, and a useless index costs writes, not correctness).
 * Everything runs in one transaction that is rolled back; parameters take values sampled from the
 * synthetic rows.
 *
 * @example
 * ```ts
 * const { findings, benchmarks } = await measureIndexBenefit(session, catalog, queries, { rows: 50_000 });
 * ```
 */
import { asNode, type PgNode, stringList, walk } from "../pg_ast/mod.ts";
import type { Catalog } from "./catalog.ts";
import { FillError, fillTables } from "./bulk_rows.ts";
import { QueryCheck } from "./explain.ts";
import { type Finding, finding } from "./finding.ts";
import { pgParser } from "./parse.ts";
import { ident, tableRef } from "./row_synthesis.ts";
import { type ShadowSession, ShadowSqlError, ShadowTimeoutError } from "../shadow/mod.ts";

/** Rows per queried table unless configured (`BT_INDEX_BENCH_ROWS`). */
export const DEFAULT_BENCH_ROWS = 50_000;

/** One side of the comparison. */
export interface PlanRun {
  /** `Execution Time` of EXPLAIN ANALYZE, in ms. */
  executionMs: number;
  /** Shared buffers hit + read by the whole plan. */
  buffers: number;
  /** The plan, one node per line, indented. */
  plan: string;
  usesIndex: boolean;
}

/** The before/after evidence of one index. */
export interface IndexBenchmark {
  query: string;
  index: string;
  sql: string;
  rows: Record<string, number>;
  /** Without the index. */
  before: PlanRun;
  /** With the index. */
  after: PlanRun;
  improved: boolean;
  /** Time this query's measurement took, fill excluded, in ms. */
  ms: number;
}

/** What the measurement found. */
export interface IndexBenefitResult {
  findings: Finding[];
  benchmarks: IndexBenchmark[];
  /** Time spent making rows, in ms. */
  fillMs: number;
}

/** Options of {@link measureIndexBenefit}. */
export interface IndexBenefitOptions {
  rows?: number;
  /** Longest the whole measurement may take, in ms. */
  budgetMs?: number;
}

interface PlanNode {
  "Node Type"?: string;
  "Index Name"?: string;
  "Relation Name"?: string;
  "Actual Rows"?: number;
  "Actual Loops"?: number;
  "Actual Total Time"?: number;
  "Shared Hit Blocks"?: number;
  "Shared Read Blocks"?: number;
  "Rows Removed by Filter"?: number;
  Plans?: PlanNode[];
}

/** Rows per queried table from the environment (`BT_INDEX_BENCH_ROWS`), else the default. */
export function benchRows(env: Record<string, string | undefined> = Deno.env.toObject()): number {
  const n = Number(env.BT_INDEX_BENCH_ROWS);
  return Number.isFinite(n) && n > 0 ? Math.floor(n) : DEFAULT_BENCH_ROWS;
}

/** The plan as indented text, e.g. `Index Scan using x on t (rows=10 loops=1 time=0.03 ms)`. */
export function planText(node: PlanNode, depth = 0): string {
  const what = node["Index Name"]
    ? `${node["Node Type"]} using ${node["Index Name"]}${
      node["Relation Name"] ? ` on ${node["Relation Name"]}` : ""
    }`
    : `${node["Node Type"]}${node["Relation Name"] ? ` on ${node["Relation Name"]}` : ""}`;
  const removed = node["Rows Removed by Filter"]
    ? ` removed by filter=${node["Rows Removed by Filter"]}`
    : "";
  const line = `${"  ".repeat(depth)}${what} (rows=${node["Actual Rows"] ?? "?"}${removed} ` +
    `loops=${node["Actual Loops"] ?? "?"} time=${node["Actual Total Time"] ?? "?"} ms)`;
  return [line, ...(node.Plans ?? []).map((p) => planText(p, depth + 1))].join("\n");
}

function usesIndex(node: PlanNode, name: string): boolean {
  return node["Index Name"] === name || (node.Plans ?? []).some((p) => usesIndex(p, name));
}

/** Tables a query reads (`schema.name`), and for each `$n` the column compared with it. */
async function queryShape(sql: string, catalog: Catalog): Promise<{
  tables: string[];
  params: Map<number, { table: string; column: string }>;
  count: number;
}> {
  const parsed = await pgParser().parse(sql);
  const aliases = new Map<string, string>();
  const tables: string[] = [];
  let count = 0;
  walk(parsed.tree, ({ node }) => {
    const rv = asNode(node, "RangeVar");
    if (rv?.relname) {
      const name = `${rv.schemaname ?? "public"}.${rv.relname}`;
      if (catalog.tables.some((t) => `${t.schema}.${t.name}` === name)) {
        if (!tables.includes(name)) tables.push(name);
        aliases.set(rv.alias?.aliasname ?? rv.relname, name);
      }
    }
    const ref = asNode(node, "ParamRef");
    if (ref?.number && ref.number > count) count = ref.number;
  });
  const params = new Map<number, { table: string; column: string }>();
  const columnIn = (n: PgNode | undefined): [string, string] | undefined => {
    const fn = asNode(n, "FuncCall");
    if (fn?.args?.length === 1) return columnIn(fn.args[0]);
    const cast = asNode(n, "TypeCast");
    if (cast) return columnIn(cast.arg);
    const ref = asNode(n, "ColumnRef");
    const fields = stringList(ref?.fields);
    if (!fields.length) return undefined;
    const column = fields.at(-1)!;
    const table = fields.length > 1
      ? aliases.get(fields.at(-2)!)
      : tables.find((t) =>
        catalog.columns.some((c) => `${c.schema}.${c.table}` === t && c.name === column)
      );
    return table ? [table, column] : undefined;
  };
  const paramIn = (n: PgNode | undefined): number | undefined => {
    const fn = asNode(n, "FuncCall");
    if (fn?.args?.length === 1) return paramIn(fn.args[0]);
    const cast = asNode(n, "TypeCast");
    if (cast) return paramIn(cast.arg);
    return asNode(n, "ParamRef")?.number;
  };
  walk(parsed.tree, ({ node }) => {
    const op = asNode(node, "A_Expr");
    if (!op || op.kind !== "AEXPR_OP") return;
    for (const [a, b] of [[op.lexpr, op.rexpr], [op.rexpr, op.lexpr]]) {
      const p = paramIn(b);
      const c = columnIn(a);
      if (p && c && !params.has(p)) params.set(p, { table: c[0], column: c[1] });
    }
  });
  return { tables, params, count };
}

function sqlLiteral(v: string | null): string {
  return v === null ? "null" : `'${v.replaceAll("'", "''")}'`;
}

async function explainRun(
  session: ShadowSession,
  sql: string,
  args: string[],
  index: string,
  timeoutMs: number,
): Promise<PlanRun> {
  const text = args.length
    ? `explain (analyze, buffers, format json) execute bt_bench(${args.join(", ")})`
    : `explain (analyze, buffers, format json) ${sql}`;
  let doc: { Plan: PlanNode; "Execution Time": number }[] = [];
  // Warm once (caches, custom plan), measure the second run.
  for (let i = 0; i < 2; i++) {
    const rows = (await session.exec(text, { timeoutMs })).rows;
    const value = rows[0]?.["QUERY PLAN"];
    doc = (typeof value === "string" ? JSON.parse(value) : value) as typeof doc;
  }
  const plan = doc[0].Plan;
  return {
    executionMs: Math.round(doc[0]["Execution Time"] * 1000) / 1000,
    buffers: (plan["Shared Hit Blocks"] ?? 0) + (plan["Shared Read Blocks"] ?? 0),
    plan: planText(plan),
    usesIndex: usesIndex(plan, index),
  };
}

/** Whether the index made its query cheaper: a fifth less time, or half the buffers. Pure. */
export function improvedBy(before: PlanRun, after: PlanRun): boolean {
  if (!after.usesIndex) return false;
  return after.executionMs <= before.executionMs * 0.8 || after.buffers <= before.buffers * 0.5;
}

function describe(b: IndexBenchmark): string {
  const rows = Object.entries(b.rows).map(([t, n]) => `${t} ${n}`).join(", ");
  return `on synthetic rows (${rows}), EXPLAIN (ANALYZE, BUFFERS) of ${b.query}: without ` +
    `${b.index} ${b.before.executionMs} ms, ${b.before.buffers} buffers; with it ` +
    `${b.after.executionMs} ms, ${b.after.buffers} buffers.\nbefore:\n${b.before.plan}\n` +
    `after:\n${b.after.plan}`;
}

/**
 * Fills the queried tables, then measures each query with and without its index; see the module
 * doc. Must run outside a transaction; leaves nothing behind.
 */
export async function measureIndexBenefit(
  session: ShadowSession,
  catalog: Catalog,
  queries: readonly QueryCheck[],
  options: IndexBenefitOptions = {},
): Promise<IndexBenefitResult> {
  const started = Date.now();
  const budget = options.budgetMs ?? 15_000;
  const left = () => Math.max(1, budget - (Date.now() - started));
  const rows = options.rows ?? benchRows();
  const out: IndexBenefitResult = { findings: [], benchmarks: [], fillMs: 0 };
  const parsed = queries.map((raw, i) => {
    const q = QueryCheck.parse(raw);
    return { q, label: q.name ?? `query ${i + 1}` };
  });
  const shapes = await Promise.all(parsed.map(({ q }) => queryShape(q.sql, catalog)));
  const tables = [...new Set(shapes.flatMap((s) => s.tables))];
  const notMeasured = (label: string, q: QueryCheck, why: string) =>
    out.findings.push(finding(
      "index_benefit_not_measured",
      `the benefit of ${q.index} for ${label} was not measured: ${why}`,
      { file: label, line: 1, statement: q.sql, object: q.index },
    ));
  if (tables.length === 0) return out;
  await session.exec("begin");
  try {
    let filled;
    try {
      filled = await fillTables(session, catalog, tables, { rows, timeoutMs: left() });
    } catch (e) {
      if (!(e instanceof FillError || e instanceof ShadowSqlError)) throw e;
      for (const { q, label } of parsed) notMeasured(label, q, e.message);
      return out;
    }
    out.fillMs = filled.ms;
    for (const [i, { q, label }] of parsed.entries()) {
      const shape = shapes[i];
      const t0 = performance.now();
      const index = q.index.split(".").at(-1)!;
      const where = { file: label, line: 1, statement: q.sql, object: q.index };
      if (left() <= 1) {
        notMeasured(label, q, "the time budget of the measurement was spent");
        continue;
      }
      try {
        await session.exec("savepoint bt_bench_q");
        const args: string[] = [];
        for (let n = 1; n <= shape.count; n++) {
          const p = shape.params.get(n);
          if (!p) {
            args.push("null");
            continue;
          }
          const [schema, table] = p.table.split(".");
          const [sample] = await session.query<{ v: string | null }>(
            `select ${ident(p.column)}::text as v from ${tableRef(schema, table)} ` +
              `where ${ident(p.column)} is not null offset $1 limit 1`,
            [Math.floor((filled.rows[p.table] ?? 1) / 2)],
          );
          args.push(sqlLiteral(sample?.v ?? null));
        }
        if (q.role === "authenticated") {
          const uid = args.find((a) => /^'[0-9a-f-]{36}'$/.test(a))?.slice(1, -1) ??
            crypto.randomUUID();
          await session.query(
            "select set_config('role', 'authenticated', true), " +
              "set_config('request.jwt.claims', $1, true)",
            [JSON.stringify({ sub: uid, role: "authenticated" })],
          );
        }
        if (shape.count > 0) await session.exec(`prepare bt_bench as ${q.sql}`);
        const after = await explainRun(session, q.sql, args, index, left());
        await session.exec("savepoint bt_bench_drop");
        if (q.role === "authenticated") await session.exec("reset role");
        const target = catalog.indexes.find((x) => x.name === index);
        const qualified = target ? `${ident(target.schema)}.${ident(index)}` : q.index;
        await session.exec(`drop index ${qualified}`);
        if (q.role === "authenticated") await session.exec("set local role authenticated");
        if (shape.count > 0) {
          await session.exec("deallocate bt_bench");
          await session.exec(`prepare bt_bench as ${q.sql}`);
        }
        const before = await explainRun(session, q.sql, args, index, left());
        await session.exec("rollback to savepoint bt_bench_drop");
        const bench: IndexBenchmark = {
          query: label,
          index: q.index,
          sql: q.sql,
          rows: filled.rows,
          before,
          after,
          improved: improvedBy(before, after),
          ms: 0,
        };
        bench.ms = Math.round(performance.now() - t0);
        out.benchmarks.push(bench);
        out.findings.push(
          bench.improved
            ? finding("index_benefit_measured", `${q.index} pays off ${describe(bench)}`, where)
            : finding(
              "index_no_improvement",
              `${q.index} does not make ${label} cheaper ` +
                (after.usesIndex ? "" : "(the planner does not choose it at this scale) ") +
                `${describe(bench)}`,
              where,
            ),
        );
      } catch (e) {
        if (e instanceof ShadowSqlError) {
          notMeasured(label, q, e.message);
        } else if (e instanceof ShadowTimeoutError) {
          notMeasured(label, q, "the time budget of the measurement was spent");
          return out;
        } else {
          throw e;
        }
      } finally {
        if (session.alive) {
          await session.exec("rollback to savepoint bt_bench_q").catch(() => {});
          await session.exec("deallocate all").catch(() => {});
        }
      }
    }
  } finally {
    if (session.alive) await session.exec("rollback").catch(() => {});
  }
  return out;
}
