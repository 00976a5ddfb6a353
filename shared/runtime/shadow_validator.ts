/**
 * The agent workers' validator (`ArtifactValidator`): an attempt's migrations (with their
 * rollbacks), the queries its indexes serve and its edge function sources go to the shadow
 * database validator (shared/validation) on top of the project's schema and the migrations the run
 * has already accepted — parsed, applied, linted like Supabase's advisors, attacked with
 * behavioural RLS probes, rolled back, EXPLAINed and type-checked. Untrusted SQL never touches the
 * product database: the shadow is PGlite in process, or a fresh database per validation on
 * `SHADOW_DATABASE_URL`'s server (the local stack sets it).
 *
 * @example
 * ```ts
 * const validator = createShadowValidator();
 * const summary = await validator.validate({ agent, artifacts, accepted });
 * ```
 */
import type { ArtifactDraft, ArtifactValidator, ValidationSummary } from "../execution/mod.ts";
import {
  type BaselineInput,
  type FunctionFile,
  type MigrationInput,
  type QueryCheck,
  validateMigrations,
} from "../validation/mod.ts";

/** The validator, on PostgreSQL when `SHADOW_DATABASE_URL` is set, else on PGlite. */
export function createShadowValidator(
  env: Record<string, string | undefined> = Deno.env.toObject(),
): ArtifactValidator {
  const shadow = env.SHADOW_DATABASE_URL ? "postgres" : "pglite";
  return {
    async validate({ artifacts, accepted, baseSql, schema }): Promise<ValidationSummary> {
      const request = validationRequest(artifacts);
      if (request.files.length === 0 && request.functions.length === 0) {
        return { ok: true, errors: 0, warnings: 0, findings: [] };
      }
      const baseline: BaselineInput[] = [
        ...(baseSql ? [{ name: "project_schema.sql", sql: baseSql }] : []),
        ...accepted.map((m) => ({ name: fileName(m.path), sql: m.up })),
      ];
      const report = await validateMigrations({ ...request, baseline, shadow, schema });
      return {
        ok: report.ok,
        errors: report.findings.filter((f) => f.level === "error").length,
        warnings: report.findings.filter((f) => f.level === "warn").length,
        findings: report.findings,
        durationMs: Math.round(report.durationMs),
        ...(report.schema ? { schema: report.schema } : {}),
      };
    },
  };
}

/** What of an attempt's artifacts the validator checks. Pure. */
export function validationRequest(artifacts: readonly ArtifactDraft[]): {
  files: MigrationInput[];
  queries: QueryCheck[];
  functions: FunctionFile[];
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
  // The index queries need the SQL that creates their indexes; without files they cannot run.
  return { files, queries: files.length > 0 ? queries : [], functions };
}

function fileName(path: string): string {
  return path.split("/").at(-1) ?? path;
}
