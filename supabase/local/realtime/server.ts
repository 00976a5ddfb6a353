/**
 * The local Realtime server: the routes under `/realtime/v1` (the WebSocket endpoint and the REST
 * broadcast API), the connect-time `apikey` check, one LISTEN connection whose committed messages
 * (read back from `realtime.messages`, never taken from a notification) fan out in memory to the
 * matching joins, the caps of `limits.ts`, and the sweep that closes sockets silent for longer
 * than the idle timeout (clients heartbeat every 25 s, so the default of 60 s is two missed beats).
 */
import { connect } from "../../../shared/db/mod.ts";
import type { Service } from "../api_server.ts";
import { listenForMessages, type MessageRow } from "./database_messages.ts";
import { parseVsn } from "./frames.ts";
import { Hub } from "./hub.ts";
import { type RealtimeLimits, resolveRealtimeLimits } from "./limits.ts";
import { createRestBroadcast } from "./rest_broadcast.ts";
import { Session } from "./session.ts";
import { checkToken } from "./tokens.ts";

const PREFIX = "/realtime/v1";

/** How to build the server. */
export interface RealtimeServerOptions {
  /** Database whose `realtime.messages` are delivered and whose policies authorize joins. */
  databaseUrl: string;
  /** Secret every accepted JWT is signed with. */
  jwtSecret: string;
  /** Close a socket that sent nothing for this long (default 60 000 ms). */
  idleTimeoutMs?: number;
  /** Wait this long before answering a refused join (default 0; Supabase waits a few seconds). */
  joinErrorBackoffMs?: number;
  /** Where problems are reported (default stderr). */
  log?: (line: string) => void;
  /**
   * Caps that override the environment's (`BT_REALTIME_MAX_*`, see `limits.ts`), which override
   * Supabase's documented Free-plan quotas.
   */
  limits?: Partial<RealtimeLimits>;
}

/** A running server; route every request under `/realtime/v1/` to {@link Service.fetch}. */
export interface RealtimeServer extends Service {
  /** Number of open client sockets. */
  readonly connectionCount: number;
  /** The caps in force. */
  readonly limits: RealtimeLimits;
}

function errorResponse(status: number, error: string): Response {
  return Response.json({ error }, { status });
}

/**
 * Starts the server: opens the database pool and the LISTEN connection. Resolves once LISTEN is
 * active, so every message committed after that is delivered to whoever has joined. Throws
 * before opening anything if a `BT_REALTIME_MAX_*` variable is malformed.
 */
export async function createRealtimeServer(
  options: RealtimeServerOptions,
): Promise<RealtimeServer> {
  const limits = resolveRealtimeLimits(options.limits ?? {}, Deno.env.toObject());
  const log = options.log ?? ((line: string) => console.error(`[realtime] ${line}`));
  const idleTimeoutMs = options.idleTimeoutMs ?? 60_000;
  const hub = new Hub();
  const sql = connect(options.databaseUrl, { max: 4, applicationName: "local realtime" });
  const sessions = new Set<Session>();
  let closing = false;

  const deliverRow = (row: MessageRow) => {
    if (row.extension !== "broadcast" || row.event === null) return;
    hub.publish({
      topic: row.topic,
      private: row.private ?? false,
      event: row.event,
      body: { kind: "json", value: row.payload },
      meta: { id: row.id },
    });
  };
  let listener;
  try {
    listener = await listenForMessages(sql, deliverRow, { log });
  } catch (e) {
    await sql.end({ timeout: 1 });
    throw e;
  }

  const rest = createRestBroadcast({ hub, sql, jwtSecret: options.jwtSecret, limits, log });
  const deps = {
    hub,
    sql,
    jwtSecret: options.jwtSecret,
    joinErrorBackoffMs: options.joinErrorBackoffMs ?? 0,
    limits,
    log,
  };

  const sweep = setInterval(() => {
    const now = Date.now();
    for (const session of sessions) {
      if (session.closed) sessions.delete(session);
      else if (now - session.lastSeen > idleTimeoutMs) session.close("idle timeout");
    }
  }, Math.max(100, Math.min(5_000, Math.floor(idleTimeoutMs / 4))));

  const openSocket = async (req: Request, url: URL): Promise<Response> => {
    const apikey = req.headers.get("x-api-key") ?? url.searchParams.get("apikey");
    if (!apikey) return errorResponse(403, "Unauthorized: an apikey is required");
    const checked = await checkToken(options.jwtSecret, apikey);
    if (!checked.ok) return errorResponse(403, checked.reason);
    const vsn = parseVsn(url.searchParams.get("vsn"));
    if (!vsn) return errorResponse(400, `unsupported vsn ${url.searchParams.get("vsn")}`);
    if (req.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      return errorResponse(400, "expected a WebSocket upgrade");
    }
    const { socket, response } = Deno.upgradeWebSocket(req);
    const session = new Session(socket, { vsn, apikey }, deps);
    sessions.add(session);
    socket.addEventListener("close", () => sessions.delete(session));
    return response;
  };

  return {
    get connectionCount() {
      return sessions.size;
    },
    limits,
    async fetch(req: Request): Promise<Response> {
      if (closing) return errorResponse(503, "Realtime is shutting down");
      const url = new URL(req.url);
      const path = url.pathname.startsWith(PREFIX) ? url.pathname.slice(PREFIX.length) : "";
      if (path === "/websocket" || path === "/websocket/") return await openSocket(req, url);
      if (path === "/api/broadcast" || path.startsWith("/api/broadcast/")) {
        return await rest(req, path);
      }
      return Response.json({ message: "Not found" }, { status: 404 });
    },
    async close() {
      if (closing) return;
      closing = true;
      clearInterval(sweep);
      const all = [...sessions];
      for (const session of all) session.close("server shutting down");
      await Promise.all(all.map((s) => s.whenClosed(2_000)));
      await listener.close();
      await sql.end({ timeout: 1 });
    },
  };
}
