/**
 * Delivery (phase 7): assembling a finished run into one deliverable — a Supabase project folder
 * (timestamped migrations, down migrations, functions, docs, deploy config, generated pgTAP tests,
 * a README) plus a sections index stored as the run's result — validating the merged migrations
 * together on a shadow database, and serving the result as JSON, Markdown or a tar(.gz) archive.
 * The assembly, the Markdown, the tests' text and the archive are pure; the shadow database, the
 * product database and HTTP are adapters.
 *
 * Storage decision: the task artifacts stay as the agents produced them; the deliverable's files
 * are added as artifact rows with `task_id = null` under `deliverable/` (the dashboard browses
 * them as rows), and the sections index (summary, sections, file count, validation) is the run's
 * `result`.
 *
 * @example
 * ```ts
 * import { deliverRun, postgresDeliveryShadow } from "../delivery/mod.ts";
 * const shadow = postgresDeliveryShadow({ adminUrl, prepare: applyPlatformSql });
 * const deliver = (run: RunRecord, msgId: number) => deliverRun({ sql, shadow }, run, msgId);
 * ```
 */
export type {
  AssemblyInput,
  DeliveryArtifact,
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
  type CatalogTable,
  EXPOSED_SCHEMAS,
  PLATFORM_SCHEMAS,
  readCatalog,
  type SchemaCatalog,
  schemaSnapshot,
  tableIds,
} from "./catalog.ts";
export { FIXTURE_OTHER, FIXTURE_OWNER } from "./fixtures.ts";
export { findFixtures, type Fixtures } from "./fixture_search.ts";
export { type GeneratedTest, generatePgtapTests, reachOf, TEST_FOLDER } from "./pgtap.ts";
export { parseTap, type TapResult } from "./tap.ts";
export {
  type IntegrationInput,
  type IntegrationOutcome,
  type MigrationToValidate,
  validateIntegration,
} from "./integration.ts";
export {
  type DeliveryShadow,
  type Row,
  type ShadowSession,
  type SqlErrorFacts,
  sqlErrorFacts,
} from "./shadow_port.ts";
export {
  postgresDeliveryShadow,
  postgresSession,
  type PostgresShadowOptions,
} from "./postgres_shadow.ts";
export { pgliteDeliveryShadow, type PgliteShadowOptions } from "./pglite_shadow.ts";
export {
  type DeliverDeps,
  deliverRun,
  type DeliveryOutcome,
  integrationFindings,
} from "./deliver_run.ts";
