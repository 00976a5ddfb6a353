/**
 * The offline demo (`npm run demo` → `deno task demo`) as a user runs it: its own process, no
 * `OPENAI_API_KEY`, a database of its own (through `DATABASE_URL`, as a user with their own
 * PostgreSQL would) and a free API port. It must say plainly that it uses the scripted LLM, follow
 * the seed run to the end, write the deliverable folder, and exit 0 having stopped what it started.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { freshDatabase } from "../_support/db.ts";
import { OFFLINE_NOTICE } from "../../supabase/local/demo.ts";

const DEMO = new URL("../../supabase/local/demo.ts", import.meta.url).pathname;

async function filesUnder(dir: string, prefix = ""): Promise<string[]> {
  const out: string[] = [];
  for await (const entry of Deno.readDir(join(dir, prefix))) {
    const path = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isDirectory) out.push(...await filesUnder(dir, path));
    else out.push(path);
  }
  return out.sort();
}

Deno.test(
  "the offline demo runs the seed example end to end with the scripted LLM and writes the project folder",
  async () => {
    await using db = await freshDatabase();
    const out = await Deno.makeTempDir({ prefix: "bt-demo-" });
    try {
      const target = join(out, "trade-journal");
      const output = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", DEMO, "--out", target, "--port", "0"],
        env: { DATABASE_URL: db.url, OPENAI_API_KEY: "", NO_COLOR: "1" },
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
        signal: AbortSignal.timeout(180_000),
      }).output();
      const stdout = new TextDecoder().decode(output.stdout);
      const stderr = new TextDecoder().decode(output.stderr);
      const explain = `exit ${output.code}\n--- stdout\n${stdout}\n--- stderr\n${
        stderr.slice(-4000)
      }`;
      assert.equal(output.code, 0, explain);
      assert.ok(stdout.includes(OFFLINE_NOTICE), explain);
      assert.match(stdout, /^#\d+ run executing$/m, "progress was shown live");
      assert.match(stdout, /run [0-9a-f-]{36} completed/);
      assert.ok(stdout.includes(`The deliverable is in ${target}`), explain);

      const files = await filesUnder(target);
      assert.ok(
        files.some((f) => /^supabase\/migrations\/\d{14}_create_trade_journal\.sql$/.test(f)),
        `no create_trade_journal migration in:\n${files.join("\n")}`,
      );
      // Everything the demo started is stopped: the port it used no longer answers.
      const port = /Local stack at http:\/\/127\.0\.0\.1:(\d+)/.exec(stdout)?.[1];
      assert.ok(port, explain);
      await assert.rejects(
        fetch(`http://127.0.0.1:${port}/functions/v1/orchestrator/openapi.json`),
      );
    } finally {
      await Deno.remove(out, { recursive: true });
    }
  },
);
