/**
 * The `bt` command line, parsed into one typed command before anything talks to the network, so
 * every mistake (an unknown flag, a run id that is not a UUID, a budget out of range) is a usage
 * error with exit status 2 and the help text, never a half-done request. Limits come from the
 * same zod schema the API validates with.
 *
 * @example
 * ```ts
 * parseCliArgs(["submit", "A todo API", "--follow", "--out", "out/todo"]);
 * // { name: "submit", request: "A todo API", follow: true, out: "out/todo", auth: {} }
 * ```
 */
import { parseArgs } from "node:util";
import { z } from "zod";
import { RunOptions } from "../runs/mod.ts";

/** A command line that cannot be understood; the CLI exits with status 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** How the user proves who they are (see `connection.ts`). */
export interface AuthFlags {
  /** `--token`: an access token. */
  token?: string;
  /** `--user`: an email or id to mint a local token for (local stack only). */
  user?: string;
}

/** Formats of `bt deliverable`. */
export const DELIVERABLE_FORMATS = ["json", "markdown", "tar"] as const;
/** A format of `bt deliverable`. */
export type DeliverableFormat = (typeof DELIVERABLE_FORMATS)[number];

/** Shadow database backends of `bt validate`. */
export const SHADOW_BACKENDS = ["pglite", "postgres"] as const;

/** Where a followed run's deliverable goes once it completes. */
interface FollowFlags {
  follow: boolean;
  out?: string;
}

/** A parsed command. */
export type CliCommand =
  | {
    name: "submit";
    request: string;
    contextFile?: string;
    maxParallel?: number;
    budget?: number;
    auth: AuthFlags;
  } & FollowFlags
  | { name: "status"; runId: string; json: boolean; auth: AuthFlags } & FollowFlags
  | { name: "answer"; runId: string; answers: string[]; auth: AuthFlags } & FollowFlags
  | { name: "cancel"; runId: string; auth: AuthFlags }
  | { name: "list"; limit?: number; auth: AuthFlags }
  | { name: "deliverable"; runId: string; out: string; format: DeliverableFormat; auth: AuthFlags }
  | {
    name: "validate";
    files: string[];
    json: boolean;
    shadow?: (typeof SHADOW_BACKENDS)[number];
    auth: AuthFlags;
  }
  | { name: "login"; auth: AuthFlags }
  | { name: "help" };

const AUTH_OPTIONS = {
  token: { type: "string" },
  user: { type: "string" },
} as const;

const FOLLOW_OPTIONS = {
  follow: { type: "boolean", short: "f" },
  out: { type: "string", short: "o" },
} as const;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Parses `bt`'s arguments (without the program name); throws {@link UsageError}. */
export function parseCliArgs(argv: readonly string[]): CliCommand {
  const [name, ...rest] = argv;
  if (name === undefined || name === "help" || name === "--help" || name === "-h") {
    return { name: "help" };
  }
  if (rest.includes("--help") || rest.includes("-h")) return { name: "help" };
  switch (name) {
    case "submit": {
      const { values, positionals } = parse(rest, {
        ...AUTH_OPTIONS,
        ...FOLLOW_OPTIONS,
        "context-file": { type: "string" },
        "max-parallel": { type: "string" },
        budget: { type: "string" },
      });
      const request = exactlyOne(positionals, "submit", "the request, in quotes");
      if (request.trim() === "") throw new UsageError("submit: the request must not be blank");
      const options = runOptions(values["max-parallel"], values.budget);
      return {
        name,
        request,
        follow: values.follow ?? false,
        out: nonEmpty(values.out, "--out"),
        contextFile: nonEmpty(values["context-file"], "--context-file"),
        maxParallel: options.max_parallel,
        budget: options.token_budget,
        auth: auth(values),
      };
    }
    case "status": {
      const { values, positionals } = parse(rest, {
        ...AUTH_OPTIONS,
        ...FOLLOW_OPTIONS,
        json: { type: "boolean" },
      });
      return {
        name,
        runId: runId(positionals, name),
        follow: values.follow ?? false,
        out: nonEmpty(values.out, "--out"),
        json: values.json ?? false,
        auth: auth(values),
      };
    }
    case "answer": {
      const { values, positionals } = parse(rest, {
        ...AUTH_OPTIONS,
        ...FOLLOW_OPTIONS,
        answer: { type: "string", short: "a", multiple: true },
      });
      const answers = values.answer ?? [];
      for (const pair of answers) {
        if (!/^[^=\s][^=]*=/.test(pair)) {
          throw new UsageError(`answer: --answer takes <question id>=<value>, got "${pair}"`);
        }
      }
      return {
        name,
        runId: runId(positionals, name),
        answers,
        follow: values.follow ?? false,
        out: nonEmpty(values.out, "--out"),
        auth: auth(values),
      };
    }
    case "cancel": {
      const { values, positionals } = parse(rest, AUTH_OPTIONS);
      return { name, runId: runId(positionals, name), auth: auth(values) };
    }
    case "list": {
      const { values, positionals } = parse(rest, { ...AUTH_OPTIONS, limit: { type: "string" } });
      if (positionals.length > 0) throw new UsageError("list: takes no arguments");
      const limit = values.limit === undefined
        ? undefined
        : int(values.limit, "--limit", z.int().min(1).max(100));
      return { name, limit, auth: auth(values) };
    }
    case "deliverable": {
      const { values, positionals } = parse(rest, {
        ...AUTH_OPTIONS,
        out: FOLLOW_OPTIONS.out,
        format: { type: "string" },
      });
      const out = nonEmpty(values.out, "--out");
      if (!out) throw new UsageError("deliverable: --out DIR is required");
      const format = values.format ?? "json";
      if (!isOneOf(DELIVERABLE_FORMATS, format)) {
        throw new UsageError(
          `deliverable: --format must be one of ${DELIVERABLE_FORMATS.join(", ")}`,
        );
      }
      return { name, runId: runId(positionals, name), out, format, auth: auth(values) };
    }
    case "validate": {
      const { values, positionals } = parse(rest, {
        ...AUTH_OPTIONS,
        json: { type: "boolean" },
        shadow: { type: "string" },
      });
      if (positionals.length === 0) throw new UsageError("validate: name at least one SQL file");
      const shadow = values.shadow;
      if (shadow !== undefined && !isOneOf(SHADOW_BACKENDS, shadow)) {
        throw new UsageError(`validate: --shadow must be one of ${SHADOW_BACKENDS.join(", ")}`);
      }
      return { name, files: positionals, json: values.json ?? false, shadow, auth: auth(values) };
    }
    case "login": {
      const { values, positionals } = parse(rest, AUTH_OPTIONS);
      if (positionals.length > 0) throw new UsageError("login: takes no arguments");
      if (!values.user) throw new UsageError("login: --user <email> is required");
      return { name, auth: auth(values) };
    }
    default:
      throw new UsageError(`unknown command "${name}"`);
  }
}

type OptionSpec = Record<
  string,
  { type: "string" | "boolean"; short?: string; multiple?: boolean }
>;

function parse<O extends OptionSpec>(args: string[], options: O) {
  try {
    return parseArgs({ args, options, strict: true, allowPositionals: true });
  } catch (e) {
    throw new UsageError(e instanceof Error ? e.message : String(e));
  }
}

function auth(values: { token?: string; user?: string }): AuthFlags {
  const flags: AuthFlags = {};
  if (values.token !== undefined) flags.token = nonEmpty(values.token, "--token");
  if (values.user !== undefined) flags.user = nonEmpty(values.user, "--user");
  if (flags.token && flags.user) throw new UsageError("give --token or --user, not both");
  return flags;
}

function exactlyOne(positionals: string[], command: string, what: string): string {
  if (positionals.length === 0) throw new UsageError(`${command}: missing ${what}`);
  if (positionals.length > 1) {
    throw new UsageError(
      `${command}: expected one argument (${what}), got ${positionals.length}; quote the request`,
    );
  }
  return positionals[0];
}

function runId(positionals: string[], command: string): string {
  const id = exactlyOne(positionals, command, "the run id");
  if (!UUID.test(id)) throw new UsageError(`${command}: "${id}" is not a run id (a UUID)`);
  return id.toLowerCase();
}

function nonEmpty(value: string | undefined, flag: string): string | undefined {
  if (value === undefined) return undefined;
  if (value.trim() === "") throw new UsageError(`${flag} must not be empty`);
  return value;
}

function int(text: string, flag: string, schema: z.ZodType<number>): number {
  if (!/^[0-9]+$/.test(text)) throw new UsageError(`${flag} must be a whole number`);
  const parsed = schema.safeParse(Number(text));
  if (!parsed.success) {
    throw new UsageError(`${flag}: ${parsed.error.issues.map((i) => i.message).join("; ")}`);
  }
  return parsed.data;
}

function runOptions(maxParallel: string | undefined, budget: string | undefined): RunOptions {
  return {
    max_parallel: maxParallel === undefined
      ? undefined
      : int(maxParallel, "--max-parallel", RunOptions.shape.max_parallel.unwrap()),
    token_budget: budget === undefined
      ? undefined
      : int(budget, "--budget", RunOptions.shape.token_budget.unwrap()),
  };
}

function isOneOf<T extends string>(list: readonly T[], value: string): value is T {
  return (list as readonly string[]).includes(value);
}
