/**
 * Following a run to where it stops, as `bt submit --follow`, `bt status --follow` and the demo
 * do: live progress from the Realtime session, then what the end means to the user. Completed:
 * the deliverable is fetched and, with `out`, written as a project folder. Failed or cancelled:
 * the error, exit 1. Waiting for answers: the questions; on a terminal they are asked and the run
 * is followed on after the answers, otherwise exit 3 with the `bt answer` line to run.
 *
 * @example
 * ```ts
 * const { code } = await followRun({ api, runId: run.id, io, out: "out/todo" });
 * ```
 */
import type { RunEventPayload } from "../events/mod.ts";
import type { Answers } from "../runs/mod.ts";
import { answerHint, askAnswers, formatQuestions, pendingQuestions } from "./answers.ts";
import { ApiError, type RunsApi } from "./api_client.ts";
import type { CliIo } from "./cli_io.ts";
import { writeDeliverableFolder, type WriteReport } from "./deliverable_writer.ts";
import { EXIT, type ExitCode } from "./exit_codes.ts";
import { openFollowSession } from "./follow.ts";
import { applyEvent, emptyProgress, type RunProgress, shouldStop } from "./progress.ts";
import { createProgressDisplay } from "./progress_display.ts";
import { formatError } from "./report_error.ts";
import { formatDollars } from "./progress_render.ts";

/** What {@link followRun} needs. */
export interface FollowRunOptions {
  api: RunsApi;
  runId: string;
  io: CliIo;
  /** Where to write the deliverable once the run completes. */
  out?: string;
  /** Only a stop reached at or after this seq counts (the run's `last_seq` after answering). */
  minSeq?: number;
  /** Ask the run's questions on a terminal (default: when stdin is a terminal). */
  interactive?: boolean;
}

/** How following ended. */
export interface FollowResult {
  code: ExitCode;
  /** The run's status when following stopped. */
  status: string;
  /** The deliverable folder, when one was written. */
  written?: WriteReport;
  /** How many times the event log was read (catch-ups and gap fills; not polling). */
  logReads: number;
  /** Events applied. */
  events: number;
}

/** Follows the run until it stops; see the module doc. */
export async function followRun(options: FollowRunOptions): Promise<FollowResult> {
  const { api, runId, io } = options;
  const interactive = options.interactive ?? io.stdinIsTerminal;
  let progress: RunProgress = emptyProgress(runId);
  let events = 0;
  let minSeq = options.minSeq ?? 0;
  const display = createProgressDisplay(io);
  const verbose = io.env.BT_VERBOSE === "1";
  const session = openFollowSession({
    api,
    runId,
    onChannelStatus: verbose
      ? (status, error) => io.err(`> realtime ${status}${error ? `: ${error.message}` : ""}`)
      : undefined,
    onEvents(batch: RunEventPayload[]) {
      events += batch.length;
      display.show(batch.map((event) => {
        progress = applyEvent(progress, event);
        return { event, progress };
      }));
    },
  });
  const finish = (code: ExitCode, written?: WriteReport): FollowResult => ({
    code,
    status: progress.status,
    written,
    logReads: session.logReads,
    events,
  });
  try {
    for (;;) {
      await session.until(() => shouldStop(progress) && progress.lastSeq >= minSeq);
      display.stop();
      switch (progress.status) {
        case "completed":
          return finish(EXIT.ok, await deliver(api, runId, io, options.out));
        case "failed": {
          const error = progress.error ?? (await api.get(runId)).run.error;
          io.err(formatError(error?.code ?? "run_failed", error?.message ?? "the run failed"));
          return finish(EXIT.error);
        }
        case "cancelled":
          io.err(formatError("cancelled", `run ${runId} was cancelled`));
          return finish(EXIT.error);
        case "awaiting_clarification": {
          const { run } = await api.get(runId);
          if (run.status !== "awaiting_clarification") {
            // Answered elsewhere in the meantime: follow on from what the server says now.
            minSeq = run.last_seq;
            display.resume();
            continue;
          }
          const pending = pendingQuestions(run);
          io.out(`run ${runId} is waiting for answers:\n${formatQuestions(pending)}`);
          const answered = interactive
            ? await askAndAnswer(api, runId, io, pending.questions.length > 0 ? pending : undefined)
            : undefined;
          if (answered === undefined) {
            io.out(`answer with: ${answerHint(runId, pending)}`);
            return finish(EXIT.awaitingAnswers);
          }
          io.out(`answered; run ${runId} is ${answered.status}`);
          minSeq = answered.lastSeq;
          display.resume();
          continue;
        }
      }
    }
  } finally {
    display.stop();
    await session.close();
  }
}

async function askAndAnswer(
  api: RunsApi,
  runId: string,
  io: CliIo,
  pending: ReturnType<typeof pendingQuestions> | undefined,
): Promise<{ status: string; lastSeq: number } | undefined> {
  if (!pending) return undefined;
  for (;;) {
    const answers: Answers | undefined = await askAnswers(pending, io.ask, io.out);
    if (!answers) return undefined;
    try {
      const run = await api.answer(runId, answers);
      return { status: run.status, lastSeq: run.last_seq };
    } catch (e) {
      if (!(e instanceof ApiError) || e.code !== "validation_failed") throw e;
      io.err(formatError(e.code, e.message, e.details));
    }
  }
}

async function deliver(
  api: RunsApi,
  runId: string,
  io: CliIo,
  out: string | undefined,
): Promise<WriteReport | undefined> {
  const { run } = await api.get(runId);
  const tokens = run.prompt_tokens + run.completion_tokens;
  io.out(
    `run ${runId} completed (${tokens.toLocaleString("en-US")} tokens, ` +
      `${formatDollars(run.cost_usd)})`,
  );
  if (!out) {
    io.out(`get the deliverable: deno task bt deliverable ${runId} --out DIR`);
    return undefined;
  }
  const deliverable = await api.deliverable(runId);
  const report = await writeDeliverableFolder(out, deliverable.files);
  io.out(`wrote ${report.written.length} files to ${report.dir}`);
  for (const path of report.written) io.out(`  ${path}`);
  return report;
}
