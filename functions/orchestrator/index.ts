/**
 * The `orchestrator` edge function: the REST API apps call with a user's token. Wiring only — the
 * app, its routes and its checks live in `shared/api`.
 */
import { createOrchestratorApp, loadOrchestratorConfig } from "../../shared/api/mod.ts";
import { connect } from "../../shared/db/mod.ts";

const config = loadOrchestratorConfig();
const sql = connect(config.dbUrl, { applicationName: "orchestrator" });
const app = createOrchestratorApp({
  sql,
  jwtSecret: config.jwtSecret,
  jwks: config.jwks,
  publicUrl: config.supabaseUrl,
});

Deno.serve(app.fetch);
