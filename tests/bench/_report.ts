/**
 * The benchmark's one table: every figure with its target and whether it is met, grouped by
 * measure, in plain text for the terminal (and the README's `## Performance` section).
 *
 * @example
 * ```ts
 * console.log(renderTable(rows));
 * ```
 */

/** One line of the table; a row without `result` is a section heading. */
export interface Row {
  measure: string;
  result?: string;
  target?: string;
  /** true = met, false = missed, undefined = reported without a target. */
  pass?: boolean;
}

/** Formats ms with a precision that suits its size. */
export function ms(value: number): string {
  if (!Number.isFinite(value)) return "n/a";
  return value >= 100 ? `${Math.round(value)} ms` : `${value.toFixed(1)} ms`;
}

/** `p50 / p99` of a summary. */
export function p50p99(s: { p50: number; p99: number }): string {
  return `${ms(s.p50)} / ${ms(s.p99)}`;
}

/** Renders the rows as an aligned text table. */
export function renderTable(rows: readonly Row[]): string {
  const status = (r: Row) => r.pass === undefined ? "" : r.pass ? "pass" : "MISS";
  const w = [
    Math.max(...rows.map((r) => r.result === undefined ? 0 : r.measure.length)),
    Math.max(...rows.map((r) => (r.result ?? "").length)),
    Math.max(...rows.map((r) => (r.target ?? "").length)),
  ];
  const line = (a: string, b: string, c: string, d: string) =>
    `${a.padEnd(w[0])} | ${b.padEnd(w[1])} | ${c.padEnd(w[2])} | ${d}`.trimEnd();
  const rule = `${"-".repeat(w[0])}-+-${"-".repeat(w[1])}-+-${"-".repeat(w[2])}-+-----`;
  const out = [line("Measure", "Result", "Target", ""), rule];
  for (const r of rows) {
    out.push(
      r.result === undefined
        ? `[${r.measure}]`
        : line(r.measure, r.result, r.target ?? "", status(r)),
    );
  }
  return out.join("\n");
}
