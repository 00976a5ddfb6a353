/**
 * The agent workers' validator (`ArtifactValidator`): an attempt's migrations (with their
 * rollbacks), the queries its indexes serve, its edge function sources and its private Realtime
 * channels go to the shadow database validator (shared/validation) on top of the project's schema
 * and the migrations the run has already accepted — parsed, applied, linted like Supabase's
 * advisors, attacked with behavioural RLS probes, rolled back, EXPLAINed and type-checked; and,
 * by default, every layer proven where it applies: the edge-functions agent's functions are
 * started and called (`function_run.ts`), the websocket agent's private channels joined as the
 * owner, another user and anon (through the injected {@link ChannelProbe}), and the
 * query-optimizer's indexes measured with `EXPLAIN (ANALYZE, BUFFERS)` before and after on
 * synthetic rows (`BT_INDEX_BENCH_ROWS`, default 50 000). Where a layer cannot be proven here (no
 * subprocesses on the hosted runtime, no channel probe, a PGlite shadow) the report carries an
 * info finding that says so. The measurements travel with the summary (`benchmarks`), so the
 * deliverable can show both plans. Untrusted SQL never touches the product database.
 *
 * @example
 * ```ts
 * const validator = createShadowValidator(Deno.env.toObject(), { channelProbe });
 * const summary = await validator.validate({ agent, artifacts, accepted });
 * ```
 */
import type { ArtifactDraft, ArtifactValidator, ValidationSummary } from "../execution/mod.ts";
// The validator's own modules, not shared/validation's barrel: a worker does not load the
// `validate` function's app, CLI and OpenAPI document it never serves.
import { ChannelCase, type ChannelProbe } from "../validation/channel_probe.ts";
import type { QueryCheck } from "../validation/explain.ts";
import { type Finding, finding } from "../validation/finding.ts";
import type { IndexBenchmark } from "../validation/index_benefit.ts";
import {
  type BaselineInput,
  DocumentedEndpointInput,
  type MigrationInput,
} from "../validation/request.ts";
import { checkDeployConfig, type DeployConfigInput } from "../validation/deploy_config.ts";
import type { DocumentedEndpoint } from "../validation/function_contract.ts";
import type { FunctionFile } from "../validation/typecheck.ts";
import { validateMigrations } from "../validation/validate.ts";
import type { ShadowDatabase } from "../shadow/mod.ts";
import { createSlots } from "./slots.ts";

/** What the composition root may inject or turn off. */
export interface ShadowValidatorPorts {
  /** Joins channels on a shadow Realtime (the local stack gives one; hosted has none). */
  channelProbe?: ChannelProbe;
  /** Start delivered functions and call them (default true; needs subprocesses). */
  runFunctions?: boolean;
  /** Rows per queried table for the index measurement (default `BT_INDEX_BENCH_ROWS` or 50 000). */
  benchmarkRows?: number;
  /** Measure indexes at all (default true). */
  benchmark?: boolean;
  /** A shadow of the caller's (tests), instead of the process-wide one the environment names. */
  shadow?: ShadowDatabase;
  /**
   * Validations at once in this process (default `BT_VALIDATIONS_PER_WORKER` or 2): each holds a
   * shadow session and its parse trees, so a worker with many messages in flight stays small.
   */
  validationsAtOnce?: number;
}

/** A {@link ValidationSummary} with the index measurements of the attempt, when any. */
export type ShadowValidationSummary = ValidationSummary & {
  findings: Finding[];
  benchmarks?: IndexBenchmark[];
};

/** The validator, on PostgreSQL when `SHADOW_DATABASE_URL` is set, else on PGlite. */
export function createShadowValidator(
  env: Record<string, string | undefined> = Deno.env.toObject(),
  ports: ShadowValidatorPorts = {},
): ArtifactValidator {
  const shadow = ports.shadow ?? (env.SHADOW_DATABASE_URL ? "postgres" : "pglite");
  const rows = ports.benchmarkRows ?? positiveInt(env.BT_INDEX_BENCH_ROWS);
  const slots = createSlots(
    ports.validationsAtOnce ?? positiveInt(env.BT_VALIDATIONS_PER_WORKER) ?? 2,
  );
  return {
    async validate(
      { artifacts, accepted, baseSql, schema, dependencies, beforeShadow },
    ): Promise<ValidationSummary> {
      const request = validationRequest(artifacts, dependencies);
      const config = request.deployConfig ? await ownDeployFindings(request.deployConfig) : [];
      if (request.files.length === 0 && request.functions.length === 0) {
        const findings = [...config, ...request.notJoined];
        const errors = findings.filter((f) => f.level === "error").length;
        return {
          ok: errors === 0,
          errors,
          warnings: findings.filter((f) => f.level === "warn").length,
          findings,
        };
      }
      const baseline: BaselineInput[] = [
        ...(baseSql ? [{ name: "project_schema.sql", sql: baseSql }] : []),
        ...accepted.map((m) => ({ name: fileName(m.path), sql: m.up })),
      ];
      await beforeShadow?.();
      const report = await slots.run(() =>
        validateMigrations({
          files: request.files,
          queries: request.queries,
          functions: request.functions,
          channels: request.channels,
          channelProbe: ports.channelProbe,
          runFunctions: ports.runFunctions ?? true,
          endpoints: request.endpoints,
          verifyJwt: request.verifyJwt,
          benchmark: ports.benchmark === false ? false : rows ? { rows } : true,
          baseline,
          shadow,
          schema,
        })
      );
      const findings = [...report.findings, ...config, ...request.notJoined];
      const summary: ShadowValidationSummary = {
        ok: report.ok && !config.some((f) => f.level === "error"),
        errors: findings.filter((f) => f.level === "error").length,
        warnings: findings.filter((f) => f.level === "warn").length,
        findings,
        durationMs: Math.round(report.durationMs),
        ...(report.benchmarks ? { benchmarks: report.benchmarks } : {}),
        ...(report.schema ? { schema: report.schema } : {}),
      };
      return summary;
    },
  };
}

/** The deploy-config check of an attempt, and which files of it are the attempt's own. */
export interface OwnDeployConfig {
  input: DeployConfigInput;
  /** Paths (config files, `<function>/<file>` sources) this attempt delivered. */
  own: ReadonlySet<string>;
}

/**
 * `checkDeployConfig` on the attempt together with what it builds on, keeping only the findings on
 * the attempt's own files: a deployment attempt answers for its `config.toml`, not for an
 * undeclared variable in the functions an earlier task wrote.
 */
async function ownDeployFindings(config: OwnDeployConfig): Promise<Finding[]> {
  return (await checkDeployConfig(config.input)).filter((f) => f.file && config.own.has(f.file));
}

/** What of an attempt's artifacts the validator checks. Pure. */
export function validationRequest(
  artifacts: readonly ArtifactDraft[],
  dependencies: readonly { agent: string; output: unknown }[] = [],
): {
  files: MigrationInput[];
  queries: QueryCheck[];
  functions: FunctionFile[];
  channels: ChannelCase[];
  /** Info findings for private channels that cannot be joined as "the owner". */
  notJoined: Finding[];
  /** The endpoints the functions are held to (the api-data dependencies' `ApiEndpoint`s). */
  endpoints: DocumentedEndpoint[];
  /** `verify_jwt` per function, as the edge-functions agent declared it. */
  verifyJwt: Record<string, boolean>;
  /** The config-agrees check, when the attempt delivers a `config.toml` or functions. */
  deployConfig?: OwnDeployConfig;
} {
  const files = artifacts.filter((a) => a.kind === "migration").map((a) => ({
    name: fileName(a.path),
    sql: a.content,
    ...(typeof a.meta.down_sql === "string" ? { down: a.meta.down_sql } : {}),
  }));
  const queries = artifacts
    .filter((a) =>
      a.kind === "index" && typeof a.meta.serves_query === "string" &&
      typeof a.meta.name === "string"
    )
    .map((a) => ({
      name: String(a.meta.name),
      sql: String(a.meta.serves_query),
      index: String(a.meta.name),
    }));
  const functions = artifacts
    .filter((a) => a.kind === "edge_function" && /\.(ts|tsx|mts|js|mjs)$/.test(a.path))
    .map((a) => ({ name: a.path.replace(/^supabase\/functions\//, ""), source: a.content }));
  const channels: ChannelCase[] = [];
  const notJoined: Finding[] = [];
  for (const a of artifacts) {
    if (typeof a.meta.topic !== "string" || a.meta.private !== true) continue;
    const topic = ownerTopic(a.meta.topic);
    if (topic && files.length > 0 && channels.length < MAX_CHANNELS) {
      const parsed = ChannelCase.safeParse({ topic, event: "probe" });
      if (parsed.success) {
        channels.push(parsed.data);
        continue;
      }
    }
    notJoined.push(finding(
      "realtime_probe_not_run",
      `private channel ${a.meta.topic.slice(0, 200)} was not joined: ${
        !topic
          ? "its topic is not keyed by the user's id (e.g. `notes:<user_id>`), so no " +
            "owner can be made for it"
          : files.length === 0
          ? "no migration of this task authorizes it"
          : `at most ${MAX_CHANNELS} channels are joined per validation`
      }; its policies were only linted`,
      { file: `channel ${a.meta.topic.slice(0, 200)}`, line: null },
    ));
  }
  const verifyJwt: Record<string, boolean> = {};
  const declaredEnv: string[] = [];
  for (const a of artifacts) {
    if (
      a.kind === "edge_function" && typeof a.meta.function_name === "string" &&
      typeof a.meta.verify_jwt === "boolean"
    ) {
      verifyJwt[a.meta.function_name] = a.meta.verify_jwt;
    }
    declaredEnv.push(...envNames(a.meta.env_vars));
  }
  const earlier = dependencies.map((d) => artifactsOf(d.output));
  const endpoints = earlier.flatMap((o) => o.endpoints);
  const configFiles = artifacts
    .filter((a) => a.path === "config.toml" || a.path.endsWith("/config.toml"))
    .map((a) => ({ path: a.path, content: a.content }));
  const earlierFunctions = earlier.flatMap((o) => o.functions);
  const deployConfig: OwnDeployConfig | undefined = configFiles.length > 0 || functions.length > 0
    ? {
      input: {
        configFiles,
        functions: [
          ...functions,
          ...earlierFunctions.filter((f) => !functions.some((g) => g.name === f.name)),
        ],
        declaredEnv: [...declaredEnv, ...earlier.flatMap((o) => o.env)],
        declaredVerifyJwt: {
          ...Object.fromEntries(earlier.flatMap((o) => Object.entries(o.verifyJwt))),
          ...verifyJwt,
        },
      },
      own: new Set([...configFiles.map((f) => f.path), ...functions.map((f) => f.name)]),
    }
    : undefined;
  // The index queries need the SQL that creates their indexes; without files they cannot run.
  return {
    files,
    queries: files.length > 0 ? queries : [],
    functions,
    channels,
    notJoined,
    endpoints,
    verifyJwt,
    ...(deployConfig ? { deployConfig } : {}),
  };
}

// Variable names from an artifact's `env_vars` meta: names (edge functions) or `{ name }` (setup).
function envNames(value: unknown): string[] {
  if (!Array.isArray(value)) return [];
  return value.map((v) =>
    typeof v === "string"
      ? v
      : typeof v === "object" && v !== null
      ? (v as { name?: unknown }).name
      : null
  ).filter((n): n is string => typeof n === "string");
}

/**
 * What an earlier task's output (an agent's envelope, read structurally: it is stored JSON) gives
 * this validation: its documented endpoints, its functions' sources, declared env and verify_jwt.
 */
function artifactsOf(output: unknown): {
  endpoints: DocumentedEndpoint[];
  functions: FunctionFile[];
  env: string[];
  verifyJwt: Record<string, boolean>;
} {
  const artifacts = typeof output === "object" && output !== null
    ? (output as { artifacts?: unknown }).artifacts
    : undefined;
  const list = (key: string): unknown[] => {
    const v = typeof artifacts === "object" && artifacts !== null
      ? (artifacts as Record<string, unknown>)[key]
      : undefined;
    return Array.isArray(v) ? v : [];
  };
  const endpoints = list("endpoints").flatMap((e) => {
    const parsed = DocumentedEndpointInput.safeParse(e);
    return parsed.success ? [parsed.data] : [];
  });
  const functions: FunctionFile[] = [];
  const verifyJwt: Record<string, boolean> = {};
  const env = envNames(list("env_vars"));
  for (const f of list("functions")) {
    if (typeof f !== "object" || f === null) continue;
    const fn = f as {
      function_name?: unknown;
      verify_jwt?: unknown;
      env_vars?: unknown;
      files?: unknown;
    };
    if (typeof fn.function_name !== "string") continue;
    if (typeof fn.verify_jwt === "boolean") verifyJwt[fn.function_name] = fn.verify_jwt;
    env.push(...envNames(fn.env_vars));
    for (const file of Array.isArray(fn.files) ? fn.files : []) {
      const { path, content } = (file ?? {}) as { path?: unknown; content?: unknown };
      if (
        typeof path === "string" && typeof content === "string" &&
        /\.(ts|tsx|mts|js|mjs)$/.test(path)
      ) {
        functions.push({ name: `${fn.function_name}/${path}`, source: content });
      }
    }
  }
  return { endpoints, functions, env, verifyJwt };
}

const MAX_CHANNELS = 10;

// The user-id placeholders agents write in topic patterns, each becoming the probe's `{uid}`
// (`<user_id>`, `{userId}`, `${uid}`…; a bare `:user_id` is too ambiguous in colon-separated topics).
const USER_PLACEHOLDER =
  /<\s*(user_?id|uid|owner_?id|auth\.uid\(\))\s*>|\{\s*(user_?id|uid|owner_?id)\s*\}|\$\{\s*(user_?id|uid|userId|ownerId)\s*\}/gi;

/** The topic with its user-id placeholder as `{uid}`, or null when it names no user. Pure. */
export function ownerTopic(pattern: string): string | null {
  if (!new RegExp(USER_PLACEHOLDER.source, "i").test(pattern)) return null;
  const topic = pattern.replace(USER_PLACEHOLDER, "{uid}");
  // Other placeholders stay unknown: the owner could not be authorized for them.
  return /[<>]|\$\{/.test(topic) ? null : topic;
}

function positiveInt(v: string | undefined): number | undefined {
  const n = Number(v);
  return Number.isInteger(n) && n > 0 ? n : undefined;
}

function fileName(path: string): string {
  return path.split("/").at(-1) ?? path;
}
