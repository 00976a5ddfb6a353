/**
 * Delivery (phase 7): assembling a finished run into one deliverable — a Supabase project folder
 * (timestamped migrations, down migrations, functions, docs, deploy config, generated pgTAP tests,
 * a README) plus a sections index stored as the run's result — validating the project's schema
 * and the merged migrations together on the shared proving ground (a shared/shadow session with
 * shared/validation's parser, catalog, row synthesis and limits), and serving the result as JSON,
 * Markdown or a tar(.gz) archive. The assembly, the Markdown, the tests' text and the archive are
 * pure; the shadow, the product database and HTTP are adapters.
 *
 * Storage decision: the task artifacts stay as the agents produced them; the deliverable's files
 * are added as artifact rows with `task_id = null` under `deliverable/` (the dashboard browses
 * them as rows), and the sections index (summary, sections, file count, validation) is the run's
 * `result`.
 *
 * @example
 * ```ts
 * import { deliverRun } from "../delivery/mod.ts";
 * import { sharedShadow } from "../shadow/mod.ts";
 * const shadow = () => sharedShadow("postgres"); // or "pglite"
 * const deliver = (run: RunRecord, msgId: number) => deliverRun({ sql, shadow }, run, msgId);
 * ```
 */
export type {
  AssemblyInput,
  DeliveryArtifact,
  DeliveryDecision,
  DeliveryRun,
  DeliveryTask,
} from "./assembly_input.ts";
export {
  type AssembledDeliverable,
  assembleDeliverable,
  type AssembleRequest,
  SUPABASE_PROVIDED_ENV,
} from "./assemble.ts";
export {
  artifactOrder,
  downSql,
  MIGRATIONS_FOLDER,
  migrationVersion,
  type OrderedMigration,
  orderMigrations,
  ROLLBACKS_FOLDER,
  taskOrder,
} from "./migration_order.ts";
export { renderDeliverableMarkdown, renderStoredDeliverable } from "./markdown.ts";
export { gzip, tarArchive, type TarEntry, type TarOptions } from "./tar.ts";
export {
  DELIVERABLE_MEDIA_TYPES,
  deliverableArchiveEntries,
  type DeliverableFormat,
  deliverableResponse,
  negotiateDeliverableFormat,
} from "./http_format.ts";
export {
  type ColumnModel,
  EXPOSED_SCHEMAS,
  type ExpressionModel,
  type ForeignKeyModel,
  type IndexModel,
  modelTableIds,
  PLATFORM_SCHEMAS,
  type PolicyModel,
  type SchemaModel,
  schemaModel,
  type TableModel,
} from "./schema_model.ts";
export { FIXTURE_OTHER, FIXTURE_OWNER, type FixtureRow } from "./fixtures.ts";
export { findFixtures, type Fixtures } from "./fixture_search.ts";
export { type GeneratedTest, generatePgtapTests, reachOf, TEST_FOLDER } from "./pgtap.ts";
export { pgtapInstallScript, runPgtapFiles, type TestRun } from "./pgtap_run.ts";
export {
  FUNCTION_TEST_FOLDER,
  type FunctionEndpoint,
  type FunctionTestFile,
  generateFunctionTests,
} from "./function_tests.ts";
export { parseTap, type TapResult } from "./tap.ts";
export {
  type IndexStatement,
  type MigrationFacts,
  migrationFacts,
  type PolicyStatement,
} from "./migration_facts.ts";
export {
  BASE_SCHEMA_PATH,
  type IntegrationInput,
  type IntegrationOutcome,
  type MigrationToValidate,
  validateIntegration,
  WHOLE_CHECK_PATH,
} from "./integration.ts";
export {
  type DeliverDeps,
  deliverRun,
  type DeliveryOutcome,
  integrationFindings,
} from "./deliver_run.ts";
