/**
 * A PostgREST stand-in on the validation's shadow session, for delivered edge functions that use
 * supabase-js with the caller's token (issue 15, functions run): `/rest/v1/<table>` and
 * `/rest/v1/rpc/<function>` answer as PostgREST would for the subset supabase-js emits for
 * ordinary calls — `select=` of columns (no embedding), the filters `eq neq gt gte lt lte like
 * ilike is in` (and `not.`), `order`, `limit`/`offset`/`Range`, `.single()` (the object media
 * type), inserts, updates and deletes with `Prefer: return=representation|minimal`, RPC with named
 * arguments. Each request runs as the token's role with its claims (`set local role`,
 * `request.jwt.claims`, as PostgREST does), so row level security decides what a function acting
 * for a user sees; the service-role key bypasses it, as on Supabase. What it does not support is
 * answered with a PostgREST-shaped 400 naming it, never a silent wrong answer.
 *
 * Identifiers are quoted, values are bound parameters: the function calling it is hostile too.
 * Requests are serialized: the session is one connection, and each request is its own
 * transaction (committed on success, as PostgREST commits).
 *
 * @example
 * ```ts
 * const rest = restStandIn(session, { secret });
 * const res = await rest(new Request("http://x/rest/v1/notes?select=id,title&user_id=eq.42"));
 * ```
 */
import { verifyToken } from "../auth/mod.ts";
import {
  type Identity,
  type ShadowSession,
  ShadowSqlError,
  ShadowTimeoutError,
} from "../shadow/mod.ts";
import type { Catalog } from "./catalog.ts";
import { ident } from "./row_synthesis.ts";

/** Options for {@link restStandIn}. */
export interface RestStandInOptions {
  /** The JWT secret the probe's tokens and API keys are signed with. */
  secret: string;
  /** Schemas the Data API exposes (default `["public"]`). */
  exposedSchemas?: readonly string[];
  /** The shadow's catalog: its foreign keys let `select=` embed related rows. */
  catalog?: Pick<Catalog, "constraints">;
  /** Told what a request asked that the stand-in does not support (it answered a 400). */
  onUnsupported?: (what: string) => void;
  /** Per-request statement timeout, enforced by Postgres (default 5 s). */
  timeoutMs?: number;
}

class Unsupported extends Error {}

function pgrstError(status: number, code: string, message: string, details: string | null = null) {
  return Response.json({ code, message, details, hint: null }, {
    status,
    headers: { "content-range": "*/*" },
  });
}

const OPS: Record<string, string> = {
  eq: "=",
  neq: "<>",
  gt: ">",
  gte: ">=",
  lt: "<",
  lte: "<=",
  like: "like",
  ilike: "ilike",
};
const RESERVED = new Set(["select", "order", "limit", "offset", "columns", "on_conflict"]);

/** Splits `in.(a,"b,c")` lists. */
function listItems(text: string): string[] {
  const out: string[] = [];
  let cur = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === '"') quoted = !quoted;
    else if (ch === "," && !quoted) {
      out.push(cur);
      cur = "";
    } else if (ch === "\\" && quoted && i + 1 < text.length) cur += text[++i];
    else cur += ch;
  }
  out.push(cur);
  return out;
}

interface Query {
  where: string[];
  params: unknown[];
}

function addFilter(q: Query, column: string, expr: string): void {
  let negate = false;
  let rest = expr;
  if (rest.startsWith("not.")) {
    negate = true;
    rest = rest.slice(4);
  }
  const dot = rest.indexOf(".");
  if (dot < 0) throw new Unsupported(`filter ${column}=${expr} has no operator`);
  const op = rest.slice(0, dot);
  const value = rest.slice(dot + 1);
  let clause: string;
  if (op in OPS) {
    q.params.push(op === "like" || op === "ilike" ? value.replaceAll("*", "%") : value);
    clause = `${ident(column)} ${OPS[op]} $${q.params.length}`;
  } else if (op === "is") {
    const v = value.toLowerCase();
    if (!["null", "true", "false", "unknown"].includes(v)) {
      throw new Unsupported(`is.${value} is not null, true, false or unknown`);
    }
    clause = `${ident(column)} is ${v}`;
  } else if (op === "in") {
    if (!value.startsWith("(") || !value.endsWith(")")) {
      throw new Unsupported(`in.${value} is not a (list)`);
    }
    const items = listItems(value.slice(1, -1));
    clause = items.length === 0 ? "false" : `${ident(column)} in (${
      items.map((v) => {
        q.params.push(v);
        return `$${q.params.length}`;
      }).join(", ")
    })`;
  } else {
    throw new Unsupported(`the filter operator ${op} is not supported by this stand-in`);
  }
  q.where.push(negate ? `not (${clause})` : clause);
}

/** Splits a `select=` list at its top-level commas (embedded lists stay whole). */
function topLevel(list: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = "";
  for (const ch of list) {
    if (ch === "(") depth++;
    if (ch === ")") depth--;
    if (ch === "," && depth === 0) {
      out.push(cur);
      cur = "";
    } else cur += ch;
  }
  if (cur.trim()) out.push(cur);
  return out;
}

/** The foreign keys the stand-in embeds along (from the catalog). */
type ForeignKeys = Catalog["constraints"];

/**
 * The select list of `select=` for rows of `schema.table` aliased `alias`: columns (with
 * `alias:` and `::cast`) and resources embedded along a foreign key either way — a parent as an
 * object, children as an array — nested, each a sub-select run under the same role, so row level
 * security filters embedded rows as PostgREST's joins do.
 */
function projection(
  select: string | null,
  at: { schema: string; table: string; alias: string; depth: number; fks: ForeignKeys | null },
): string {
  if (!select || select.trim() === "*") return `${at.alias}.*`;
  return topLevel(select).map((part) => {
    const p = part.trim();
    if (p === "*") return `${at.alias}.*`;
    const embed = /^(?:([A-Za-z_][\w]*):)?([A-Za-z_][\w]*)(?:!([\w]+))?\((.*)\)$/s.exec(p);
    if (embed) return embedded(embed, at);
    if (p.includes("(")) throw new Unsupported(`select item ${p}`);
    const [alias, column] = p.includes(":") ? p.split(":", 2) : [null, p];
    const [name, cast] = column.split("::", 2);
    if (cast && !/^[a-z_][a-z0-9_ ]*$/i.test(cast)) throw new Unsupported(`cast ${cast}`);
    return `${at.alias}.${ident(name)}${cast ? `::${cast}` : ""}${
      alias ? ` as ${ident(alias)}` : ` as ${ident(name)}`
    }`;
  }).join(", ");
}

function embedded(
  m: RegExpExecArray,
  at: { schema: string; table: string; alias: string; depth: number; fks: ForeignKeys | null },
): string {
  const [, alias, target, hint, inner] = m;
  if (!at.fks) throw new Unsupported(`embedded resources (${target}) need the schema's catalog`);
  if (at.depth > 4) throw new Unsupported("embedding nests too deep");
  const fk = (c: ForeignKeys[number]) => c.type === "f" && c.refColumns !== null;
  const hinted = (c: ForeignKeys[number]) =>
    !hint || hint === "inner" || hint === "left" || c.name === hint || c.columns.includes(hint);
  // Many-to-one: this table references the target (a parent, embedded as an object).
  const up = at.fks.filter((c) =>
    fk(c) && hinted(c) && c.schema === at.schema && c.table === at.table &&
    c.refSchema === at.schema && c.refTable === target
  );
  // One-to-many: the target references this table (children, embedded as an array).
  const down = at.fks.filter((c) =>
    fk(c) && hinted(c) && c.schema === at.schema && c.table === target &&
    c.refSchema === at.schema && c.refTable === at.table
  );
  if (up.length + down.length !== 1) {
    throw new Unsupported(
      `${up.length + down.length === 0 ? "no" : "more than one"} foreign key relates ` +
        `${at.table} and ${target}` + (up.length + down.length ? " (name one with !hint)" : ""),
    );
  }
  const inAlias = `e${at.depth + 1}`;
  const cols = projection(inner, {
    schema: at.schema,
    table: target,
    alias: inAlias,
    depth: at.depth + 1,
    fks: at.fks,
  });
  const from = `${ident(at.schema)}.${ident(target)} ${inAlias}`;
  const name = ident(alias ?? target);
  if (up.length) {
    const c = up[0];
    const on = c.columns.map((col, i) =>
      `${inAlias}.${ident(c.refColumns![i])} = ${at.alias}.${ident(col)}`
    )
      .join(" and ");
    return `(select to_json(r) from (select ${cols} from ${from} where ${on} limit 1) r) as ${name}`;
  }
  const c = down[0];
  const on = c.columns.map((col, i) =>
    `${inAlias}.${ident(col)} = ${at.alias}.${ident(c.refColumns![i])}`
  )
    .join(" and ");
  return `(select coalesce(json_agg(r), '[]') from (select ${cols} from ${from} where ${on}) r) ` +
    `as ${name}`;
}

function ordering(order: string | null): string {
  if (!order) return "";
  return " order by " + order.split(",").map((term) => {
    const [column, ...mods] = term.trim().split(".");
    const sql = [ident(column)];
    for (const m of mods) {
      if (m === "asc" || m === "desc") sql.push(m);
      else if (m === "nullsfirst") sql.push("nulls first");
      else if (m === "nullslast") sql.push("nulls last");
      else throw new Unsupported(`order modifier ${m}`);
    }
    return sql.join(" ");
  }).join(", ");
}

function paging(url: URL, range: string | null): string {
  let limit = url.searchParams.get("limit");
  let offset = url.searchParams.get("offset");
  const m = range ? /^(\d+)-(\d*)$/.exec(range.trim()) : null;
  if (m) {
    offset = m[1];
    if (m[2]) limit = String(Number(m[2]) - Number(m[1]) + 1);
  }
  const n = (v: string | null) => (v !== null && /^\d+$/.test(v) ? Number(v) : null);
  return (n(limit) !== null ? ` limit ${n(limit)}` : "") +
    (n(offset) !== null ? ` offset ${n(offset)}` : "");
}

/**
 * A `fetch`-style handler for `/rest/v1/*` on `session`, acting as each request's token.
 */
export function restStandIn(
  session: ShadowSession,
  options: RestStandInOptions,
): (req: Request) => Promise<Response> {
  const exposed = new Set(options.exposedSchemas ?? ["public"]);
  let queue: Promise<unknown> = Promise.resolve();
  const serialized = <T>(fn: () => Promise<T>): Promise<T> => {
    const run = queue.then(fn, fn);
    queue = run.catch(() => {});
    return run;
  };

  async function identityOf(req: Request): Promise<Identity | Response> {
    const bearer = req.headers.get("authorization")?.replace(/^Bearer\s+/i, "");
    const token = bearer || req.headers.get("apikey") || "";
    if (!token) return { role: "anon", claims: { role: "anon" } };
    try {
      const claims = await verifyToken(options.secret, token);
      const role = claims.role;
      if (role !== "anon" && role !== "authenticated" && role !== "service_role") {
        return pgrstError(401, "PGRST301", `role ${String(role)} is not an API role`);
      }
      return { role, claims: claims as Record<string, unknown> };
    } catch {
      return pgrstError(401, "PGRST301", "JWSError JWSInvalidSignature");
    }
  }

  async function run(
    identity: Identity,
    sql: string,
    params: unknown[],
  ): Promise<{ body?: unknown; set?: unknown; total?: unknown }> {
    return await serialized(async () => {
      // Postgres cancels a slow request itself (57014, an answer), well before the session's
      // own timeout would end the session and the validation with it.
      const timeoutMs = Math.max(100, Math.floor(options.timeoutMs ?? 5_000));
      await session.exec(`begin; set local statement_timeout = ${timeoutMs}`);
      try {
        const result = await session.queryAs(identity, sql, params, {
          keep: true,
          timeoutMs: timeoutMs + 5_000,
        });
        await session.exec("commit");
        return result.rows[0] ?? {};
      } catch (e) {
        if (session.alive) await session.exec("rollback").catch(() => {});
        throw e;
      }
    });
  }

  return async (req: Request): Promise<Response> => {
    const url = new URL(req.url);
    const path = url.pathname.replace(/^\/rest\/v1\/?/, "");
    const who = await identityOf(req);
    if (who instanceof Response) return who;
    const write = req.method !== "GET" && req.method !== "HEAD";
    const profile = req.headers.get(write ? "content-profile" : "accept-profile") ?? "public";
    if (!exposed.has(profile)) {
      return pgrstError(406, "PGRST106", `The schema must be one of: ${[...exposed].join(", ")}`);
    }
    const prefer = req.headers.get("prefer") ?? "";
    const single = (req.headers.get("accept") ?? "").includes("application/vnd.pgrst.object+json");
    try {
      let sql: string;
      let params: unknown[] = [];
      let status = 200;
      let returns = true;
      const rpc = /^rpc\/([^/]+)$/.exec(path);
      if (rpc) {
        let args: Record<string, unknown> = {};
        if (req.method === "GET") {
          args = Object.fromEntries(url.searchParams);
        } else {
          const text = await req.text();
          args = text ? JSON.parse(text) : {};
          if (typeof args !== "object" || args === null || Array.isArray(args)) {
            throw new Unsupported("rpc arguments must be a JSON object");
          }
        }
        const named = Object.entries(args).map(([k, v]) => {
          params.push(v);
          return `${ident(k)} => $${params.length}`;
        });
        const call = `${ident(profile)}.${ident(decodeURIComponent(rpc[1]))}(${named.join(", ")})`;
        // A set or a composite comes back as rows, a scalar as its value (as PostgREST does).
        params.push(profile, decodeURIComponent(rpc[1]));
        const [ns, fn] = [`$${params.length - 1}::text`, `$${params.length}::text`];
        // PostgREST answers a function that returns one value (scalar or row) with that value.
        sql =
          `select coalesce(json_agg(r), '[]') as body, (select coalesce(bool_and(p.proretset), ` +
          `true) from pg_proc p join pg_namespace n on n.oid = p.pronamespace where n.nspname = ` +
          `${ns} and p.proname = ${fn}) as set from ${call} r`;
      } else if (/^[^/]+$/.test(path)) {
        const table = `${ident(profile)}.${ident(decodeURIComponent(path))}`;
        const q: Query = { where: [], params: [] };
        for (const [key, value] of url.searchParams) {
          if (RESERVED.has(key)) continue;
          if (key === "or" || key === "and") {
            throw new Unsupported(`${key}= filters are not supported by this stand-in`);
          }
          addFilter(q, key, value);
        }
        const where = q.where.length ? ` where ${q.where.join(" and ")}` : "";
        const cols = projection(url.searchParams.get("select"), {
          schema: profile,
          table: decodeURIComponent(path),
          alias: "x",
          depth: 0,
          fks: options.catalog?.constraints ?? null,
        });
        params = q.params;
        const wrap = (rows: string) =>
          `select coalesce(json_agg(t), '[]') as body from (select ${cols} from ${rows} x) t`;
        if (req.method === "GET" || req.method === "HEAD") {
          const counted = /count=(exact|planned|estimated)/.test(prefer)
            ? `, (select count(*) from ${table} x${where}) as total`
            : "";
          sql = `select coalesce(json_agg(t), '[]') as body${counted} from (select ${cols} from ` +
            `${table} x${where}${ordering(url.searchParams.get("order"))}${
              paging(url, req.headers.get("range"))
            }) t`;
        } else {
          returns = prefer.includes("return=representation");
          const text = req.method === "DELETE" ? "" : await req.text();
          const payload = text ? JSON.parse(text) : null;
          params.push(JSON.stringify(payload));
          const p = `($${params.length}::text)::json`;
          if (req.method === "POST") {
            const rows = Array.isArray(payload) ? payload : [payload];
            const keys = [...new Set(rows.flatMap((r) => Object.keys(r ?? {})))];
            if (keys.length === 0) throw new Unsupported("an insert needs at least one column");
            const list = keys.map(ident).join(", ");
            sql = `with x as (insert into ${table} (${list}) select ${list} from ` +
              `json_populate_recordset(null::${table}, ${
                Array.isArray(payload) ? p : `json_build_array(${p})`
              }) returning *) ${wrap("x")}`;
            status = 201;
          } else if (req.method === "PATCH") {
            const keys = Object.keys(payload ?? {});
            if (keys.length === 0) throw new Unsupported("an update needs at least one column");
            const list = keys.map(ident).join(", ");
            sql = `with x as (update ${table} set (${list}) = (select ${list} from ` +
              `json_populate_record(null::${table}, ${p}))${where} returning *) ${wrap("x")}`;
          } else if (req.method === "DELETE") {
            params.pop();
            sql = `with x as (delete from ${table}${where} returning *) ${wrap("x")}`;
          } else {
            return pgrstError(405, "PGRST117", `${req.method} is not supported`);
          }
          if (!returns) status = status === 201 ? 201 : 204;
        }
      } else {
        return pgrstError(404, "PGRST125", `no route for /rest/v1/${path}`);
      }
      const answer = await run(who, sql, params);
      const rows = Array.isArray(answer.body) ? answer.body : [];
      const total = answer.total === undefined ? "*" : String(answer.total);
      const headers = {
        "content-type": "application/json; charset=utf-8",
        "content-range": rows.length ? `0-${rows.length - 1}/${total}` : `*/${total}`,
      };
      if (!returns || req.method === "HEAD") return new Response(null, { status, headers });
      if (single) {
        if (rows.length !== 1) {
          return pgrstError(
            406,
            "PGRST116",
            "JSON object requested, multiple (or no) rows returned",
            `The result contains ${rows.length} rows`,
          );
        }
        return new Response(JSON.stringify(rows[0]), { status, headers });
      }
      if (rpc && answer.set === false) {
        return new Response(JSON.stringify(rows[0] ?? null), { status, headers });
      }
      return new Response(JSON.stringify(rows), { status, headers });
    } catch (e) {
      if (e instanceof Unsupported) {
        options.onUnsupported?.(e.message);
        return pgrstError(400, "PGRST100", e.message);
      }
      if (e instanceof ShadowTimeoutError && session.alive) {
        return pgrstError(500, "57014", "canceling statement due to statement timeout");
      }
      if (e instanceof SyntaxError) return pgrstError(400, "PGRST102", "Empty or invalid json");
      if (e instanceof ShadowSqlError) {
        const code = e.code ?? "";
        const status = code === "42501"
          ? (who.role === "anon" ? 401 : 403)
          : code === "23505" || code === "23503"
          ? 409
          : code === "42P01" || code === "42883"
          ? 404
          : code === "57014"
          ? 500
          : 400;
        return pgrstError(status, code, e.message);
      }
      return pgrstError(500, "PGRST000", "the stand-in could not answer");
    }
  };
}
