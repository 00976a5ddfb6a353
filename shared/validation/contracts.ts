/**
 * Plan contracts checked against the schema (the seed's Phase 3.3 "Define contracts", Phase 4.2
 * "Validate against contract"): a consuming task's API endpoints may name only the tables, columns
 * and RPC functions the run's schema has, as read from the shadow database's catalog (a
 * `SchemaSnapshot`'s keys: `table:public.trades`, `column:public.trades.price`,
 * `function:public.close_position(bigint)`). Each endpoint that names something the schema lacks
 * is a `contract_violation` finding naming the contract, its producer and what is missing — the
 * consumer's retry sees exactly which column to drop or rename.
 *
 * What is read from an endpoint (all of it model-written, so parsed defensively and never run):
 * `/rest/v1/<table>` → the table; its `select=` (aliases, casts, `*` and embedded resources
 * `other(col, …)` understood), filter (`col=eq.1`), `order=` and `on_conflict=` parameters → its
 * columns; the request body's and response's JSON Schema `properties` → columns (a property that
 * is a table name is an embedded resource, checked as that table); `/rest/v1/rpc/<fn>` → a function
 * of that name. Edge function endpoints are not about the schema and are skipped. Pure.
 *
 * @example
 * ```ts
 * const findings = checkContracts({
 *   contracts: [{ name: "positions_api", producer: "T1", producerAgent: "db-architect",
 *     description: "positions(id, symbol)" }],
 *   endpoints: [{ method: "GET", path: "/rest/v1/positions?select=id,sizee", kind: "postgrest",
 *     request: null, response: "{}" }],
 *   schema: ["table:public.positions", "column:public.positions.id"],
 * });
 * findings[0].rule; // "contract_violation"
 * ```
 */
import { type Finding, finding } from "./finding.ts";

/** A contract the consuming task must honour (from the plan's `contracts`). */
export interface ContractRef {
  name: string;
  /** Key of the producing task, e.g. `T1`. */
  producer: string;
  producerAgent?: string | null;
  description: string;
}

/** The parts of an `ApiEndpoint` the check reads. */
export interface EndpointLike {
  method?: string;
  path: string;
  kind?: string;
  request?: string | null;
  response?: string | null;
}

/** What {@link checkContracts} compares. */
export interface ContractCheckInput {
  contracts: readonly ContractRef[];
  endpoints: readonly EndpointLike[];
  /** Keys of the shadow's schema snapshot (see shared/validation/schema_snapshot.ts). */
  schema: Iterable<string>;
  /** Schemas the Data API exposes (default `["public"]`): `/rest/v1/x` means `<first>.x`. */
  exposedSchemas?: readonly string[];
  /** The file findings are about (default `docs/api.md`, where endpoints are delivered). */
  file?: string;
}

/** Most violations reported per check (a wholly wrong output need not list every column). */
const MAX_FINDINGS = 40;
/** Longest endpoint path read, and deepest nesting of embedded resources followed. */
const MAX_PATH = 8000;
const MAX_EMBED_DEPTH = 4;

/** The schema as the check needs it: tables with their columns, and function names. */
export interface SchemaIndex {
  tables: Map<string, Set<string>>;
  functions: Set<string>;
}

/** Indexes snapshot keys by table (`schema.table` → columns) and function (`schema.name`). */
export function indexSchema(keys: Iterable<string>): SchemaIndex {
  const tables = new Map<string, Set<string>>();
  const functions = new Set<string>();
  const table = (name: string) => {
    const cols = tables.get(name) ?? new Set<string>();
    tables.set(name, cols);
    return cols;
  };
  for (const key of keys) {
    const cut = key.indexOf(":");
    const kind = key.slice(0, cut);
    const rest = key.slice(cut + 1);
    if (kind === "table" || kind === "view") table(rest);
    else if (kind === "column") {
      const parts = rest.split(".");
      if (parts.length >= 3) table(`${parts[0]}.${parts[1]}`).add(parts.slice(2).join("."));
    } else if (kind === "function") functions.add(rest.slice(0, rest.indexOf("(")));
  }
  return { tables, functions };
}

/** Contract violations of the endpoints against the schema; empty when every name exists. */
export function checkContracts(input: ContractCheckInput): Finding[] {
  if (input.contracts.length === 0) return [];
  const schema = indexSchema(input.schema);
  const exposed = input.exposedSchemas?.[0] ?? "public";
  const file = input.file ?? "docs/api.md";
  const out: Finding[] = [];
  const seen = new Set<string>();
  const report = (endpoint: EndpointLike, missing: string, what: string, table: string) => {
    const key = `${endpoint.path}|${missing}`;
    if (seen.has(key) || out.length >= MAX_FINDINGS) return;
    seen.add(key);
    const contract = contractFor(input.contracts, table);
    const producer = contract.producerAgent
      ? `${contract.producer} (${contract.producerAgent})`
      : contract.producer;
    out.push(finding(
      "contract_violation",
      `${endpointName(endpoint)} names ${what} ${missing}, which the schema does not have; ` +
        `contract "${contract.name}" with ${producer} provides ${describeTable(schema, table)}`,
      { file, statement: endpointName(endpoint), object: missing },
    ));
  };
  for (const endpoint of input.endpoints) {
    if (endpoint.kind === "edge_function") continue;
    const target = restTarget(endpoint.path);
    if (!target) continue;
    if (target.rpc) {
      const fn = qualify(target.name, exposed);
      if (!schema.functions.has(fn)) report(endpoint, fn, "the function", fn);
      continue;
    }
    const table = qualify(target.name, exposed);
    const columns = schema.tables.get(table);
    if (!columns) {
      report(endpoint, table, "the table", table);
      continue;
    }
    const check = (t: string, cols: Set<string> | undefined, names: Iterable<string>) => {
      for (const c of names) {
        if (cols && !cols.has(c)) report(endpoint, `${t}.${c}`, "the column", t);
      }
    };
    // select=… with embedded resources: each resource is checked as its own table.
    for (const [resource, names] of selectColumns(target.params.get("select") ?? "")) {
      if (resource === null) check(table, columns, names);
      else {
        const embedded = qualify(resource, exposed);
        const cols = schema.tables.get(embedded);
        if (!cols) report(endpoint, embedded, "the table", embedded);
        else check(embedded, cols, names);
      }
    }
    check(table, columns, filterColumns(target.params));
    for (const text of [endpoint.request, endpoint.response]) {
      for (const [name, embedded] of schemaProperties(text ?? null)) {
        if (columns.has(name)) continue;
        const asTable = qualify(name, exposed);
        if (embedded && schema.tables.has(asTable)) continue; // an embedded resource
        report(endpoint, `${table}.${name}`, "the column", table);
      }
    }
  }
  return out;
}

/** `/rest/v1/<table>?…` or `/rest/v1/rpc/<fn>` → what it names; null for anything else. */
export function restTarget(
  path: string,
): { rpc: boolean; name: string; params: URLSearchParams } | null {
  if (path.length > MAX_PATH) return null; // model-written: bounded before any parsing
  const [pathname, query = ""] = path.trim().split("?", 2);
  const m =
    /^(?:https?:\/\/[^/]+)?\/rest\/v1\/(rpc\/)?([A-Za-z_][A-Za-z0-9_$]*(?:\.[A-Za-z_][A-Za-z0-9_$]*)?)\/?$/
      .exec(pathname);
  if (!m) return null;
  let params: URLSearchParams;
  try {
    params = new URLSearchParams(query);
  } catch {
    params = new URLSearchParams();
  }
  return { rpc: Boolean(m[1]), name: m[2].toLowerCase(), params };
}

const RESERVED_PARAMS = new Set([
  "select",
  "order",
  "limit",
  "offset",
  "on_conflict",
  "columns",
  "and",
  "or",
  "not",
]);

/** Columns of a PostgREST `select` list: `[null, top-level]` and `[resource, its columns]`. */
export function selectColumns(select: string, nesting = 0): [string | null, string[]][] {
  const groups = new Map<string | null, string[]>();
  const add = (resource: string | null, name: string) => {
    const list = groups.get(resource) ?? [];
    list.push(name);
    groups.set(resource, list);
  };
  // Split at top-level commas, keeping `resource(...)` together.
  const items: string[] = [];
  let depth = 0;
  let current = "";
  for (const ch of select.slice(0, 4000)) {
    if (ch === "(") depth++;
    if (ch === ")") depth = Math.max(0, depth - 1);
    if (ch === "," && depth === 0) {
      items.push(current);
      current = "";
    } else current += ch;
  }
  items.push(current);
  for (const raw of items) {
    const item = raw.trim();
    if (!item || item === "*") continue;
    const embed = /^(?:[A-Za-z_][\w$]*:)?([A-Za-z_][\w$]*)(?:![\w$]+)?\((.*)\)$/s.exec(item);
    if (embed) {
      if (nesting >= MAX_EMBED_DEPTH) continue;
      // `a(x, b(y))`: x is a's column, y is b's (each resource is its own table).
      for (const [resource, names] of selectColumns(embed[2], nesting + 1)) {
        for (const n of names) add(resource ?? embed[1].toLowerCase(), n);
      }
      continue;
    }
    const name = columnOf(item);
    if (name) add(null, name);
  }
  return [...groups.entries()];
}

// `alias:col::cast`, `col->>key` → the column; `count()` and other aggregates → null.
function columnOf(item: string): string | null {
  const s = item.trim().replace(/^[A-Za-z_][\w$]*:(?!:)/, "").trim();
  if (/^\w+\(\)/.test(s)) return null;
  const m = /^([A-Za-z_][\w$]*)/.exec(s);
  return m ? m[1].toLowerCase() : null;
}

/** Columns in filter (`col=eq.1`), `order=` and `on_conflict=` parameters. */
function filterColumns(params: URLSearchParams): string[] {
  const out: string[] = [];
  for (const [key, value] of params) {
    if (key === "order") {
      for (const part of value.split(",")) {
        const c = columnOf(part.split(".")[0]);
        if (c) out.push(c);
      }
    } else if (key === "on_conflict" || key === "columns") {
      for (const part of value.split(",")) {
        const c = columnOf(part);
        if (c) out.push(c);
      }
    } else if (!RESERVED_PARAMS.has(key) && /^[A-Za-z_][\w$]*$/.test(key) && /^\w+\./.test(value)) {
      out.push(key.toLowerCase());
    }
  }
  return out;
}

/**
 * Property names of a JSON Schema given as text (an object, or an array of objects), each with
 * whether its value is an object or array (maybe an embedded resource). Text that is not JSON, or
 * has no properties, gives none.
 */
export function schemaProperties(text: string | null): [string, boolean][] {
  if (!text || text.length > 100_000) return [];
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return [];
  }
  let node = value as Record<string, unknown> | null;
  for (let i = 0; i < 3 && node && typeof node === "object" && "items" in node; i++) {
    node = node.items as Record<string, unknown> | null;
  }
  const props = node && typeof node === "object" ? node.properties : null;
  if (!props || typeof props !== "object" || Array.isArray(props)) return [];
  return Object.entries(props as Record<string, unknown>).filter(([k]) =>
    /^[A-Za-z_][\w$]*$/.test(k)
  ).map(([k, v]) => {
    const type = v && typeof v === "object" ? (v as { type?: unknown }).type : undefined;
    const types = Array.isArray(type) ? type : [type];
    return [k.toLowerCase(), types.includes("object") || types.includes("array")];
  });
}

function qualify(name: string, schema: string): string {
  return name.includes(".") ? name : `${schema}.${name}`;
}

function endpointName(e: EndpointLike): string {
  return `${e.method ?? "?"} ${e.path}`.slice(0, 300);
}

// The contract a violation on `table` breaks: the one that mentions the table, else the first.
function contractFor(contracts: readonly ContractRef[], table: string): ContractRef {
  const name = table.split(".").at(-1)!;
  const re = new RegExp(`(^|[^a-z0-9_])${name.replace(/\$/g, "\\$")}([^a-z0-9_]|$)`, "i");
  return contracts.find((c) => re.test(`${c.name} ${c.description}`)) ?? contracts[0];
}

function describeTable(schema: SchemaIndex, table: string): string {
  const cols = schema.tables.get(table);
  if (!cols) {
    const known = [...schema.tables.keys()].filter((t) => !t.startsWith("auth.")).slice(0, 20);
    return known.length ? `the tables ${known.join(", ")}` : "no tables";
  }
  return `${table}(${[...cols].slice(0, 40).join(", ")})`;
}
