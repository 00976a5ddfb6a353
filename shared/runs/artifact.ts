/**
 * Artifacts (the files a run produces: migrations, policies, functions, docs) and the deliverable
 * that bundles them once a run is completed. The full deliverable format comes with the delivery
 * phase; for now it is the run's `result` plus its artifacts in order.
 *
 * @example
 * ```ts
 * const artifact = Artifact.parse(rowToJson(row));
 * ```
 */
import { z } from "zod";
import { Id, JsonObject, Timestamp } from "./scalars.ts";

/** What an artifact is. */
export const ArtifactKind = z.enum([
  "migration",
  "policy",
  "index",
  "query",
  "edge_function",
  "api_doc",
  "deploy_config",
  "diagnosis",
  "test",
  "doc",
  "types",
  "other",
]).meta({ id: "ArtifactKind" });
export type ArtifactKind = z.infer<typeof ArtifactKind>;

/** A file a run produced. */
export const Artifact = z.object({
  id: Id,
  task_id: Id.nullable().meta({ description: "Null for artifacts made when assembling." }),
  kind: ArtifactKind,
  path: z.string(),
  content: z.string(),
  meta: JsonObject,
  ordinal: z.int(),
  created_at: Timestamp,
}).meta({ id: "Artifact" });
export type Artifact = z.infer<typeof Artifact>;

/** What `GET /runs/{id}/deliverable` returns for a completed run. */
export const Deliverable = z.object({
  run_id: Id,
  status: z.literal("completed"),
  result: z.unknown().nullable(),
  artifacts: z.array(Artifact),
}).meta({ id: "Deliverable" });
export type Deliverable = z.infer<typeof Deliverable>;
