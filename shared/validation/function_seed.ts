/**
 * The data a function's isolation check needs (issue 15): two users created in the shadow's
 * `auth.users` as Supabase Auth creates them at sign-up (owner, other), and one row owned by the
 * owner in every exposed table with an owner column (the validator's own row synthesis and
 * owner-column detection, `row_synthesis.ts`/`probes.ts`), written as `service_role` and
 * committed, so the function's own connections and the PostgREST stand-in see them. Each row
 * leaves markers — its own uuids (foreign keys excepted) and a distinctive text value where a
 * text column takes one — and a marker the other user may read through RLS anyway (a table
 * public by design) is dropped: what is left is what only the owner may see, so finding it in the
 * other user's answer is a leak.
 *
 * @example
 * ```ts
 * const seeded = await seedOwnerRows(session, catalog, ["public"]);
 * if (typeof seeded !== "string") try { … } finally { await seeded.cleanup(); }
 * ```
 */
import type { Identity, ShadowSession } from "../shadow/mod.ts";
import { ShadowSqlError } from "../shadow/mod.ts";
import type { Catalog } from "./catalog.ts";
import { ownerColumn } from "./probes.ts";
import { ident, RowSynthesisError, RowSynthesizer, SERVICE, tableRef } from "./row_synthesis.ts";

/** A seeded user. */
export interface SeededUser {
  id: string;
  email: string;
  identity: Identity;
}

/** What {@link seedOwnerRows} made. */
export interface Seeded {
  owner: SeededUser;
  other: SeededUser;
  /** Marker text → the table (`schema.name`) whose owner row carries it. */
  markers: Map<string, string>;
  /** Each seeded table's (`schema.name`) primary key, as text, when it is one column. */
  ids: Map<string, string>;
  /** Tables that could not be seeded, and why. */
  skipped: string[];
  /** Deletes the seeded rows and users (best effort: the shadow is disposed of anyway). */
  cleanup(): Promise<void>;
}

/**
 * The seeded id a path placeholder names: `{board_id}`/`:boardId` → the row of `boards` (or
 * `board`), `{id}` → the row of the table the function is named after (`board-summary` →
 * `boards`), else the only seeded table's.
 */
export function seededIdFor(seeded: Seeded, placeholder: string, fn: string): string | undefined {
  const words = (text: string) => text.toLowerCase().split(/[^a-z0-9]+/).filter(Boolean);
  const named = (stem: string) =>
    [...seeded.ids].find(([t]) => {
      const table = t.slice(t.indexOf(".") + 1).toLowerCase();
      return table === stem || table === `${stem}s` || table === `${stem}es` ||
        table === stem.replace(/y$/, "ies");
    })?.[1];
  const snake = placeholder.replace(/([a-z0-9])([A-Z])/g, "$1_$2").toLowerCase();
  const stem = /^(.+?)_?id$/.exec(snake)?.[1];
  if (stem) return named(stem);
  if (snake === "id") {
    for (const w of words(fn)) {
      const hit = named(w) ?? named(w.replace(/s$/, ""));
      if (hit) return hit;
    }
    return seeded.ids.size === 1 ? [...seeded.ids.values()][0] : undefined;
  }
  return undefined;
}

/** Why nothing was seeded when no exposed table has an owner column (nothing to isolate). */
export const NO_OWNED_TABLES = "no exposed table has an owner column";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const TEXT_TYPES = new Set(["text", "varchar", "bpchar", "citext"]);

function user(label: string): SeededUser {
  const id = crypto.randomUUID();
  const email = `fn-${label}-${id.slice(0, 8)}@example.com`;
  return {
    id,
    email,
    identity: { role: "authenticated", claims: { sub: id, role: "authenticated", email } },
  };
}

/**
 * Seeds the owner's rows; a string says why nothing could be seeded (sign-up fails, no table with
 * an owner column). Run on a session that is not inside a transaction.
 */
export async function seedOwnerRows(
  session: ShadowSession,
  catalog: Catalog,
  exposedSchemas: readonly string[],
): Promise<Seeded | string> {
  const owner = user("owner");
  const other = user("other");
  try {
    for (const u of [owner, other]) {
      await session.query(
        "insert into auth.users (id, email, aud, role) values ($1, $2, 'authenticated', 'authenticated')",
        [u.id, u.email],
      );
    }
  } catch (e) {
    if (!(e instanceof ShadowSqlError)) throw e;
    await deleteUsers(session, [owner.id, other.id]);
    return `users could not be created in auth.users (${e.message})`;
  }
  const exposed = new Set(exposedSchemas);
  const owners = new Map<string, string | undefined>();
  for (const t of catalog.tables) {
    if ((t.kind === "r" || t.kind === "p") && !t.fromExtension) {
      owners.set(`${t.schema}.${t.name}`, await ownerColumn(catalog, t.schema, t.name));
    }
  }
  const columnOf = (schema: string, table: string) => owners.get(`${schema}.${table}`);
  const markers = new Map<string, string>();
  const skipped: string[] = [];
  const ids = new Map<string, string>();
  const made: { table: string; row: Record<string, unknown> }[] = [];
  const synth = new RowSynthesizer(catalog, session);
  const ownerOf = { id: owner.id, columnOf };
  const targets = [...owners].filter(([name, col]) => col && exposed.has(name.split(".")[0]))
    .map(([name, col]) => [name, col!] as const).sort();
  for (const [name, col] of targets) {
    const [schema, table] = [name.slice(0, name.indexOf(".")), name.slice(name.indexOf(".") + 1)];
    const foreign = new Set(
      catalog.constraints.filter((c) => c.schema === schema && c.table === table && c.type === "f")
        .flatMap((c) => c.columns),
    );
    const marked = synth.columns(schema, table).find((c) =>
      TEXT_TYPES.has(c.baseTypeName) && c.name !== col && !foreign.has(c.name) &&
      !c.generated && !c.enumLabels && (c.maxLength === null || c.maxLength >= 24)
    );
    const tag = `bt-owner-${crypto.randomUUID().slice(0, 8)}`;
    let row: Record<string, unknown> | undefined;
    await session.exec("begin");
    try {
      for (
        const fixed of marked
          ? [{ [col]: owner.id, [marked.name]: tag }, { [col]: owner.id }]
          : [{ [col]: owner.id }]
      ) {
        try {
          row = await synth.insert(schema, table, fixed, ownerOf, SERVICE);
          break;
        } catch (e) {
          if (!(e instanceof RowSynthesisError) && !(e instanceof ShadowSqlError)) throw e;
          skipped.push(`${name}: ${e.message}`);
        }
      }
      await session.exec("commit");
    } catch (e) {
      if (session.alive) await session.exec("rollback").catch(() => {});
      throw e;
    }
    synth.resetParents();
    if (!row) continue;
    made.push({ table: name, row });
    const pk = catalog.constraints.find((c) =>
      c.schema === schema && c.table === table && c.type === "p" && c.columns.length === 1
    );
    const key = pk ? row[pk.columns[0]] : undefined;
    if (typeof key === "string" || typeof key === "number") ids.set(name, String(key));
    for (const [column, value] of Object.entries(row)) {
      const text = typeof value === "string" ? value : null;
      // A foreign key names another row (maybe a shared, public one): that row marks itself.
      if (!text || text === owner.id || foreign.has(column)) continue;
      if (UUID.test(text) || text.startsWith("bt-owner-")) markers.set(text, name);
    }
    // What RLS lets the other user read anyway is public by design, not a marker.
    await session.exec("begin");
    try {
      const seen = await session.queryAs(
        other.identity,
        `select coalesce(json_agg(t)::text, '') as body from ${tableRef(schema, table)} t`,
        [],
        { keep: false },
      );
      const body = String(seen.rows[0]?.body ?? "");
      for (const [m, t] of markers) if (t === name && body.includes(m)) markers.delete(m);
    } catch (e) {
      if (!(e instanceof ShadowSqlError)) throw e;
    } finally {
      if (session.alive) await session.exec("rollback").catch(() => {});
    }
  }
  if (made.length === 0) {
    await deleteUsers(session, [owner.id, other.id]);
    return targets.length === 0
      ? NO_OWNED_TABLES
      : `no owner row could be made (${skipped.join("; ")})`;
  }
  return {
    owner,
    other,
    markers,
    ids,
    skipped,
    async cleanup() {
      // Children before parents is not known here: a delete a foreign key refuses is retried
      // after the others (rows of both users, written by the functions too).
      let left = made.map((m) => m.table);
      for (let pass = 0; pass < 3 && left.length && session.alive; pass++) {
        const failed: string[] = [];
        for (const table of left) {
          const col = owners.get(table)!;
          const [schema, name] = [
            table.slice(0, table.indexOf(".")),
            table.slice(table.indexOf(".") + 1),
          ];
          await session.exec("begin");
          try {
            await session.queryAs(
              SERVICE,
              `delete from ${tableRef(schema, name)} where ${ident(col)}::text in ($1, $2)`,
              [owner.id, other.id],
              { keep: true },
            );
            await session.exec("commit");
          } catch (e) {
            if (session.alive) await session.exec("rollback").catch(() => {});
            if (!(e instanceof ShadowSqlError)) throw e;
            failed.push(table);
          }
        }
        left = failed;
      }
      await deleteUsers(session, [owner.id, other.id]);
    },
  };
}

async function deleteUsers(session: ShadowSession, ids: string[]): Promise<void> {
  if (!session.alive) return;
  await session.query("delete from auth.users where id in ($1, $2)", ids).catch(() => {});
}
