/**
 * Realtime's REST broadcast endpoints, for servers and clients that send without joining:
 * `POST /api/broadcast` (a batch, what `channel.send()` falls back to before joining) and
 * `POST /api/broadcast/<topic>/events/<event>[?private=true]` (one message, what `httpSend()`
 * uses). The caller's JWT comes from `Authorization: Bearer` or `apikey`; without a valid one the
 * answer is Realtime's 401 `{"message":"Unauthorized"}`. A private message is sent only if the
 * INSERT policies on `realtime.messages` let the caller write to its topic — otherwise it is
 * skipped and the answer is still 202, exactly as on Supabase (a `service_role` key bypasses RLS).
 * A body is read as a stream up to the payload cap and no further: a larger one (declared or not)
 * gets 413 `{error: {code: "payload_too_large", message}}`; a batch may carry at most the
 * per-second message cap, else 422 in Realtime's changeset form.
 */
import { z } from "zod";
import { bearerToken } from "../../../shared/auth/mod.ts";
import type { Sql } from "../../../shared/db/mod.ts";
import { isAppError } from "../../../shared/errors/mod.ts";
import { readLimited } from "../../../shared/http/mod.ts";
import { writePolicies } from "./authorization.ts";
import type { BroadcastBody } from "./frames.ts";
import type { Hub } from "./hub.ts";
import type { RealtimeLimits } from "./limits.ts";
import { type ChannelClaims, checkToken } from "./tokens.ts";

const BroadcastMessage = z.object({
  topic: z.string().min(1),
  event: z.string().min(1),
  payload: z.record(z.string(), z.unknown()),
  private: z.boolean().optional(),
});

/** The batch endpoint's body, carrying at most `maxMessages` messages. */
export function broadcastBatch(maxMessages: number) {
  return z.object({ messages: z.array(BroadcastMessage).min(1).max(maxMessages) });
}
export type BroadcastBatch = z.infer<ReturnType<typeof broadcastBatch>>;

/** What the endpoints need. */
export interface RestBroadcastDeps {
  hub: Hub;
  sql: Sql;
  jwtSecret: string;
  limits: Pick<RealtimeLimits, "maxPayloadBytes" | "maxEventsPerSecond">;
  log: (line: string) => void;
}

const CORS_HEADERS = {
  "access-control-allow-origin": "*",
  "access-control-allow-headers": "authorization, x-client-info, apikey, content-type",
  "access-control-allow-methods": "POST, OPTIONS",
};

function json(body: unknown, status: number): Response {
  return Response.json(body, { status, headers: CORS_HEADERS });
}

const accepted = () => new Response(null, { status: 202, headers: CORS_HEADERS });
const unauthorized = () => json({ message: "Unauthorized" }, 401);
const notJson = () => json({ errors: { body: ["is not valid JSON"] } }, 422);

function tooLarge(maxBytes: number): Response {
  return json({
    error: {
      code: "payload_too_large",
      message: `the body is larger than the ${maxBytes}-byte broadcast payload limit`,
    },
  }, 413);
}

/** Thrown by {@link readBody} when the body passes the cap. */
class BodyTooLarge extends Error {}

/**
 * The body's bytes, refusing a declared `Content-Length` over `maxBytes` before reading anything
 * and otherwise reading the stream only until it passes `maxBytes`.
 */
async function readBody(req: Request, maxBytes: number): Promise<Uint8Array> {
  const declared = req.headers.get("content-length");
  if (declared !== null && /^\d+$/.test(declared) && Number(declared) > maxBytes) {
    await req.body?.cancel().catch(() => {});
    throw new BodyTooLarge();
  }
  try {
    return await readLimited(req.body, maxBytes);
  } catch (e) {
    if (isAppError(e, "payload_too_large")) throw new BodyTooLarge();
    throw e;
  }
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

function parseJson(bytes: Uint8Array): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(utf8.decode(bytes)) };
  } catch {
    return { ok: false };
  }
}

function unprocessable(error: z.ZodError): Response {
  const errors: Record<string, string[]> = {};
  for (const issue of error.issues) {
    const path = issue.path.join(".") || "body";
    (errors[path] ??= []).push(issue.message);
  }
  return json({ errors }, 422);
}

async function callerClaims(req: Request, secret: string): Promise<ChannelClaims | undefined> {
  const token = bearerToken(req.headers.get("authorization")) ?? req.headers.get("apikey");
  if (!token) return undefined;
  const checked = await checkToken(secret, token);
  return checked.ok ? checked.claims : undefined;
}

/** Handles `/api/broadcast[...]` (the path after `/realtime/v1`). */
export function createRestBroadcast(deps: RestBroadcastDeps) {
  const { maxPayloadBytes } = deps.limits;
  const BroadcastBatch = broadcastBatch(deps.limits.maxEventsPerSecond);
  const mayWrite = async (claims: ChannelClaims, topic: string, headers: Headers) => {
    try {
      const write = await writePolicies(deps.sql, {
        topic,
        claims,
        headers: Object.fromEntries(headers),
      });
      return write.broadcast;
    } catch (e) {
      deps.log(`policy check failed for ${topic}: ${e instanceof Error ? e.message : e}`);
      return false;
    }
  };

  /** Publishes unless private and refused; `writable` caches the policy answer per topic. */
  const send = async (
    req: Request,
    claims: ChannelClaims,
    message: { topic: string; event: string; private: boolean; body: BroadcastBody },
    writable = new Map<string, boolean>(),
  ) => {
    const { topic } = message;
    if (message.private) {
      if (!writable.has(topic)) writable.set(topic, await mayWrite(claims, topic, req.headers));
      if (!writable.get(topic)) return;
    }
    deps.hub.publish({ topic, private: message.private, event: message.event, body: message.body });
  };

  return async (req: Request, path: string): Promise<Response> => {
    if (req.method === "OPTIONS") return new Response(null, { status: 200, headers: CORS_HEADERS });
    if (req.method !== "POST") return json({ message: "Method not allowed" }, 405);
    const claims = await callerClaims(req, deps.jwtSecret);
    if (!claims) {
      await req.body?.cancel().catch(() => {});
      return unauthorized();
    }

    if (path === "/api/broadcast") {
      let bytes: Uint8Array;
      try {
        bytes = await readBody(req, maxPayloadBytes);
      } catch (e) {
        if (e instanceof BodyTooLarge) return tooLarge(maxPayloadBytes);
        throw e;
      }
      const raw = parseJson(bytes);
      if (!raw.ok) return notJson();
      const parsed = BroadcastBatch.safeParse(raw.value);
      if (!parsed.success) return unprocessable(parsed.error);
      const writable = new Map<string, boolean>();
      for (const m of parsed.data.messages) {
        const body: BroadcastBody = { kind: "json", value: m.payload };
        await send(req, claims, { ...m, private: m.private === true, body }, writable);
      }
      return accepted();
    }

    const single = /^\/api\/broadcast\/([^/]+)\/events\/([^/]+)$/.exec(path);
    if (!single) {
      await req.body?.cancel().catch(() => {});
      return json({ message: "Not found" }, 404);
    }
    let topic: string;
    let event: string;
    try {
      topic = decodeURIComponent(single[1]);
      event = decodeURIComponent(single[2]);
    } catch {
      await req.body?.cancel().catch(() => {});
      return json({ message: "Not found" }, 404);
    }
    const isPrivate = new URL(req.url).searchParams.get("private") === "true";
    const type = (req.headers.get("content-type") ?? "").split(";")[0].trim().toLowerCase();
    const binary = type === "application/octet-stream";
    if (!binary && type !== "application/json" && type !== "") {
      await req.body?.cancel().catch(() => {});
      return json({ message: `Unsupported content type ${type}` }, 415);
    }
    let bytes: Uint8Array;
    try {
      bytes = await readBody(req, maxPayloadBytes);
    } catch (e) {
      if (e instanceof BodyTooLarge) return tooLarge(maxPayloadBytes);
      throw e;
    }
    let body: BroadcastBody;
    if (binary) body = { kind: "binary", bytes };
    else {
      const raw = parseJson(bytes);
      if (!raw.ok) return notJson();
      body = { kind: "json", value: raw.value };
    }
    await send(req, claims, { topic, event, private: isPrivate, body });
    return accepted();
  };
}
