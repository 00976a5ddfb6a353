/**
 * Reading a JSON request body safely, before anything parses it: the media type must be JSON
 * (415), the body may not exceed a byte limit — checked on `Content-Length` and again while
 * reading, since the header can be absent (chunked) or wrong (413) — and it must be UTF-8 JSON
 * (400 `invalid_json`). The checked bytes are put back on the request for the route's validator.
 *
 * @example
 * ```ts
 * app.post("/runs", jsonBody({ maxBytes: 256 * 1024 }), handler);
 * ```
 */
import type { MiddlewareHandler } from "hono";
import { AppError } from "../errors/mod.ts";

/** Default body limit: 256 KiB, far above the largest valid request (schema + conventions). */
export const DEFAULT_MAX_BODY_BYTES = 256 * 1024;

/** Options for {@link jsonBody}. */
export interface JsonBodyOptions {
  /** Largest body accepted, in bytes (default {@link DEFAULT_MAX_BODY_BYTES}). */
  maxBytes?: number;
  /** When true, an empty body (any or no media type) is read as `{}`. */
  optional?: boolean;
}

const JSON_MEDIA_TYPE = /^application\/json\s*(;.*)?$/i;

function tooLarge(maxBytes: number): AppError {
  return new AppError("payload_too_large", `the body is larger than ${maxBytes} bytes`, {
    limit_bytes: maxBytes,
  });
}

/** The stream's bytes, or a 413 as soon as they pass `maxBytes` (the rest is not read). */
export async function readLimited(
  body: ReadableStream<Uint8Array> | null,
  maxBytes: number,
): Promise<Uint8Array<ArrayBuffer>> {
  if (!body) return new Uint8Array(new ArrayBuffer(0));
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel();
      throw tooLarge(maxBytes);
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}

/** Parses UTF-8 JSON text, or throws 400 `invalid_json` saying why. */
export function parseJsonBytes(bytes: Uint8Array): unknown {
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch (e) {
    throw new AppError("invalid_json", "the body is not valid UTF-8", undefined, { cause: e });
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    const reason = e instanceof SyntaxError ? e.message : "unparseable";
    throw new AppError("invalid_json", "the body is not valid JSON", { reason }, { cause: e });
  }
}

/** Middleware enforcing media type, size and JSON syntax on a request body. */
export function jsonBody(options: JsonBodyOptions = {}): MiddlewareHandler {
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_BODY_BYTES;
  return async (c, next) => {
    const declared = c.req.header("content-length");
    if (declared !== undefined && /^\d+$/.test(declared) && Number(declared) > maxBytes) {
      throw tooLarge(maxBytes);
    }
    const type = c.req.header("content-type");
    const typeIsJson = type !== undefined && JSON_MEDIA_TYPE.test(type);
    // A declared non-JSON body is refused before reading it.
    if (type !== undefined && !typeIsJson && !options.optional) {
      throw new AppError("unsupported_media_type", "the body must be application/json", {
        content_type: type,
      });
    }
    const bytes = await readLimited(c.req.raw.body, maxBytes);
    if (bytes.byteLength === 0 && options.optional) {
      c.req.raw = new Request(c.req.raw, {
        body: "{}",
        headers: withJsonType(c.req.raw.headers),
      });
      return await next();
    }
    if (!typeIsJson) {
      throw new AppError("unsupported_media_type", "the body must be application/json", {
        content_type: type ?? null,
      });
    }
    parseJsonBytes(bytes);
    c.req.raw = new Request(c.req.raw, { body: bytes });
    await next();
  };
}

function withJsonType(headers: Headers): Headers {
  const copy = new Headers(headers);
  copy.set("content-type", "application/json");
  copy.delete("content-length");
  return copy;
}
