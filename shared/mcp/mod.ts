/**
 * Backend Team over the Model Context Protocol: the app factory of the `mcp` function (see
 * `server.ts`). `functions/mcp/index.ts` only wires it to the environment.
 *
 * @example
 * ```ts
 * const app = createMcpApp({ sql, verifyToken, functionsUrl });
 * Deno.serve(app.fetch);
 * ```
 */
export { createMcpApp, MCP_BASE_PATH, type McpDeps } from "./server.ts";
