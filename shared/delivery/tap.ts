/**
 * Reads the TAP that pgTAP prints (`1..N`, `ok 1 - …`, `not ok 2 - …`, `# diagnostics`) into
 * counts and failures, so a test file's outcome can be stored as evidence. A plan that is not met
 * (fewer results than announced) counts as a failure, as `pg_prove` does.
 *
 * @example
 * ```ts
 * parseTap(["1..2", "ok 1 - a", "not ok 2 - b\n# Failed test 2: \"b\""]).failed; // 1
 * ```
 */

/** A TAP stream's outcome. */
export interface TapResult {
  planned: number;
  passed: number;
  failed: number;
  /** Each failing test: `not ok N - name` followed by its diagnostics. */
  failures: string[];
  ok: boolean;
}

/** Parses TAP output given as the values pgTAP's functions returned (each may hold lines). */
export function parseTap(values: string[]): TapResult {
  const lines = values.flatMap((v) => v.split("\n"));
  let planned = 0;
  let passed = 0;
  let failed = 0;
  const failures: string[] = [];
  let current: string[] | null = null;
  for (const line of lines) {
    const plan = /^1\.\.(\d+)/.exec(line);
    if (plan) {
      planned = Number(plan[1]);
      continue;
    }
    if (/^ok \d+/.test(line)) {
      passed++;
      current = null;
    } else if (/^not ok \d+/.test(line)) {
      failed++;
      current = [line];
      failures.push("");
    } else if (line.startsWith("#") && current) {
      current.push(line);
    } else {
      continue;
    }
    if (current) failures[failures.length - 1] = current.join("\n");
  }
  const ran = passed + failed;
  const ok = failed === 0 && planned > 0 && ran === planned;
  if (planned > 0 && ran !== planned) {
    failures.push(`# planned ${planned} tests but ran ${ran}`);
  }
  return { planned, passed, failed, failures, ok };
}
