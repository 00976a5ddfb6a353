/**
 * The `bt` command line and the pieces the offline demo shares with it: following a run over
 * Realtime with live progress, answering its questions, and writing its deliverable as a Supabase
 * project folder. `main.ts` is the entry (`deno task bt`).
 *
 * @example
 * ```ts
 * import { createRunsApi, denoIo, followRun } from "../../shared/cli/mod.ts";
 * const api = createRunsApi({ url, anonKey, token });
 * const run = await api.submit({ request: "A todo API" });
 * const { code } = await followRun({ api, runId: run.id, io: denoIo(), out: "out/todo" });
 * ```
 */
export { type AuthFlags, type CliCommand, parseCliArgs, UsageError } from "./args.ts";
export { ApiError, createRunsApi, type RunsApi, type RunsApiOptions } from "./api_client.ts";
export { type CliIo, denoIo } from "./cli_io.ts";
export { runCli } from "./commands.ts";
export { type Connection, DEFAULT_SUPABASE_URL, resolveConnection } from "./connection.ts";
export { writeDeliverableFolder, type WriteReport } from "./deliverable_writer.ts";
export { EXIT, type ExitCode } from "./exit_codes.ts";
export { type FollowResult, followRun, type FollowRunOptions } from "./follow_run.ts";
export { ensureLocalUser, type LocalUser, localUser } from "./local_user.ts";
export { formatError, reportError } from "./report_error.ts";
export { USAGE } from "./usage.ts";
