/**
 * Turns what the `openai` SDK throws after its own retries into the product's error: one code,
 * `llm_unavailable`, and a message that says what happened (HTTP status and the endpoint's words,
 * a timeout, a refused connection) and where, so an operator can tell a wrong model name from an
 * overloaded provider from one log line. The message names the endpoint, so it is for the log:
 * users read `publicError`'s form, built from the `reason` and `status` of the details.
 */
import { APIConnectionError, APIConnectionTimeoutError, APIError, APIUserAbortError } from "openai";
import { AppError } from "../errors/mod.ts";

/** Where the failed call went and how hard the SDK tried. */
export interface TransportContext {
  baseURL: string;
  model: string;
  timeoutMs: number;
  maxRetries: number;
}

/** Details of an `llm_unavailable` error. */
export interface TransportFailure {
  reason: "http_error" | "timeout" | "connection" | "aborted";
  status: number | null;
  baseURL: string;
  model: string;
  requestId: string | null;
}

/** The AppError for a failed transport; errors that are not the SDK's are returned unchanged. */
export function transportError(error: unknown, ctx: TransportContext): unknown {
  if (!(error instanceof APIError)) return error;
  const tries = `${ctx.maxRetries + 1} attempt(s)`;
  const details = (
    reason: TransportFailure["reason"],
    status: number | null,
  ): TransportFailure => ({
    reason,
    status,
    baseURL: ctx.baseURL,
    model: ctx.model,
    requestId: error.requestID ?? null,
  });
  if (error instanceof APIUserAbortError) {
    return new AppError("llm_unavailable", "LLM request was cancelled", details("aborted", null), {
      cause: error,
    });
  }
  if (error instanceof APIConnectionTimeoutError) {
    return new AppError(
      "llm_unavailable",
      `LLM at ${ctx.baseURL} did not answer within ${ctx.timeoutMs} ms (${tries})`,
      details("timeout", null),
      { cause: error },
    );
  }
  if (error instanceof APIConnectionError) {
    const cause = error.cause instanceof Error ? `: ${error.cause.message}` : "";
    return new AppError(
      "llm_unavailable",
      `could not reach the LLM at ${ctx.baseURL} (${tries})${cause}`,
      details("connection", null),
      { cause: error },
    );
  }
  const status = error.status ?? null;
  const statusTries = status !== null && isRetriedStatus(status) ? ` (${tries})` : "";
  return new AppError(
    "llm_unavailable",
    `LLM at ${ctx.baseURL} answered HTTP ${status} for model ${ctx.model}${statusTries}: ${
      endpointMessage(error)
    }`,
    details("http_error", status),
    { cause: error },
  );
}

/** Statuses the SDK retries (it also obeys an `x-should-retry` header, rarely sent). */
function isRetriedStatus(status: number): boolean {
  return status === 408 || status === 409 || status === 429 || status >= 500;
}

/** The endpoint's own explanation, without the status the SDK prefixes to its message. */
function endpointMessage(error: APIError): string {
  const body = error.error;
  if (body && typeof body === "object" && "message" in body && typeof body.message === "string") {
    return body.message;
  }
  return error.message.replace(/^\d{3} /, "");
}
