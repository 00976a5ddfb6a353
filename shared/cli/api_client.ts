/**
 * The orchestrator's REST API as the CLI calls it: through `@supabase/supabase-js`
 * (`functions.invoke("orchestrator/…")`), as an app would, with the user's token; the one binary
 * answer (the tar.gz deliverable) goes through `fetch` with the same headers because `invoke`
 * reads unknown content types as text. Answers are parsed with the API's own zod schemas, and
 * every failure becomes an {@link ApiError} carrying the server's `{ code, message, details }`.
 *
 * @example
 * ```ts
 * const api = createRunsApi(await resolveConnection({}));
 * const run = await api.submit({ request: "A todo API" });
 * ```
 */
import { createClient, FunctionsHttpError, type SupabaseClient } from "@supabase/supabase-js";
import type { z } from "zod";
import {
  type Answers,
  type CreateRunRequest,
  Deliverable,
  EventPage,
  type Run,
  RunDetail,
  RunEnvelope,
  RunPage,
} from "../runs/mod.ts";
import { type ValidateRequest, ValidationReport } from "../validation/mod.ts";
import type { Connection } from "./connection.ts";

/** A failed API call: the server's error code and message, or a transport failure. */
export class ApiError extends Error {
  readonly code: string;
  readonly status?: number;
  readonly details?: unknown;

  constructor(code: string, message: string, options: { status?: number; details?: unknown } = {}) {
    super(message);
    this.name = "ApiError";
    this.code = code;
    this.status = options.status;
    this.details = options.details;
  }
}

/** The calls the CLI makes. */
export interface RunsApi {
  /** The supabase-js client (Realtime uses it too). */
  readonly client: SupabaseClient;
  submit(body: CreateRunRequest): Promise<Run>;
  get(id: string): Promise<RunDetail>;
  list(limit?: number): Promise<RunPage>;
  events(id: string, after: number, limit?: number): Promise<EventPage>;
  answer(id: string, answers: Answers): Promise<Run>;
  cancel(id: string): Promise<Run>;
  deliverable(id: string): Promise<Deliverable>;
  deliverableMarkdown(id: string): Promise<string>;
  deliverableArchive(id: string): Promise<Uint8Array>;
  /** The standalone validator, `POST /functions/v1/validate`. */
  validate(request: ValidateRequest): Promise<ValidationReport>;
}

/** Options of {@link createRunsApi}. */
export interface RunsApiOptions {
  /** Called before each request (method and path under `/functions/v1`), for `--verbose` output. */
  onRequest?: (method: string, path: string) => void;
}

/** A client of the orchestrator API for `connection`. */
export function createRunsApi(connection: Connection, options: RunsApiOptions = {}): RunsApi {
  const token = connection.token;
  const client = createClient(connection.url, connection.anonKey, {
    auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
    accessToken: () => Promise.resolve(token),
  });
  const functionsUrl = `${connection.url}/functions/v1`;

  async function call<S extends z.ZodType>(
    schema: S,
    method: "GET" | "POST",
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<z.infer<S>> {
    const data = await invoke(method, path, body, headers);
    const parsed = schema.safeParse(data);
    if (!parsed.success) {
      throw new ApiError(
        "unexpected_response",
        `${method} ${path} answered in an unexpected shape: ${parsed.error.issues[0]?.message}`,
      );
    }
    return parsed.data;
  }

  async function invoke(
    method: "GET" | "POST",
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<unknown> {
    options.onRequest?.(method, path);
    const { data, error } = await client.functions.invoke(path.replace(/^\//, ""), {
      method,
      body: body as Record<string, unknown> | undefined,
      headers,
    });
    if (error) throw await toApiError(error, method, path, functionsUrl);
    return data;
  }

  return {
    client,
    async submit(body) {
      return (await call(RunEnvelope, "POST", "/orchestrator/runs", body)).run;
    },
    get(id) {
      return call(RunDetail, "GET", `/orchestrator/runs/${id}`);
    },
    list(limit) {
      return call(RunPage, "GET", `/orchestrator/runs${limit ? `?limit=${limit}` : ""}`);
    },
    events(id, after, limit = 1000) {
      return call(
        EventPage,
        "GET",
        `/orchestrator/runs/${id}/events?after=${after}&limit=${limit}`,
      );
    },
    async answer(id, answers) {
      return (await call(RunEnvelope, "POST", `/orchestrator/runs/${id}/answers`, { answers })).run;
    },
    async cancel(id) {
      return (await call(RunEnvelope, "POST", `/orchestrator/runs/${id}/cancel`, {})).run;
    },
    deliverable(id) {
      return call(Deliverable, "GET", `/orchestrator/runs/${id}/deliverable`, undefined, {
        Accept: "application/json",
      });
    },
    async deliverableMarkdown(id) {
      const data = await invoke("GET", `/orchestrator/runs/${id}/deliverable`, undefined, {
        Accept: "text/markdown",
      });
      if (typeof data !== "string") {
        throw new ApiError("unexpected_response", "the deliverable was not sent as Markdown");
      }
      return data;
    },
    async deliverableArchive(id) {
      const path = `/orchestrator/runs/${id}/deliverable`;
      options.onRequest?.("GET", path);
      let res: Response;
      try {
        res = await fetch(`${functionsUrl}${path}`, {
          headers: {
            apikey: connection.anonKey,
            Authorization: `Bearer ${token}`,
            Accept: "application/gzip",
          },
        });
      } catch (e) {
        throw unreachable(functionsUrl, e);
      }
      if (!res.ok) throw await errorFromResponse(res, "GET", path);
      const type = res.headers.get("content-type") ?? "";
      const bytes = new Uint8Array(await res.arrayBuffer());
      if (!/gzip|octet-stream|x-tar/.test(type) || bytes[0] !== 0x1f || bytes[1] !== 0x8b) {
        throw new ApiError(
          "unexpected_response",
          `the deliverable was not sent as a gzip archive (content-type ${type || "none"})`,
        );
      }
      return bytes;
    },
    validate(request) {
      return call(ValidationReport, "POST", "/validate", request);
    },
  };
}

async function toApiError(
  error: unknown,
  method: string,
  path: string,
  functionsUrl: string,
): Promise<ApiError> {
  if (error instanceof FunctionsHttpError) {
    return await errorFromResponse(error.context as Response, method, path);
  }
  // FunctionsFetchError (no connection) and FunctionsRelayError.
  return unreachable(functionsUrl, (error as { context?: unknown }).context ?? error);
}

function unreachable(functionsUrl: string, cause: unknown): ApiError {
  const reason = cause instanceof Error ? cause.message : String(cause);
  return new ApiError(
    "upstream_unavailable",
    `cannot reach ${functionsUrl} (${reason}); is the stack running (npm run dev) and ` +
      "SUPABASE_URL right?",
  );
}

/** The error a non-2xx response carries: the API's `{ error: { code, message, details } }`. */
export async function errorFromResponse(
  res: Response,
  method: string,
  path: string,
): Promise<ApiError> {
  const text = await res.text().catch(() => "");
  try {
    const body = JSON.parse(text) as {
      error?: { code?: unknown; message?: unknown; details?: unknown } | string;
      message?: unknown;
      msg?: unknown;
    };
    const err = body.error;
    if (err && typeof err === "object" && typeof err.code === "string") {
      return new ApiError(err.code, String(err.message ?? ""), {
        status: res.status,
        details: err.details,
      });
    }
    const message = typeof err === "string" ? err : body.message ?? body.msg;
    if (typeof message === "string") {
      return new ApiError(`http_${res.status}`, message, { status: res.status });
    }
  } catch {
    // not JSON: fall through
  }
  return new ApiError(
    `http_${res.status}`,
    `${method} ${path}: ${res.status} ${res.statusText}${text ? ` ${text.slice(0, 300)}` : ""}`,
    { status: res.status },
  );
}
