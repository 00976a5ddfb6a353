/**
 * Child process of the bare round trip: the local stack's gateway serving only the bench's bare
 * reader function (no product functions, no schedule), in a process of its own as the product's
 * gateway is. Prints one JSON line with the functions URL, then serves until SIGTERM.
 *
 * Run by `_bare.ts`: `deno run -A tests/bench/_bare_stack.ts <database url>`
 */
import { fileURLToPath } from "node:url";
import { startLocalStack } from "../../supabase/local/stack.ts";

const stack = await startLocalStack({
  port: 0,
  databaseUrl: Deno.args[0],
  migrate: false,
  scheduleIntervalMs: 0,
  functions: [{
    name: "bench-bare-reader",
    entrypoint: fileURLToPath(new URL("../fixtures/bench/bare_reader/index.ts", import.meta.url)),
    verifyJwt: false,
    enabled: true,
  }],
});
console.log(JSON.stringify({ functionsUrl: stack.functionsUrl }));
Deno.addSignalListener("SIGTERM", async () => {
  await stack.stop();
  Deno.exit(0);
});
