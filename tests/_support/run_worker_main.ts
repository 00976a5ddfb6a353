/**
 * The orchestrator worker as a separate process, for crash tests: a test can SIGKILL it in the
 * middle of a phase (no `finally`, no graceful shutdown, the lease simply stops being renewed) and
 * start another one, exactly as a platform restarting a dead function would. It drains
 * `bt_orchestrator` every 100 ms and prints one JSON line per event on stdout: `{"ready":true}`
 * once started, `{"wake":[…]}` for every wake-up, `{"error":"…"}` for every worker error.
 *
 * `deno run -A tests/_support/run_worker_main.ts` with `SUPABASE_DB_URL`, `OPENAI_BASE_URL` and
 * optionally `BT_RUN_LEASE_SECONDS` (default 2) in the environment.
 */
import { connect } from "../../shared/db/mod.ts";
import { startRunWorker } from "./run_worker.ts";

if (import.meta.main) {
  const dbUrl = Deno.env.get("SUPABASE_DB_URL");
  const llmUrl = Deno.env.get("OPENAI_BASE_URL");
  if (!dbUrl || !llmUrl) {
    console.error("SUPABASE_DB_URL and OPENAI_BASE_URL are required");
    Deno.exit(2);
  }
  const sql = connect(dbUrl, { max: 4, applicationName: "run-worker-main" });
  const print = (event: Record<string, unknown>) => console.log(JSON.stringify(event));
  const worker = await startRunWorker({
    sql,
    llmUrl,
    vtSeconds: Number(Deno.env.get("BT_RUN_LEASE_SECONDS") ?? "2"),
    onWake: (workers) => print({ wake: workers }),
    onError: (e) => print({ error: String(e) }),
  });
  let stopping = false;
  Deno.addSignalListener("SIGTERM", () => {
    stopping = true;
    worker.stop().finally(() => sql.end({ timeout: 1 })).finally(() => Deno.exit(0));
  });
  print({ ready: true });
  while (!stopping) {
    await worker.drain();
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
