/**
 * The seed demo's deliverable proves its indexes (issue 15): `deno task demo` runs offline as a
 * user runs it, the query-optimizer's validation measures each index it ships with
 * `EXPLAIN (ANALYZE, BUFFERS)` on synthetic rows before and after, and the written README shows,
 * for each of them, both timings, buffers and both plans — the index used only after.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { freshDatabase } from "../_support/db.ts";

const DEMO = new URL("../../supabase/local/demo.ts", import.meta.url).pathname;

// The indexes the recorded query-optimizer answer ships, each with the query it serves.
const MEASURED = ["trades_user_executed_at_idx", "positions_user_open_idx"];

Deno.test("the seed demo's README shows before/after EXPLAIN ANALYZE for each index it ships", async () => {
  await using db = await freshDatabase();
  const out = await Deno.makeTempDir({ prefix: "bt-demo-index-" });
  try {
    const target = join(out, "trade-journal");
    const output = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", DEMO, "--out", target, "--port", "0"],
      // The default scale (50 000 rows per queried table) is what the demo shows a user.
      env: { DATABASE_URL: db.url, OPENAI_API_KEY: "", NO_COLOR: "1" },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(240_000),
    }).output();
    const stdout = new TextDecoder().decode(output.stdout);
    const explain = `exit ${output.code}\n--- stdout\n${stdout.slice(-3000)}\n--- stderr\n${
      new TextDecoder().decode(output.stderr).slice(-3000)
    }`;
    assert.equal(output.code, 0, explain);

    const readme = await Deno.readTextFile(join(target, "README.md"));
    const indexes = readme.slice(readme.indexOf("## Indexes"), readme.indexOf("## Edge Functions"));
    for (const name of MEASURED) {
      const start = indexes.indexOf(`### \`${name}\``);
      assert.ok(start >= 0, `README lists ${name}:\n${indexes}`);
      const next = indexes.indexOf("\n### ", start + 1);
      const section = indexes.slice(start, next < 0 ? undefined : next);
      assert.match(
        section,
        /on synthetic rows \(.*\d in `public\.\w+`/,
        `${section}\n${readme.slice(readme.indexOf("## Validation"))}`,
      );
      const rows = [...section.matchAll(/in `public\.\w+`/g)];
      assert.ok(rows.length >= 1, section);
      for (const n of section.matchAll(/([\d,]+) in `public\./g)) {
        assert.ok(Number(n[1].replaceAll(",", "")) >= 50_000, `at least 50 000 rows: ${section}`);
      }
      const before = new RegExp(
        `\\| Before \\(without \`${name}\`\\) \\| ([\\d.]+) ms \\| (\\d+) \\| no \\|`,
      ).exec(section);
      const after = new RegExp(
        `\\| After \\(with \`${name}\`\\) \\| ([\\d.]+) ms \\| (\\d+) \\| yes \\|`,
      ).exec(section);
      assert.ok(before && after, `before/after rows for ${name}:\n${section}`);
      assert.match(section, /Plan before:\n\n```text\n\S/);
      assert.match(section, new RegExp(`Plan after:\\n\\n\`\`\`text\\n[^]*${name}`));
      // The plans are the measured ones: the index only appears after it exists.
      const planBefore = section.slice(
        section.indexOf("Plan before:"),
        section.indexOf("Plan after:"),
      );
      assert.ok(!planBefore.includes(name), planBefore);
    }
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});
