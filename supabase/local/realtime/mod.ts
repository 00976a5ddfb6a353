/**
 * The local stand-in for Supabase Realtime, served by the local stack under `/realtime/v1/`:
 * the WebSocket endpoint `@supabase/realtime-js` connects to (Phoenix protocol, vsn 1.0.0 and
 * 2.0.0 with binary broadcast frames), private channels authorized by the RLS policies on
 * `realtime.messages` with the joining user's claims, every committed `realtime.send(...)` delivered
 * to the matching joins in commit order, client broadcasts relayed between joins, and the REST
 * broadcast endpoints. Presence is minimal: `track`/`untrack` are acknowledged and a join with
 * presence enabled receives an empty `presence_state`, but nobody is told about anybody else.
 * Postgres Changes are not served (a join asking for them gets a `system` error message).
 *
 * It is a boundary, as Supabase Realtime is: a message reaches subscribers only once it is read
 * back from `realtime.messages` (a NOTIFY alone delivers nothing, since any role may send one),
 * and the documented quotas are enforced per socket — REST body, frame size, channels, joins and
 * messages per second — configurable through `BT_REALTIME_MAX_*` (see `limits.ts`).
 *
 * @example
 * ```ts
 * const realtime = await createRealtimeServer({ databaseUrl, jwtSecret });
 * Deno.serve({ port: 54321 }, (req) => realtime.fetch(req));
 * // createClient("http://127.0.0.1:54321", anonKey).channel("room:1").subscribe();
 * await realtime.close();
 * ```
 */
export { createRealtimeServer, type RealtimeServer, type RealtimeServerOptions } from "./server.ts";
export {
  DEFAULT_REALTIME_LIMITS,
  REALTIME_LIMIT_ENV,
  RealtimeLimits,
  RealtimeLimitsError,
  realtimeLimitsFromEnv,
  resolveRealtimeLimits,
} from "./limits.ts";
export { localChannelProbe } from "./channel_probe.ts";
