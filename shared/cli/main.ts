/**
 * `deno task bt …`: the Backend Team command line. Wiring only — the commands live in
 * `commands.ts`; this runs them with the process's streams and exits with their status.
 */
import { denoIo } from "./cli_io.ts";
import { runCli } from "./commands.ts";

if (import.meta.main) {
  // Exit explicitly: realtime-js leaves a reconnect timer behind after disconnecting.
  Deno.exit(await runCli(Deno.args, denoIo()));
}
