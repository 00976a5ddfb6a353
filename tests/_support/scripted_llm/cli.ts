/**
 * Runs the scripted LLM as a process, for the offline demo or for poking at prompts by hand:
 * `deno run -A tests/_support/scripted_llm/cli.ts [--port 8787] tests/fixtures/llm/todo_app.json …`
 * prints the base URL to use as `OPENAI_BASE_URL` and serves until interrupted.
 */
import { startScriptedLlm } from "./mod.ts";

if (import.meta.main) {
  const args = [...Deno.args];
  let port = 0;
  const at = args.indexOf("--port");
  if (at >= 0) {
    port = Number(args[at + 1]);
    args.splice(at, 2);
  }
  if (args.length === 0 || !Number.isInteger(port)) {
    console.error("usage: cli.ts [--port N] <scenario.json>…");
    Deno.exit(2);
  }
  const llm = await startScriptedLlm({ scenarioFiles: args, port });
  console.log(`scripted LLM at ${llm.url}`);
  Deno.addSignalListener("SIGINT", () => llm.close().then(() => Deno.exit(0)));
}
