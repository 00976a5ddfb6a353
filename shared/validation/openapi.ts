/**
 * The OpenAPI 3.1 document of `POST /validate`, generated from the same zod schemas that parse
 * the request and describe the report ({@link ValidateRequest}, {@link ValidationReport}), so the
 * documented options (`runFunctions`, `benchmark`, `channels`, …) are exactly the accepted ones.
 * Served at `GET /functions/v1/validate/openapi.json`.
 *
 * @example
 * ```ts
 * const doc = validateOpenApi("https://ref.supabase.co/functions/v1");
 * ```
 */
import { z } from "zod";
import { ErrorBody } from "../http/mod.ts";
import { Finding } from "./finding.ts";
import { DocumentedEndpointInput, ValidateRequest, ValidationReport } from "./request.ts";

/** The document; `server` is the functions URL (default `/functions/v1`). */
export function validateOpenApi(server = "/functions/v1"): Record<string, unknown> {
  // One registry per direction; nested schemas with an id become components of their own.
  const components = (io: "input" | "output", list: Record<string, z.ZodType>) => {
    const registry = z.registry<{ id: string }>();
    for (const [id, s] of Object.entries(list)) registry.add(s, { id });
    const out = z.toJSONSchema(registry, {
      io,
      unrepresentable: "any",
      uri: (id) => `#/components/schemas/${id}`,
    }) as { schemas: Record<string, Record<string, unknown>> };
    for (const s of Object.values(out.schemas)) delete s.$schema;
    return out.schemas;
  };
  const error = (description: string) => ({
    description,
    content: { "application/json": { schema: { $ref: "#/components/schemas/ErrorBody" } } },
  });
  return {
    openapi: "3.1.0",
    info: {
      title: "Backend Team validator",
      version: "1.0.0",
      description: "Checks migrations, index queries, edge functions and private channels on a " +
        "disposable shadow database. Findings are the result (200 whatever the verdict); errors " +
        "are `{ error: { code, message, details? } }`.",
    },
    servers: [{ url: server }],
    components: {
      securitySchemes: { bearer: { type: "http", scheme: "bearer", bearerFormat: "JWT" } },
      schemas: {
        ...components("output", { ValidationReport, Finding, ErrorBody }),
        ...components("input", { ValidateRequest, DocumentedEndpoint: DocumentedEndpointInput }),
      },
    },
    security: [{ bearer: [] }],
    paths: {
      "/validate": {
        post: {
          operationId: "validate",
          summary: "Validate migrations (and optionally run functions, join channels, measure " +
            "indexes) on a shadow database",
          requestBody: {
            required: true,
            content: {
              "application/json": { schema: { $ref: "#/components/schemas/ValidateRequest" } },
            },
          },
          responses: {
            "200": {
              description: "The report: `ok` when no finding is an error.",
              content: {
                "application/json": { schema: { $ref: "#/components/schemas/ValidationReport" } },
              },
            },
            "400": error("The body is not a valid request."),
            "401": error("No signed-in user's token."),
            "413": error("The body is larger than 2 MiB."),
            "429": error("Too many validations in flight or per minute (see Retry-After)."),
          },
        },
      },
    },
  };
}
