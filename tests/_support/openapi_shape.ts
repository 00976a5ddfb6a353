/**
 * A structural check of OpenAPI 3.0/3.1 documents, for tests: the required top-level fields,
 * well-formed paths and operations (responses with descriptions, parameters with a valid `in`,
 * every `{param}` of a path declared as a required path parameter), security requirements naming
 * declared schemes, schema objects with valid `type`/`required`, and every `$ref` resolving.
 * It is not the full OpenAPI JSON Schema; where `@seriousme/openapi-schema-validator` is mapped in
 * deno.json, {@link validateWithOfficialSchema} runs that too.
 *
 * @example
 * ```ts
 * assert.deepEqual(openApiProblems(doc), []);
 * ```
 */

type Json = unknown;

const METHODS = new Set(["get", "put", "post", "delete", "options", "head", "patch", "trace"]);
const PARAM_IN = new Set(["query", "header", "path", "cookie"]);
const JSON_TYPES = new Set(["string", "number", "integer", "boolean", "array", "object", "null"]);
const STATUS_KEY = /^([1-5][0-9][0-9]|[1-5]XX|default)$/;

function isObject(v: Json): v is Record<string, Json> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function resolvePointer(doc: Json, ref: string): Json {
  if (!ref.startsWith("#/")) return undefined;
  let node: Json = doc;
  for (const raw of ref.slice(2).split("/")) {
    const key = raw.replaceAll("~1", "/").replaceAll("~0", "~");
    if (!isObject(node) || !(key in node)) return undefined;
    node = node[key];
  }
  return node;
}

function checkSchema(schema: Json, where: string, problems: string[], v31: boolean): void {
  if (!isObject(schema)) {
    if (typeof schema !== "boolean" || !v31) problems.push(`${where}: schema is not an object`);
    return;
  }
  if ("$ref" in schema) return;
  const type = schema.type;
  if (type !== undefined) {
    const types = Array.isArray(type) ? type : [type];
    if (Array.isArray(type) && !v31) problems.push(`${where}: type arrays need OpenAPI 3.1`);
    for (const t of types) {
      if (typeof t !== "string" || !JSON_TYPES.has(t) || (t === "null" && !v31)) {
        problems.push(`${where}: invalid type ${JSON.stringify(t)}`);
      }
    }
  }
  if (schema.required !== undefined) {
    if (!Array.isArray(schema.required) || schema.required.some((r) => typeof r !== "string")) {
      problems.push(`${where}: required must be a list of names`);
    } else if (isObject(schema.properties)) {
      for (const name of schema.required as string[]) {
        if (!(name in schema.properties)) {
          problems.push(`${where}: required '${name}' is not a property`);
        }
      }
    }
  }
  if (schema.properties !== undefined) {
    if (!isObject(schema.properties)) problems.push(`${where}: properties is not an object`);
    else {
      for (const [name, sub] of Object.entries(schema.properties)) {
        checkSchema(sub, `${where}.properties.${name}`, problems, v31);
      }
    }
  }
  if (schema.items !== undefined) checkSchema(schema.items, `${where}.items`, problems, v31);
  for (const key of ["anyOf", "oneOf", "allOf"]) {
    const list = schema[key];
    if (list === undefined) continue;
    if (!Array.isArray(list) || list.length === 0) problems.push(`${where}.${key}: not a list`);
    else list.forEach((s, i) => checkSchema(s, `${where}.${key}[${i}]`, problems, v31));
  }
  if (isObject(schema.additionalProperties)) {
    checkSchema(schema.additionalProperties, `${where}.additionalProperties`, problems, v31);
  }
}

function checkRefs(doc: Json, node: Json, where: string, problems: string[]): void {
  if (Array.isArray(node)) {
    node.forEach((item, i) => checkRefs(doc, item, `${where}[${i}]`, problems));
    return;
  }
  if (!isObject(node)) return;
  for (const [key, value] of Object.entries(node)) {
    if (key === "$ref") {
      if (typeof value !== "string" || resolvePointer(doc, value) === undefined) {
        problems.push(`${where}: $ref ${JSON.stringify(value)} does not resolve`);
      }
    } else checkRefs(doc, value, `${where}.${key}`, problems);
  }
}

function checkContent(content: Json, where: string, problems: string[], v31: boolean): void {
  if (!isObject(content)) {
    problems.push(`${where}: content is not an object`);
    return;
  }
  for (const [media, value] of Object.entries(content)) {
    if (!/^[\w.+-]+\/[\w.+*-]+/.test(media)) problems.push(`${where}: bad media type ${media}`);
    if (isObject(value) && value.schema !== undefined) {
      checkSchema(value.schema, `${where}.${media}.schema`, problems, v31);
    }
  }
}

/** Everything structurally wrong with `doc` as an OpenAPI 3.x document (empty when nothing). */
export function openApiProblems(doc: Json): string[] {
  const problems: string[] = [];
  if (!isObject(doc)) return ["document is not an object"];
  if (typeof doc.openapi !== "string" || !/^3\.[01]\.\d+$/.test(doc.openapi)) {
    problems.push(`openapi must be "3.0.x" or "3.1.x", got ${JSON.stringify(doc.openapi)}`);
  }
  const v31 = typeof doc.openapi === "string" && doc.openapi.startsWith("3.1");
  if (!isObject(doc.info)) problems.push("info is missing");
  else {
    if (typeof doc.info.title !== "string") problems.push("info.title is missing");
    if (typeof doc.info.version !== "string") problems.push("info.version is missing");
  }
  if (!isObject(doc.paths)) problems.push("paths is missing");
  const schemes = isObject(doc.components) && isObject(doc.components.securitySchemes)
    ? doc.components.securitySchemes
    : {};
  const checkSecurity = (security: Json, where: string) => {
    if (security === undefined) return;
    if (!Array.isArray(security)) return problems.push(`${where}: security is not a list`);
    for (const requirement of security) {
      if (!isObject(requirement)) problems.push(`${where}: security requirement is not an object`);
      else {
        for (const name of Object.keys(requirement)) {
          if (!(name in schemes)) problems.push(`${where}: unknown security scheme ${name}`);
        }
      }
    }
  };
  checkSecurity(doc.security, "security");

  const operationIds = new Set<string>();
  for (const [path, item] of Object.entries(isObject(doc.paths) ? doc.paths : {})) {
    if (!path.startsWith("/")) problems.push(`path ${path} does not start with /`);
    if (!isObject(item)) {
      problems.push(`${path}: path item is not an object`);
      continue;
    }
    const templated = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]);
    for (const [method, op] of Object.entries(item)) {
      if (method === "parameters" || method === "summary" || method === "description") continue;
      const where = `${method.toUpperCase()} ${path}`;
      if (!METHODS.has(method)) {
        problems.push(`${where}: unknown method`);
        continue;
      }
      if (!isObject(op)) {
        problems.push(`${where}: operation is not an object`);
        continue;
      }
      if (typeof op.operationId === "string") {
        if (operationIds.has(op.operationId)) {
          problems.push(`${where}: duplicate operationId ${op.operationId}`);
        }
        operationIds.add(op.operationId);
      }
      if (!isObject(op.responses) || Object.keys(op.responses).length === 0) {
        problems.push(`${where}: no responses`);
      } else {
        for (const [status, response] of Object.entries(op.responses)) {
          if (!STATUS_KEY.test(status)) problems.push(`${where}: bad response key ${status}`);
          if (!isObject(response)) {
            problems.push(`${where} ${status}: response is not an object`);
            continue;
          }
          if ("$ref" in response) continue;
          if (typeof response.description !== "string") {
            problems.push(`${where} ${status}: response has no description`);
          }
          if (response.content !== undefined) {
            checkContent(response.content, `${where} ${status}`, problems, v31);
          }
        }
      }
      const params = op.parameters ?? [];
      const pathParams = new Set<string>();
      if (!Array.isArray(params)) problems.push(`${where}: parameters is not a list`);
      else {
        for (const p of params) {
          if (!isObject(p) || "$ref" in p) continue;
          if (typeof p.name !== "string") problems.push(`${where}: a parameter has no name`);
          if (typeof p.in !== "string" || !PARAM_IN.has(p.in)) {
            problems.push(`${where}: parameter ${p.name} has invalid in ${JSON.stringify(p.in)}`);
          }
          if (p.in === "path") {
            pathParams.add(String(p.name));
            if (p.required !== true) {
              problems.push(`${where}: path parameter ${p.name} not required`);
            }
          }
          if (p.schema !== undefined) checkSchema(p.schema, `${where} ${p.name}`, problems, v31);
        }
      }
      for (const name of templated) {
        if (!pathParams.has(name)) problems.push(`${where}: {${name}} is not a declared parameter`);
      }
      if (op.requestBody !== undefined) {
        if (!isObject(op.requestBody)) problems.push(`${where}: requestBody is not an object`);
        else if (!("$ref" in op.requestBody)) {
          checkContent(op.requestBody.content, `${where} body`, problems, v31);
        }
      }
      checkSecurity(op.security, where);
    }
  }
  if (doc.components !== undefined) {
    if (!isObject(doc.components)) problems.push("components is not an object");
    else if (doc.components.schemas !== undefined) {
      if (!isObject(doc.components.schemas)) problems.push("components.schemas is not an object");
      else {
        for (const [name, schema] of Object.entries(doc.components.schemas)) {
          checkSchema(schema, `components.schemas.${name}`, problems, v31);
        }
      }
    }
  }
  checkRefs(doc, doc, "#", problems);
  return problems;
}

/**
 * Validates `doc` against the official OpenAPI JSON Schema with
 * `@seriousme/openapi-schema-validator` when deno.json maps it; `undefined` when it is not mapped.
 */
export async function validateWithOfficialSchema(
  doc: Json,
): Promise<{ valid: boolean; errors?: unknown } | undefined> {
  // A variable specifier: the package is optional, so it must not be resolved when type-checking.
  const specifier = "@seriousme/openapi-schema-validator";
  let mod: {
    Validator: new () => { validate(d: Json): Promise<{ valid: boolean; errors?: unknown }> };
  };
  try {
    mod = await import(specifier);
  } catch {
    return undefined;
  }
  return await new mod.Validator().validate(doc);
}
