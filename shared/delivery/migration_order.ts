/**
 * Puts the run's migrations in the order they must apply — tasks in dependency order (ties by
 * key: T1, T2, … T10), then each task's artifacts by ordinal — and gives them Supabase CLI file
 * names, `supabase/migrations/<14-digit timestamp>_<name>.sql`. The timestamps count up one second
 * at a time from the run's creation, so they are strictly increasing, later than the project's
 * existing migrations, and the same every time the run is assembled.
 *
 * @example
 * ```ts
 * const ordered = orderMigrations({ run, tasks, artifacts });
 * ordered[0].path; // "supabase/migrations/20261125143000_create_profiles.sql"
 * ```
 */
import { AppError } from "../errors/mod.ts";
import type { AssemblyInput, DeliveryArtifact, DeliveryTask } from "./assembly_input.ts";

/** A migration with its delivered file name. */
export interface OrderedMigration {
  path: string;
  version: string;
  name: string;
  up: string;
  down: string | null;
  description: string | null;
  task: DeliveryTask;
  source: DeliveryArtifact;
  /** Where its down migration is delivered (null without one). */
  rollbackPath: string | null;
}

/** Folder of the delivered migrations (the Supabase CLI's). */
export const MIGRATIONS_FOLDER = "supabase/migrations";
/** Folder of the delivered down migrations (not applied by the CLI; run by hand to undo). */
export const ROLLBACKS_FOLDER = "supabase/rollbacks";

/** Tasks in dependency order; ties (and any cycle, which a validated plan cannot have) by key. */
export function taskOrder<T extends Pick<DeliveryTask, "key" | "depends_on">>(tasks: T[]): T[] {
  const byKey = (a: T, b: T) => a.key.length - b.key.length || (a.key < b.key ? -1 : 1);
  const pending = [...tasks].sort(byKey);
  const done = new Set<string>();
  const out: T[] = [];
  const known = new Set(tasks.map((t) => t.key));
  while (pending.length > 0) {
    const i = pending.findIndex((t) => t.depends_on.every((d) => done.has(d) || !known.has(d)));
    const [next] = pending.splice(i === -1 ? 0 : i, 1);
    done.add(next.key);
    out.push(next);
  }
  return out;
}

/** Artifacts of the tasks in delivery order: task order, then ordinal, then path. */
export function artifactOrder(input: AssemblyInput): {
  task: DeliveryTask;
  artifact: DeliveryArtifact;
}[] {
  return taskOrder(input.tasks).flatMap((task) =>
    input.artifacts
      .filter((a) => a.task_id === task.id)
      .sort((a, b) => a.ordinal - b.ordinal || (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
      .map((artifact) => ({ task, artifact }))
  );
}

/** The 14-digit version of the `index`-th migration of a run created at `createdAt`. */
export function migrationVersion(createdAt: string | Date, index: number): string {
  const base = new Date(createdAt).getTime();
  if (Number.isNaN(base)) {
    throw new AppError("validation_failed", `not a time: ${String(createdAt)}`);
  }
  const at = new Date(Math.floor(base / 1000) * 1000 + index * 1000);
  const p = (n: number, w = 2) => String(n).padStart(w, "0");
  return `${p(at.getUTCFullYear(), 4)}${p(at.getUTCMonth() + 1)}${p(at.getUTCDate())}` +
    `${p(at.getUTCHours())}${p(at.getUTCMinutes())}${p(at.getUTCSeconds())}`;
}

/** The run's migrations in apply order with their delivered names. */
export function orderMigrations(input: AssemblyInput): OrderedMigration[] {
  const used = new Set<string>();
  return artifactOrder(input)
    .filter(({ artifact }) => artifact.kind === "migration" && artifact.meta.section !== true)
    .map(({ task, artifact }, index) => {
      const version = migrationVersion(input.run.created_at, index);
      let name = migrationName(artifact);
      for (let n = 2; used.has(name); n++) name = `${migrationName(artifact)}_${n}`;
      used.add(name);
      const down = downSql(artifact.meta);
      return {
        path: `${MIGRATIONS_FOLDER}/${version}_${name}.sql`,
        version,
        name,
        up: artifact.content,
        down,
        description: typeof artifact.meta.description === "string"
          ? artifact.meta.description
          : null,
        task,
        source: artifact,
        rollbackPath: down === null ? null : `${ROLLBACKS_FOLDER}/${version}_${name}.down.sql`,
      };
    });
}

/** The down migration an artifact carries (`meta.down_sql`, or `meta.down`), or null. */
export function downSql(meta: Record<string, unknown>): string | null {
  const down = meta.down_sql ?? meta.down;
  return typeof down === "string" && down.trim() !== "" ? down : null;
}

/** `meta.name`, else the file name without a version prefix, as snake_case. */
function migrationName(artifact: DeliveryArtifact): string {
  const raw = typeof artifact.meta.name === "string" && artifact.meta.name !== ""
    ? artifact.meta.name
    : (artifact.path.split("/").at(-1) ?? "migration").replace(/\.sql$/, "").replace(/^\d+_/, "");
  const name = raw.toLowerCase().replace(/[^a-z0-9_]+/g, "_").replace(/^_+|_+$/g, "");
  return name === "" ? "migration" : name;
}
