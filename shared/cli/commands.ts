/**
 * The `bt` commands: each parses nothing itself (the command line is already a typed
 * {@link CliCommand}), calls the API as the user, prints what a person needs, and returns the
 * exit status. Following is shared with the demo (`follow_run.ts`).
 *
 * @example
 * ```ts
 * Deno.exit(await runCli(Deno.args, denoIo()));
 * ```
 */
import type { CreateRunRequest, RunDetail } from "../runs/mod.ts";
import {
  answerHint,
  answersFromPairs,
  askAnswers,
  formatQuestions,
  pendingQuestions,
} from "./answers.ts";
import { ApiError, createRunsApi, type RunsApi } from "./api_client.ts";
import { type AuthFlags, type CliCommand, parseCliArgs, UsageError } from "./args.ts";
import type { CliIo } from "./cli_io.ts";
import { resolveConnection } from "./connection.ts";
import { deliverableFileName, writeDeliverableFolder } from "./deliverable_writer.ts";
import { EXIT, type ExitCode } from "./exit_codes.ts";
import { followRun } from "./follow_run.ts";
import { localUser } from "./local_user.ts";
import { decisionText, describeDecision, formatCount, formatDollars } from "./progress_render.ts";
import { reportError } from "./report_error.ts";
import { USAGE } from "./usage.ts";
import { validateRequestFor } from "./validate_request.ts";
import { formatReport } from "../validation/mod.ts";
import { join, resolve } from "node:path";

/** Runs `bt` with `argv` (without the program name); returns the exit status. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<ExitCode> {
  try {
    const command = parseCliArgs(argv);
    return await execute(command, io);
  } catch (e) {
    return reportError(e, io);
  }
}

async function execute(command: CliCommand, io: CliIo): Promise<ExitCode> {
  if (command.name === "help") {
    io.out(USAGE);
    return EXIT.ok;
  }
  if (command.name === "login") {
    const user = await localUser({
      user: command.auth.user!,
      dbUrl: io.env.DATABASE_URL || undefined,
      jwtSecret: io.env.JWT_SECRET || io.env.LOCAL_JWT_SECRET || undefined,
    });
    io.err(`local user ${user.email ?? user.id} (id ${user.id}) is ready; token valid for 1 hour`);
    io.out(`export BT_ACCESS_TOKEN=${user.token}`);
    return EXIT.ok;
  }
  if (command.name === "validate") {
    // Read the files first: a missing file is the user's mistake, before any request.
    const files = await Promise.all(
      command.files.map(async (path) => ({ path, content: await Deno.readTextFile(path) })),
    );
    const request = validateRequestFor(files, command.shadow);
    const api = await connect(command.auth, io);
    const report = await api.validate(request);
    io.out(command.json ? JSON.stringify(report, null, 2) : formatReport(report));
    return report.ok ? EXIT.ok : EXIT.error;
  }
  // Read the context file before any request, for the same reason.
  const schemaSql = command.name === "submit" && command.contextFile
    ? await Deno.readTextFile(command.contextFile)
    : undefined;
  const api = await connect(command.auth, io);
  switch (command.name) {
    case "submit": {
      const body: CreateRunRequest = { request: command.request };
      if (schemaSql !== undefined) body.context = { schema_sql: schemaSql };
      if (command.maxParallel !== undefined || command.budget !== undefined) {
        body.options = { max_parallel: command.maxParallel, token_budget: command.budget };
      }
      const run = await api.submit(body);
      io.out(`submitted run ${run.id} (${run.status})`);
      if (!command.follow) {
        io.out(`follow it: deno task bt status ${run.id} --follow`);
        return EXIT.ok;
      }
      return (await followRun({ api, runId: run.id, io, out: command.out })).code;
    }
    case "status": {
      if (command.follow) {
        // A run that is not the user's is a 404 here, rather than a channel Realtime refuses.
        await api.get(command.runId);
        return (await followRun({ api, runId: command.runId, io, out: command.out })).code;
      }
      const detail = await api.get(command.runId);
      io.out(command.json ? JSON.stringify(detail, null, 2) : describeRun(detail));
      return EXIT.ok;
    }
    case "answer":
      return await answer(api, command, io);
    case "cancel": {
      const run = await api.cancel(command.runId);
      io.out(`run ${run.id} is ${run.status}`);
      return EXIT.ok;
    }
    case "list": {
      const page = await api.list(command.limit);
      if (page.runs.length === 0) io.out("no runs yet");
      for (const run of page.runs) {
        const request = run.request.length > 60 ? `${run.request.slice(0, 59)}…` : run.request;
        io.out(`${run.id}  ${run.status.padEnd(22)}  ${run.created_at.slice(0, 19)}  ${request}`);
      }
      return EXIT.ok;
    }
    case "deliverable": {
      if (command.format === "json") {
        const deliverable = await api.deliverable(command.runId);
        const report = await writeDeliverableFolder(command.out, deliverable.files);
        io.out(`wrote ${report.written.length} files to ${report.dir}`);
        for (const path of report.written) io.out(`  ${path}`);
        return EXIT.ok;
      }
      const target = join(resolve(command.out), deliverableFileName(command.format, command.runId));
      await Deno.mkdir(resolve(command.out), { recursive: true });
      if (command.format === "markdown") {
        await Deno.writeTextFile(target, await api.deliverableMarkdown(command.runId));
      } else {
        await Deno.writeFile(target, await api.deliverableArchive(command.runId));
      }
      io.out(`wrote ${target}`);
      return EXIT.ok;
    }
  }
}

async function connect(auth: AuthFlags, io: CliIo): Promise<RunsApi> {
  const verbose = io.env.BT_VERBOSE === "1";
  return createRunsApi(await resolveConnection(auth, io.env), {
    onRequest: verbose ? (method, path) => io.err(`> ${method} ${path}`) : undefined,
  });
}

async function answer(
  api: RunsApi,
  command: Extract<CliCommand, { name: "answer" }>,
  io: CliIo,
): Promise<ExitCode> {
  const { run } = await api.get(command.runId);
  const pending = pendingQuestions(run);
  if (run.status !== "awaiting_clarification") {
    throw new ApiError("conflict", `run ${run.id} is ${run.status}; it is not waiting for answers`);
  }
  let answers;
  if (command.answers.length > 0) {
    answers = answersFromPairs(command.answers, pending.questions);
  } else if (io.stdinIsTerminal) {
    io.out(`run ${run.id} asks:\n${formatQuestions(pending)}`);
    answers = await askAnswers(pending, io.ask, io.out);
    if (!answers) {
      io.out(`no answers given; later: ${answerHint(run.id, pending)}`);
      return EXIT.awaitingAnswers;
    }
  } else {
    throw new UsageError(
      `answer: standard input is not a terminal, so give each answer as --answer <id>=<value>:\n` +
        `${formatQuestions(pending)}\ne.g. ${answerHint(run.id, pending)}`,
    );
  }
  const answered = await api.answer(run.id, answers);
  io.out(`answered; run ${answered.id} is ${answered.status}`);
  if (!command.follow) {
    io.out(`follow it: deno task bt status ${answered.id} --follow`);
    return EXIT.ok;
  }
  return (await followRun({
    api,
    runId: answered.id,
    io,
    out: command.out,
    minSeq: answered.last_seq,
  })).code;
}

function describeRun(detail: RunDetail): string {
  const { run, tasks } = detail;
  const lines = [
    `run ${run.id}: ${run.status}`,
    `  request: ${run.request}`,
    `  tokens: ${formatCount(run.prompt_tokens + run.completion_tokens)} of ${
      formatCount(run.token_budget)
    }`,
    `  cost: ${formatDollars(run.cost_usd)}${
      run.cost_budget_usd === null ? "" : ` of ${formatDollars(run.cost_budget_usd)}`
    }`,
  ];
  if (run.complexity) {
    lines.push(`  complexity: ${run.complexity}, strategy: ${run.strategy ?? "-"}`);
  }
  for (const t of tasks) {
    lines.push(
      `  ${t.key}  ${t.agent.padEnd(16)}  ${t.status.padEnd(10)}  attempt ${t.attempt}  ` +
        formatDollars(t.cost_usd),
    );
  }
  const agentOf = (key: string) => tasks.find((t) => t.key === key)?.agent;
  for (const d of detail.recovery) {
    lines.push(`  recovery: ${describeDecision(decisionText(d), agentOf)}`);
  }
  if (run.error) lines.push(`  error: ${run.error.code}: ${run.error.message}`);
  if (run.status === "awaiting_clarification") {
    const pending = pendingQuestions(run);
    lines.push(formatQuestions(pending), `answer with: ${answerHint(run.id, pending)}`);
  }
  if (run.status === "completed") {
    lines.push(`get the deliverable: deno task bt deliverable ${run.id} --out DIR`);
  }
  return lines.join("\n");
}
