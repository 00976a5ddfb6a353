/**
 * Documented endpoints as checks on a running function (issue 15): each `ApiEndpoint` whose path
 * is under `/functions/v1/<function>` becomes a call (method, path inside the function, a request
 * body built from its request JSON Schema) and a judgement of the answer — its status must be a
 * success or one of the documented error statuses, and a success's body must validate against the
 * declared response JSON Schema. Validation is ajv's (draft-07 by default, 2019-09/2020-12 when
 * the schema's `$schema` says so; `ajv-formats` for `uuid`, `date-time`, `email`, …), never a
 * hand-written validator. A schema that is not JSON or does not compile is itself a mismatch.
 *
 * @example
 * ```ts
 * for (const c of contractOf(endpoints, "notes")) {
 *   const res = await fetch(base + c.path, { method: c.method, body: c.body });
 *   const problem = c.judge(res.status, await res.text());
 * }
 * ```
 */
import Ajv from "ajv";
import Ajv2019 from "ajv/dist/2019.js";
import Ajv2020 from "ajv/dist/2020.js";
import addFormats from "ajv-formats";

/** The part of an `ApiEndpoint` (shared/agents/artifact_schemas.ts) these checks read. */
export interface DocumentedEndpoint {
  method: string;
  path: string;
  /** JSON Schema (as text) of the body or query; null if none. */
  request: string | null;
  /** JSON Schema (as text) of a successful response body. */
  response: string;
  errors: readonly { status: number }[];
}

/** One documented call of a function, and how to judge its answer. */
export interface ContractCheck {
  /** `POST /functions/v1/notes`, for messages. */
  label: string;
  method: string;
  /** The path the function receives (`/notes/...`), placeholders filled. */
  path: string;
  /** The request body (JSON text), or undefined for none. */
  body: string | undefined;
  /**
   * Why the answer breaks the contract, or null when it keeps it: an undocumented status, or a
   * success whose body is not JSON or fails the response schema (with ajv's error paths).
   */
  judge(status: number, text: string): string | null;
}

type Validate = ((data: unknown) => boolean) & {
  errors?: { instancePath: string; message?: string }[] | null;
};

type AjvLike = { compile(schema: unknown): Validate };
// ajv's CommonJS default exports, typed as the classes they are.
const AjvDraft7 = Ajv as unknown as new (o: object) => AjvLike;
const AjvDraft2019 = Ajv2019 as unknown as new (o: object) => AjvLike;
const AjvDraft2020 = Ajv2020 as unknown as new (o: object) => AjvLike;
const formats = addFormats as unknown as (ajv: AjvLike) => void;

const validators = new Map<string, AjvLike>();
function validatorFor(schema: unknown): AjvLike {
  const dialect = typeof schema === "object" && schema !== null &&
      typeof (schema as { $schema?: unknown }).$schema === "string"
    ? (schema as { $schema: string }).$schema
    : "";
  const kind = dialect.includes("2020-12") ? "2020" : dialect.includes("2019-09") ? "2019" : "7";
  let ajv = validators.get(kind);
  if (!ajv) {
    const options = { allErrors: true, strict: false, validateSchema: true };
    ajv = kind === "2020"
      ? new AjvDraft2020(options)
      : kind === "2019"
      ? new AjvDraft2019(options)
      : new AjvDraft7(options);
    formats(ajv);
    validators.set(kind, ajv);
  }
  return ajv;
}

/** Compiles a JSON Schema given as text; a string says why it cannot be used. */
export function compileSchema(text: string): Validate | string {
  let schema: unknown;
  try {
    schema = JSON.parse(text);
  } catch {
    return "is not JSON";
  }
  if (typeof schema !== "object" || schema === null) {
    return typeof schema === "boolean" ? (() => schema) as Validate : "is not a JSON Schema";
  }
  // Each compile gets its own copy without `$id`, so two endpoints' schemas cannot collide.
  const { $id: _, ...rest } = schema as Record<string, unknown>;
  try {
    return validatorFor(rest).compile(rest);
  } catch (e) {
    return `does not compile (${e instanceof Error ? e.message : String(e)})`;
  }
}

/** The first few ajv errors, as `path: message`. */
export function describeErrors(validate: Validate): string {
  return (validate.errors ?? []).slice(0, 3)
    .map((e) => `${e.instancePath || "/"}: ${e.message ?? "invalid"}`).join("; ");
}

/** A minimal value a JSON Schema accepts (required properties only), for request bodies. */
export function exampleOf(schema: unknown, depth = 0): unknown {
  if (typeof schema !== "object" || schema === null || depth > 6) return null;
  const s = schema as Record<string, unknown>;
  if ("const" in s) return s.const;
  if (Array.isArray(s.enum) && s.enum.length) return s.enum[0];
  if ("default" in s) return s.default;
  if (Array.isArray(s.examples) && s.examples.length) return s.examples[0];
  for (const key of ["oneOf", "anyOf", "allOf"]) {
    const list = s[key];
    if (Array.isArray(list) && list.length) return exampleOf(list[0], depth + 1);
  }
  const type = Array.isArray(s.type) ? s.type.find((t) => t !== "null") : s.type;
  switch (type) {
    case "object": {
      const props = (s.properties ?? {}) as Record<string, unknown>;
      const required = Array.isArray(s.required) ? s.required as string[] : [];
      return Object.fromEntries(required.map((k) => [k, exampleOf(props[k] ?? {}, depth + 1)]));
    }
    case "array": {
      const min = typeof s.minItems === "number" ? s.minItems : 0;
      return Array.from({ length: min }, () => exampleOf(s.items ?? {}, depth + 1));
    }
    case "integer":
    case "number": {
      const min = typeof s.minimum === "number" ? s.minimum : 1;
      return type === "integer" ? Math.ceil(min) : min;
    }
    case "boolean":
      return true;
    case "string": {
      const format = s.format;
      if (format === "uuid") return crypto.randomUUID();
      if (format === "date-time") return new Date(0).toISOString();
      if (format === "date") return "2026-01-01";
      if (format === "email") return "probe@example.com";
      if (format === "uri" || format === "url") return "https://example.com/";
      const min = typeof s.minLength === "number" ? s.minLength : 1;
      return "x".repeat(Math.max(1, min));
    }
    default:
      return null;
  }
}

/**
 * The checks for the endpoints documented under `/functions/v1/<fn>`; path placeholders
 * (`{id}`, `:id`) are filled by `fill` (the function run passes the owner's seeded ids, so the
 * other user asks for the owner's row by its id), else with a fresh uuid.
 */
export function contractOf(
  endpoints: readonly DocumentedEndpoint[],
  fn: string,
  /** A value for a path placeholder by its name (`{board_id}` → `board_id`); else a uuid. */
  fill: (placeholder: string) => string | undefined = () => undefined,
): ContractCheck[] {
  const prefix = `/functions/v1/${fn}`;
  return endpoints.filter((e) =>
    e.path === prefix || e.path.startsWith(`${prefix}/`) ||
    e.path.startsWith(`${prefix}?`)
  ).map((e) => {
    const label = `${e.method} ${e.path}`;
    const path = e.path.slice("/functions/v1".length)
      .replace(
        /\{([^}/]+)\}|:([A-Za-z_][A-Za-z0-9_]*)/g,
        (_, braced?: string, colon?: string) =>
          encodeURIComponent(fill(braced ?? colon ?? "") ?? crypto.randomUUID()),
      );
    let body: string | undefined;
    if (e.request && e.method !== "GET" && e.method !== "DELETE") {
      try {
        body = JSON.stringify(exampleOf(JSON.parse(e.request)));
      } catch {
        body = "{}";
      }
    }
    const documented = new Set(e.errors.map((x) => x.status));
    const response = compileSchema(e.response);
    return {
      label,
      method: e.method,
      path,
      body,
      judge(status: number, text: string): string | null {
        if (status >= 300) {
          return documented.has(status)
            ? null
            : `${label} answered ${status}, which is neither a ` +
              `success nor a documented error (${[...documented].sort().join(", ") || "none"})`;
        }
        if (typeof response === "string") {
          return `${label}: its documented response schema ${response}`;
        }
        let data: unknown;
        try {
          data = text === "" ? null : JSON.parse(text);
        } catch {
          return `${label} answered ${status} with a body that is not JSON`;
        }
        if (response(data)) return null;
        return `${label} answered ${status} with a body its response schema refuses: ` +
          describeErrors(response);
      },
    };
  });
}
