/**
 * Realtime's REST broadcast endpoints, for servers and clients that send without joining:
 * `POST /api/broadcast` (a batch, what `channel.send()` falls back to before joining) and
 * `POST /api/broadcast/<topic>/events/<event>[?private=true]` (one message, what `httpSend()`
 * uses). The caller's JWT comes from `Authorization: Bearer` or `apikey`; without a valid one the
 * answer is Realtime's 401 `{"message":"Unauthorized"}`. A private message is sent only if the
 * INSERT policies on `realtime.messages` let the caller write to its topic — otherwise it is
 * skipped and the answer is still 202, exactly as on Supabase (a `service_role` key bypasses RLS).
 */
import { z } from "zod";
import { bearerToken } from "../../../shared/auth/mod.ts";
import type { Sql } from "../../../shared/db/mod.ts";
import { writePolicies } from "./authorization.ts";
import type { BroadcastBody } from "./frames.ts";
import type { Hub } from "./hub.ts";
import { type ChannelClaims, checkToken } from "./tokens.ts";

/** The batch endpoint's body. */
export const BroadcastBatch = z.object({
  messages: z.array(z.object({
    topic: z.string().min(1),
    event: z.string().min(1),
    payload: z.record(z.string(), z.unknown()),
    private: z.boolean().optional(),
  })).min(1),
});
export type BroadcastBatch = z.infer<typeof BroadcastBatch>;

/** What the endpoints need. */
export interface RestBroadcastDeps {
  hub: Hub;
  sql: Sql;
  jwtSecret: string;
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

  const send = async (
    req: Request,
    claims: ChannelClaims,
    topic: string,
    event: string,
    isPrivate: boolean,
    body: BroadcastBody,
  ) => {
    if (isPrivate && !await mayWrite(claims, topic, req.headers)) return;
    deps.hub.publish({ topic, private: isPrivate, event, body });
  };

  return async (req: Request, path: string): Promise<Response> => {
    if (req.method === "OPTIONS") return new Response(null, { status: 200, headers: CORS_HEADERS });
    if (req.method !== "POST") return json({ message: "Method not allowed" }, 405);
    const claims = await callerClaims(req, deps.jwtSecret);
    if (!claims) return unauthorized();

    if (path === "/api/broadcast") {
      let raw: unknown;
      try {
        raw = await req.json();
      } catch {
        return json({ errors: { body: ["is not valid JSON"] } }, 422);
      }
      const parsed = BroadcastBatch.safeParse(raw);
      if (!parsed.success) return unprocessable(parsed.error);
      for (const m of parsed.data.messages) {
        await send(req, claims, m.topic, m.event, m.private === true, {
          kind: "json",
          value: m.payload,
        });
      }
      return accepted();
    }

    const single = /^\/api\/broadcast\/([^/]+)\/events\/([^/]+)$/.exec(path);
    if (!single) return json({ message: "Not found" }, 404);
    const topic = decodeURIComponent(single[1]);
    const event = decodeURIComponent(single[2]);
    const isPrivate = new URL(req.url).searchParams.get("private") === "true";
    const type = (req.headers.get("content-type") ?? "").split(";")[0].trim().toLowerCase();
    let body: BroadcastBody;
    if (type === "application/octet-stream") {
      body = { kind: "binary", bytes: new Uint8Array(await req.arrayBuffer()) };
    } else if (type === "application/json" || type === "") {
      try {
        body = { kind: "json", value: await req.json() };
      } catch {
        return json({ errors: { body: ["is not valid JSON"] } }, 422);
      }
    } else {
      return json({ message: `Unsupported content type ${type}` }, 415);
    }
    await send(req, claims, topic, event, isPrivate, body);
    return accepted();
  };
}
