/**
 * A schema as a flat map — one entry per table, column, constraint, index, policy, function,
 * trigger, view, type, sequence, extension and schema, each with a fingerprint of what defines it
 * (types, defaults, nullability, definitions, RLS flags, grants) — so two states compare with a
 * plain diff. The rollback check compares the schema before an up migration with the schema after
 * its down migration; the probes use the same diff to find the tables a migration touched.
 *
 * @example
 * ```ts
 * const diff = diffSnapshots(snapshotOf(before), snapshotOf(after));
 * for (const key of diff.removed) console.log("missing after rollback:", key);
 * ```
 */
import type { Catalog } from "./catalog.ts";

/** Object key (e.g. `column:public.trades.price`) → fingerprint. */
export type SchemaSnapshot = Map<string, string>;

/** The snapshot of a catalog. */
export function snapshotOf(c: Catalog): SchemaSnapshot {
  const s: SchemaSnapshot = new Map();
  for (const name of c.schemas) s.set(`schema:${name}`, "");
  for (const t of c.tables) {
    s.set(
      `${t.kind === "v" || t.kind === "m" ? "view" : "table"}:${t.schema}.${t.name}`,
      JSON.stringify({
        kind: t.kind,
        rls: t.rls,
        force: t.forceRls,
        options: [...t.options].sort(),
        acl: sortedAcl(t.acl),
        definition: t.definition,
      }),
    );
  }
  for (const col of c.columns) {
    s.set(
      `column:${col.schema}.${col.table}.${col.name}`,
      JSON.stringify({
        type: col.type,
        notNull: col.notNull,
        default: col.default,
        identity: col.identity,
        generated: col.generated,
      }),
    );
  }
  for (const con of c.constraints) {
    s.set(`constraint:${con.schema}.${con.table}.${con.name}`, con.definition);
  }
  for (const i of c.indexes) s.set(`index:${i.schema}.${i.name}`, i.definition);
  for (const p of c.policies) {
    s.set(
      `policy:${p.schema}.${p.table}.${p.name}`,
      JSON.stringify({
        command: p.command,
        permissive: p.permissive,
        roles: p.roles,
        using: p.using,
        withCheck: p.withCheck,
      }),
    );
  }
  for (const f of c.functions) {
    s.set(
      `function:${f.schema}.${f.name}(${f.args})`,
      JSON.stringify({ hash: f.definitionHash, acl: sortedAcl(f.acl) }),
    );
  }
  for (const t of c.triggers) s.set(`trigger:${t.schema}.${t.table}.${t.name}`, t.definition);
  for (const e of c.extensions) s.set(`extension:${e.name}`, e.schema);
  for (const t of c.types) s.set(`type:${t.schema}.${t.name}`, `${t.kind} ${t.detail}`);
  for (const q of c.sequences) s.set(`sequence:${q}`, "");
  return s;
}

// Grants in a canonical order: revoking and granting again appends the entry at the end.
function sortedAcl(acl: string | null): string | null {
  if (acl === null) return null;
  return acl.replace(/^\{|\}$/g, "").split(",").filter(Boolean).sort().join(",");
}

/** What differs between two snapshots. */
export interface SnapshotDiff {
  /** In `after` only. */
  added: string[];
  /** In `before` only. */
  removed: string[];
  /** In both with different fingerprints. */
  changed: string[];
}

/** The differences from `before` to `after`, each list sorted. */
export function diffSnapshots(before: SchemaSnapshot, after: SchemaSnapshot): SnapshotDiff {
  const added = [...after.keys()].filter((k) => !before.has(k)).sort();
  const removed = [...before.keys()].filter((k) => !after.has(k)).sort();
  const changed = [...after.keys()].filter((k) => before.has(k) && before.get(k) !== after.get(k))
    .sort();
  return { added, removed, changed };
}

/** `schema.table` of the tables a diff touches (the table, its columns, constraints, policies). */
export function tablesTouched(diff: SnapshotDiff): Set<string> {
  const out = new Set<string>();
  for (const key of [...diff.added, ...diff.changed, ...diff.removed]) {
    const [kind, rest] = [key.slice(0, key.indexOf(":")), key.slice(key.indexOf(":") + 1)];
    const parts = rest.split(".");
    if (kind === "table") out.add(rest);
    else if (["column", "constraint", "policy", "trigger"].includes(kind) && parts.length >= 3) {
      out.add(`${parts[0]}.${parts[1]}`);
    }
  }
  return out;
}
