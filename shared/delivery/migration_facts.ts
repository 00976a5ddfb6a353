/**
 * Facts the deliverable documents about a migration — the indexes it creates (name, table, the
 * statement) and the policies it creates (name, table, command, roles) — read from the parse tree
 * of the real Postgres parser (shared/validation's `parseSqlFile`), never matched on SQL text. A
 * migration that does not parse documents nothing; the integration check reports why.
 *
 * @example
 * ```ts
 * const facts = await migrationFacts("create index trades_user_id_idx on public.trades (user_id);");
 * facts.indexes[0].name; // "trades_user_id_idx"
 * ```
 */
import { asNode } from "../pg_ast/mod.ts";
import { parseSqlFile } from "../validation/mod.ts";

/** An index a migration creates. */
export interface IndexStatement {
  name: string;
  /** As written: `schema.table`, or `table` when unqualified. */
  table: string;
  statement: string;
}

/** A policy a migration creates. */
export interface PolicyStatement {
  name: string;
  /** As written: `schema.table`, or `table` when unqualified. */
  table: string;
  command: string;
  roles: string[];
}

/** What a migration creates that the deliverable lists. */
export interface MigrationFacts {
  indexes: IndexStatement[];
  policies: PolicyStatement[];
}

function tableOf(rel: { schemaname?: string; relname?: string } | undefined): string {
  return rel?.schemaname ? `${rel.schemaname}.${rel.relname ?? ""}` : rel?.relname ?? "";
}

/** The `create index` and `create policy` statements of `sql`, in order. */
export async function migrationFacts(sql: string): Promise<MigrationFacts> {
  const parsed = await parseSqlFile({ name: "migration.sql", sql });
  const facts: MigrationFacts = { indexes: [], policies: [] };
  for (const s of parsed.statements) {
    const index = asNode(s.node, "IndexStmt");
    if (index?.idxname) {
      facts.indexes.push({
        name: index.idxname,
        table: tableOf(index.relation),
        statement: `${s.text};`,
      });
    }
    const policy = asNode(s.node, "CreatePolicyStmt");
    if (policy?.policy_name) {
      const roles = (policy.roles ?? []).map((r) => {
        const role = asNode(r, "RoleSpec");
        if (role?.roletype === "ROLESPEC_PUBLIC") return "public";
        if (role?.roletype === "ROLESPEC_CURRENT_USER") return "current_user";
        if (role?.roletype === "ROLESPEC_SESSION_USER") return "session_user";
        if (role?.roletype === "ROLESPEC_CURRENT_ROLE") return "current_role";
        return role?.rolename ?? "";
      }).filter((r) => r !== "");
      facts.policies.push({
        name: policy.policy_name,
        table: tableOf(policy.table),
        command: policy.cmd_name ?? "all",
        roles: roles.length > 0 ? roles : ["public"],
      });
    }
  }
  return facts;
}
