/**
 * The orchestrator's REST API: the app factory, its routes (the OpenAPI contract) and its
 * configuration. `functions/orchestrator/index.ts` only wires these together.
 *
 * @example
 * ```ts
 * const config = loadOrchestratorConfig();
 * const app = createOrchestratorApp({ sql: connect(config.dbUrl), jwtSecret: config.jwtSecret });
 * Deno.serve(app.fetch);
 * ```
 */
export {
  BASE_PATH,
  createOrchestratorApp,
  type OrchestratorApp,
  type OrchestratorDeps,
} from "./app.ts";
export { BEARER_SCHEME, CancelRunRequest, orchestratorRoutes } from "./routes.ts";
export {
  DEFAULT_API_DB_POOL,
  loadOrchestratorConfig,
  type OrchestratorConfig,
  OrchestratorEnv,
} from "./config.ts";
