/**
 * The local stack's API gateway, standing in for Kong on a Supabase project: one HTTP port routing
 * `/functions/v1/*` to the edge-functions gateway and `/realtime/v1/*` to the Realtime server, so
 * `createClient(apiUrl, key)` from supabase-js works against it unchanged.
 */

/** Something the API server can route to. */
export interface Service {
  fetch(req: Request): Promise<Response>;
  close(): Promise<void>;
}

/** Routes a request to the service owning its path prefix. */
export function routeApi(services: { functions: Service; realtime: Service }) {
  return (req: Request): Promise<Response> => {
    const { pathname } = new URL(req.url);
    if (pathname.startsWith("/functions/v1/")) return services.functions.fetch(req);
    if (pathname.startsWith("/realtime/v1/")) return services.realtime.fetch(req);
    if (pathname === "/health") return Promise.resolve(Response.json({ status: "ok" }));
    return Promise.resolve(Response.json(
      { error: { code: "not_found", message: `no route for ${pathname}` } },
      { status: 404 },
    ));
  };
}
