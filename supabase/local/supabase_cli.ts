/**
 * The real Supabase CLI, pinned (npm `supabase@2.117.0`, installed into `.local/tools` by the
 * bootstrap; `SUPABASE_CLI` names another binary), run as a child process for the commands that
 * work without Docker: `db push`, `migration list` and `db lint` with `--db-url`, and `init`. Each
 * run gets a clean environment — `PATH`, a private `HOME`, telemetry off, and a proxy nobody
 * listens on, so the release check against GitHub and error reports fail at once instead of
 * waiting on the network — a timeout, and `sslmode=disable` for loopback servers that have no TLS
 * (the CLI insists on TLS for any server it does not take for `supabase start`'s). The password
 * travels in `PGPASSWORD`, not on the command line. Output is parsed; failures are
 * {@link SupabaseCliError}s.
 *
 * The CLI keeps no lock while it pushes, so two pushes to one database at once both try the same
 * files and one fails; {@link dbPush} holds an advisory lock around it for that reason.
 *
 * @example
 * ```ts
 * const { applied } = await dbPush(databaseUrl, { workdir: repoRoot });
 * const rows = await migrationList(databaseUrl, { workdir: repoRoot });
 * ```
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { connect } from "../../shared/db/mod.ts";
import { AppError, type ErrorCode } from "../../shared/errors/mod.ts";
import { localStateDir } from "./postgres_cluster.ts";

/** The CLI version the product is tested with (the bootstrap installs exactly this one). */
export const SUPABASE_CLI_VERSION = "2.117.0";

const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));
const DEFAULT_TIMEOUT_MS = 120_000;
// The lock the product's own migration runner took, so older and newer callers still exclude
// each other. The CLI itself takes none.
const PUSH_LOCK = "supabase_migrations.schema_migrations";

/** Why the CLI could not do what was asked. */
export type SupabaseCliFailure = "not_installed" | "timed_out" | "failed";

/** A CLI run that did not succeed. `details` holds the (password-free) command and its output. */
export class SupabaseCliError extends AppError {
  readonly reason: SupabaseCliFailure;
  constructor(
    reason: SupabaseCliFailure,
    code: ErrorCode,
    message: string,
    details: Record<string, unknown>,
    options?: ErrorOptions,
  ) {
    super(code, message, details, options);
    this.name = "SupabaseCliError";
    this.reason = reason;
  }
}

/** How to run one command. */
export interface CliRunOptions {
  /** The project folder (holding `supabase/`); `--workdir` and the working directory. */
  workdir: string;
  /** Longest the command may run, in ms (default 120000); then it is stopped. */
  timeoutMs?: number;
  /** The binary (default {@link supabaseCliPath}). */
  binary?: string;
  /** Extra environment (e.g. `PGPASSWORD`); nothing else of this process' environment passes. */
  env?: Record<string, string>;
}

/** What a finished command printed. */
export interface CliOutput {
  stdout: string;
  stderr: string;
  durationMs: number;
}

/** The pinned CLI: `SUPABASE_CLI` when set, else `.local/tools/node_modules/.bin/supabase`. */
export function supabaseCliPath(env: Record<string, string | undefined> = Deno.env.toObject()) {
  return env.SUPABASE_CLI || join(REPO_ROOT, ".local/tools/node_modules/.bin/supabase");
}

/** The environment every run gets, and only it (see the module doc). */
export function cliEnvironment(home: string): Record<string, string> {
  return {
    // The npm package's entry point is a Node.js script: Node must be found.
    PATH: Deno.env.get("PATH") ?? "/usr/local/bin:/usr/bin:/bin",
    HOME: home,
    SUPABASE_TELEMETRY_DISABLED: "1",
    DO_NOT_TRACK: "1",
    SUPABASE_NO_KEYRING: "1",
    HTTPS_PROXY: "http://127.0.0.1:9",
    HTTP_PROXY: "http://127.0.0.1:9",
  };
}

/**
 * A database URL as the CLI should get it: without its password (returned apart, for
 * `PGPASSWORD`), and with `sslmode=disable` on a loopback host unless the URL sets `sslmode`.
 */
export function cliDatabaseUrl(url: string): { url: string; password?: string } {
  const u = new URL(url);
  const password = u.password ? decodeURIComponent(u.password) : undefined;
  u.password = "";
  const loopback = ["127.0.0.1", "localhost", "[::1]"].includes(u.hostname);
  if (loopback && !u.searchParams.has("sslmode")) u.searchParams.set("sslmode", "disable");
  return { url: u.toString(), password };
}

/** Runs `supabase <args>`; throws {@link SupabaseCliError} unless it exits with 0. */
export async function runSupabaseCli(args: string[], options: CliRunOptions): Promise<CliOutput> {
  const binary = options.binary ?? supabaseCliPath();
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const home = join(localStateDir(), "supabase-cli-home");
  await Deno.mkdir(home, { recursive: true });
  const command = ["supabase", ...args];
  const started = performance.now();
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(binary, {
      args: [...args, "--workdir", options.workdir],
      cwd: options.workdir,
      clearEnv: true,
      env: { ...cliEnvironment(home), ...options.env },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new SupabaseCliError(
        "not_installed",
        "config_missing",
        `the Supabase CLI is not installed at ${binary}: run \`bash supabase/local/bootstrap.sh\` ` +
          `(it installs supabase@${SUPABASE_CLI_VERSION}) or set SUPABASE_CLI`,
        { binary, command },
        { cause: e },
      );
    }
    throw e;
  }
  const stdout = new Response(child.stdout).text();
  const stderr = new Response(child.stderr).text();
  let timedOut = false;
  const signal = (name: Deno.Signal) => {
    try {
      child.kill(name);
    } catch {
      // it ended meanwhile
    }
  };
  const term = setTimeout(() => {
    timedOut = true;
    signal("SIGTERM");
  }, timeoutMs);
  // The npm entry point forwards SIGTERM to the CLI; one that ignores it is killed.
  const kill = setTimeout(() => signal("SIGKILL"), timeoutMs + 5000);
  let status: Deno.CommandStatus;
  try {
    status = await child.status;
  } finally {
    clearTimeout(term);
    clearTimeout(kill);
  }
  // A stopped CLI's own children may still hold its output open: read what came, briefly.
  const streams = Promise.all([stdout, stderr]);
  const [out, err] = timedOut
    ? await Promise.race([streams, delay(1000).then(() => ["", ""])])
    : await streams;
  const output = { stdout: out, stderr: err, durationMs: Math.round(performance.now() - started) };
  if (timedOut) {
    throw new SupabaseCliError(
      "timed_out",
      "infrastructure_error",
      `\`${command.slice(0, 3).join(" ")}\` was stopped after ${timeoutMs} ms`,
      { command, ...output },
    );
  }
  if (!status.success) {
    throw new SupabaseCliError(
      "failed",
      "infrastructure_error",
      `\`${command.slice(0, 3).join(" ")}\` failed (exit ${status.code}): ${lastLines(output)}`,
      { command, exitCode: status.code, ...output },
    );
  }
  return output;
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function lastLines(output: CliOutput): string {
  const lines = output.stderr.split("\n").map((l) => l.trim())
    .filter((l) => l && !l.startsWith("Try rerunning the command"));
  return lines.slice(-3).join(" | ") || "no output";
}

// --db-url and the password apart, for a command that takes a database.
function databaseArgs(dbUrl: string): { args: string[]; env: Record<string, string> } {
  const { url, password } = cliDatabaseUrl(dbUrl);
  return { args: ["--db-url", url], env: password === undefined ? {} : { PGPASSWORD: password } };
}

/** `supabase --version`: the version of the binary that runs. */
export async function supabaseCliVersion(options: Partial<CliRunOptions> = {}): Promise<string> {
  const workdir = options.workdir ?? await Deno.makeTempDir({ prefix: "bt_supabase_cli_" });
  try {
    const { stdout } = await runSupabaseCli(["--version"], { ...options, workdir });
    return stdout.trim();
  } finally {
    if (!options.workdir) await Deno.remove(workdir, { recursive: true });
  }
}

/** `supabase init` in `workdir`: writes `supabase/config.toml` as the CLI does for a new project. */
export async function supabaseInit(options: CliRunOptions): Promise<void> {
  await runSupabaseCli(["init"], options);
}

/**
 * Pushes the product's own migrations (`migrations/`, which `supabase/migrations` links to) with
 * the product's `supabase/config.toml`, as `supabase db push` run in the repository would. The
 * platform SQL must be in place first: the migrations reference `auth` and the API roles.
 */
export function pushProductMigrations(
  dbUrl: string,
  options: Omit<CliRunOptions, "workdir"> = {},
): Promise<PushReport> {
  return dbPush(dbUrl, { ...options, workdir: REPO_ROOT });
}

/** What {@link dbPush} did. */
export interface PushReport {
  /** Migration files applied, in order (empty when the database was up to date). */
  applied: string[];
  durationMs: number;
}

/**
 * `supabase db push --db-url <url> --yes` for the migrations in `<workdir>/supabase/migrations`,
 * holding an advisory lock on the database meanwhile so concurrent pushes run one after the other
 * (the second then finds nothing to do). A failed migration is a `migration_failed`
 * {@link SupabaseCliError} naming the file, the line and the statement.
 */
export async function dbPush(dbUrl: string, options: CliRunOptions): Promise<PushReport> {
  const db = databaseArgs(dbUrl);
  const lock = connect(dbUrl, { max: 1, applicationName: "backend-team db push lock" });
  try {
    const conn = await lock.reserve();
    try {
      await conn`select pg_advisory_lock(hashtext(${PUSH_LOCK}))`;
      let output: CliOutput;
      try {
        output = await runSupabaseCli(["db", "push", ...db.args, "--yes"], {
          ...options,
          env: { ...options.env, ...db.env },
        });
      } catch (e) {
        if (e instanceof SupabaseCliError && e.reason === "failed") {
          throw await migrationFailure(e, options.workdir);
        }
        throw e;
      } finally {
        await conn`select pg_advisory_unlock(hashtext(${PUSH_LOCK}))`.catch(() => {});
      }
      return { applied: appliedFiles(output.stderr), durationMs: output.durationMs };
    } finally {
      conn.release();
    }
  } finally {
    await lock.end({ timeout: 5 });
  }
}

/**
 * Pushes migrations held in memory — a deliverable's `supabase/migrations/<version>_<name>.sql`
 * files; other paths are ignored — from a temporary project folder, removed afterwards.
 */
export async function pushMigrationFiles(
  dbUrl: string,
  files: readonly { path: string; content: string }[],
  options: Omit<CliRunOptions, "workdir"> = {},
): Promise<PushReport> {
  const workdir = await Deno.makeTempDir({ prefix: "bt_push_" });
  try {
    await Deno.mkdir(join(workdir, "supabase/migrations"), { recursive: true });
    for (const f of files) {
      if (/^supabase\/migrations\/[^/]+\.sql$/.test(f.path)) {
        await Deno.writeTextFile(join(workdir, f.path), f.content);
      }
    }
    return await dbPush(dbUrl, { ...options, workdir });
  } finally {
    await Deno.remove(workdir, { recursive: true });
  }
}

/** The files `db push` reported applying (`Applying migration <file>...`). */
export function appliedFiles(stderr: string): string[] {
  return [...stderr.matchAll(/^Applying migration (\S+\.sql)\.\.\.$/gm)].map((m) => m[1]);
}

/** What a failed `db push` printed about the failure. */
export interface PushFailure {
  /** The file being applied. */
  file?: string;
  message: string;
  sqlstate?: string;
  /** 0-based index of the failing statement in the file, as the CLI splits it. */
  statementIndex?: number;
  /** The statement's text up to the failing line (the CLI cuts it there). */
  statement?: string;
  /** Whether the CLI marked a position (a caret line) below the failing line. */
  marked: boolean;
}

/** Parses the failure part of `db push`'s stderr. */
export function parsePushFailure(stderr: string): PushFailure {
  const file = appliedFiles(stderr).at(-1);
  const lines = stderr.split("\n");
  const errorAt = lines.findLastIndex((l) => /^ERROR: /.test(l));
  const error = /^ERROR: (.*?)(?: \(SQLSTATE (\w{5})\))?$/.exec(lines[errorAt] ?? "");
  const atIndex = lines.findIndex((l, i) => i > errorAt && /^At statement: \d+$/.test(l));
  let statement: string | undefined;
  let marked = false;
  if (atIndex >= 0) {
    const end = lines.findIndex((l, i) => i > atIndex && l.startsWith("Try rerunning the command"));
    const body = lines.slice(atIndex + 1, end < 0 ? undefined : end);
    while (body.length > 0 && body.at(-1)!.trim() === "") body.pop();
    if (body.length > 0 && /^ *\^$/.test(body.at(-1)!)) {
      marked = true;
      body.pop();
    }
    statement = body.join("\n");
  }
  return {
    file,
    message: error?.[1] ?? lastLines({ stdout: "", stderr, durationMs: 0 }),
    sqlstate: error?.[2],
    statementIndex: atIndex >= 0
      ? Number(lines[atIndex].slice("At statement: ".length))
      : undefined,
    statement,
    marked,
  };
}

/**
 * The 1-based line of the failure in the file's text: where the printed statement starts, plus
 * the lines down to the one the CLI marked. Undefined when the statement is not found.
 */
export function failureLine(fileText: string, failure: PushFailure): number | undefined {
  if (!failure.statement) return undefined;
  const at = fileText.indexOf(failure.statement);
  if (at < 0) return undefined;
  const start = fileText.slice(0, at).split("\n").length;
  return failure.marked ? start + failure.statement.split("\n").length - 1 : start;
}

async function migrationFailure(e: SupabaseCliError, workdir: string): Promise<SupabaseCliError> {
  const details = e.details as Record<string, unknown>;
  const failure = parsePushFailure(String(details.stderr ?? ""));
  let line: number | undefined;
  if (failure.file) {
    const path = join(workdir, "supabase/migrations", failure.file);
    line = failureLine(await Deno.readTextFile(path).catch(() => ""), failure);
  }
  const where = failure.file ? `${failure.file}${line ? `:${line}` : ""}: ` : "";
  return new SupabaseCliError("failed", "migration_failed", `${where}${failure.message}`, {
    ...details,
    file: failure.file,
    line,
    statement: failure.statement,
    statementIndex: failure.statementIndex,
    sqlstate: failure.sqlstate,
  }, { cause: e });
}

/** One row of `supabase migration list`: a version known locally, remotely, or both. */
export interface MigrationListRow {
  local: string | null;
  remote: string | null;
  /** The version read as a time, `YYYY-MM-DD HH:MM:SS` (UTC). */
  time: string;
}

/** `supabase migration list --db-url <url>`, parsed. */
export async function migrationList(
  dbUrl: string,
  options: CliRunOptions,
): Promise<MigrationListRow[]> {
  const db = databaseArgs(dbUrl);
  const { stdout } = await runSupabaseCli(["migration", "list", ...db.args], {
    ...options,
    env: { ...options.env, ...db.env },
  });
  return parseMigrationList(stdout);
}

/** Parses the table `migration list` prints (`Local | Remote | Time (UTC)`). */
export function parseMigrationList(stdout: string): MigrationListRow[] {
  const rows: MigrationListRow[] = [];
  for (const line of stdout.split("\n")) {
    const cells = line.split("|").map((c) => c.trim().replace(/^`(.*)`$/, "$1").trim());
    if (cells.length !== 3 || cells[0] === "Local" || /^-+$/.test(cells[0])) continue;
    rows.push({ local: cells[0] || null, remote: cells[1] || null, time: cells[2] });
  }
  return rows;
}

/** Options of {@link dbLint}. */
export interface LintOptions extends CliRunOptions {
  /** Lowest level reported (default `warning`). */
  level?: "warning" | "error";
  /** Schemas to lint (default: the CLI's choice, every user schema). */
  schemas?: string[];
}

/**
 * `supabase db lint --db-url <url> --level <level>`: plpgsql_check on every PL/pgSQL function of
 * the schemas (trigger functions aside). Returns what the CLI printed on stdout — JSON
 * `[{ function, issues }]`, or nothing when it found nothing; `parseLintOutput` in
 * shared/validation/plpgsql_check.ts reads it. The CLI creates the extension if the role may;
 * either way it must be on the role's `search_path`, as `extensions` is on Supabase.
 */
export async function dbLint(dbUrl: string, options: LintOptions): Promise<string> {
  const db = databaseArgs(dbUrl);
  const args = ["db", "lint", ...db.args, "--level", options.level ?? "warning"];
  if (options.schemas?.length) args.push("--schema", options.schemas.join(","));
  const { stdout } = await runSupabaseCli(args, { ...options, env: { ...options.env, ...db.env } });
  return stdout;
}
