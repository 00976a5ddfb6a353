/**
 * CORS the way Supabase Edge Functions do it: the preflight `OPTIONS` is answered at once, and
 * every other response (errors included) carries supabase-js's canonical `corsHeaders`, so browser
 * apps using the SDK can call the API.
 *
 * @example
 * ```ts
 * app.use("*", cors());
 * ```
 */
import type { MiddlewareHandler } from "hono";
import { corsHeaders } from "@supabase/supabase-js/cors";

export { corsHeaders };

/** Answers preflights and adds the CORS headers to every response. */
export function cors(): MiddlewareHandler {
  return async (c, next) => {
    if (c.req.method === "OPTIONS") return new Response("ok", { headers: corsHeaders });
    await next();
    // After next(): the error handler's response has been set by now, so errors get them too.
    for (const [name, value] of Object.entries(corsHeaders)) c.res.headers.set(name, value);
  };
}
