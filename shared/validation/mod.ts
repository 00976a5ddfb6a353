/**
 * The shadow database validator: untrusted SQL (an agent's or a user's) is applied to a disposable
 * database and checked — syntax, apply errors, Supabase advisor lints, behavioural RLS isolation
 * probes, migration safety, rollback, index use, edge function type-checks — and never runs on
 * the product database. `validateMigrations` is the one entry; `POST /validate` and
 * `deno task validate` are thin wrappers around it.
 *
 * @example
 * ```ts
 * import { validateMigrations } from "../validation/mod.ts";
 *
 * const report = await validateMigrations({
 *   baseline: [{ name: "001_profiles.sql", sql: acceptedSql }],
 *   files: [{ name: "002_notes.sql", sql: upSql, down: downSql }],
 *   queries: [{ sql: "select * from public.notes where user_id = $1", index: "notes_user_id_idx" }],
 *   functions: [{ name: "notes/index.ts", source }],
 *   shadow: "pglite", // or "postgres" (SHADOW_DATABASE_URL), or a ShadowDatabase of your own
 * });
 * // report: { ok, findings: [{ rule, level, message, file, line, statement, object? }], durationMs }
 * ```
 */
export { validateMigrations, type ValidateOptions } from "./validate.ts";
export {
  boundedSession,
  DEFAULT_VALIDATION_LIMITS,
  type ValidationLimits,
  validationLimits,
} from "./bounds.ts";
export {
  BaselineInput,
  DocumentedEndpointInput,
  downFileName,
  MigrationInput,
  ValidateRequest,
  ValidationReport,
} from "./request.ts";
export { Finding, finding, Level, RuleName, RULES, type RuleSource } from "./finding.ts";
export { QueryCheck } from "./explain.ts";
export {
  DEFAULT_BENCH_ROWS,
  type IndexBenchmark,
  measureIndexBenefit,
  type PlanRun,
} from "./index_benefit.ts";
export { nPlusOneFindings } from "./n_plus_one.ts";
export {
  ChannelCase,
  type ChannelProbe,
  type Joiner,
  type JoinOutcome,
  probeChannels,
} from "./channel_probe.ts";
export {
  channelProbeFromEnv,
  channelProbeHandler,
  remoteChannelProbe,
} from "./channel_probe_remote.ts";
export { FunctionFile } from "./typecheck.ts";
export {
  functionEntries,
  functionProbeNotRun,
  type FunctionRunOptions,
  runFunctionChecks,
} from "./function_run.ts";
export {
  compileSchema,
  contractOf,
  type DocumentedEndpoint,
  exampleOf,
} from "./function_contract.ts";
export { restStandIn, type RestStandInOptions } from "./function_rest.ts";
export {
  checkDeployConfig,
  type DeliveredFunction,
  type DeployConfigInput,
  deployConfigInputOf,
  type FunctionFacts,
  functionFacts,
  PLATFORM_ENV,
} from "./deploy_config.ts";
export { formatReport } from "./report.ts";
export { validateOpenApi } from "./openapi.ts";
export {
  createValidateApp,
  loadValidateConfig,
  VALIDATE_MAX_BODY_BYTES,
  VALIDATE_PATH,
  type ValidateAppDeps,
  type ValidateConfig,
  ValidateEnv,
} from "./http.ts";
export { EXIT as VALIDATE_EXIT, migrationsFromPaths, runValidateCli } from "./cli.ts";
// The proving ground's parts, for delivery's integration check (shared/delivery), which runs
// untrusted SQL on the same shadows, with the same parser, catalog, row synthesis and limits.
export {
  type Catalog,
  type CatalogColumn,
  type CatalogConstraint,
  type CatalogIndex,
  type CatalogPolicy,
  CHECK_TIMEOUT_MS,
  readCatalog,
} from "./catalog.ts";
export {
  lineOfPosition,
  type ParsedFile,
  type ParsedStatement,
  parseExpression,
  parseSqlFile,
} from "./parse.ts";
export { columnsComparedToUid } from "./policy_expr.ts";
export {
  type Owner,
  RowSynthesisError,
  RowSynthesizer,
  SERVICE,
  type Values,
} from "./row_synthesis.ts";
export { diffSnapshots, type SchemaSnapshot, snapshotOf } from "./schema_snapshot.ts";
export { unsafeStatementReason } from "./static_rules.ts";
export { extensionsNeeded } from "./extensions_needed.ts";
export { LintIssue, LintResult, parseLintOutput, runPlpgsqlCheck } from "./plpgsql_check.ts";
