/**
 * The `orchestrator` edge function: the REST API apps call with a user's token. Wiring only — the
 * app, its routes and its checks live in `shared/api`. A submitted or answered run is already
 * queued for the orchestrator worker (in the same transaction); waking it here only saves the
 * wait for the safety-net schedule.
 */
import { createOrchestratorApp, loadOrchestratorConfig } from "../../shared/api/mod.ts";
import { connect } from "../../shared/db/mod.ts";
import { createWaker } from "../../shared/dispatch/mod.ts";
import { llmConfigProblem } from "../../shared/llm/config.ts";

const config = loadOrchestratorConfig();
// The API's own pool: no worker query runs in this function, so requests queue only behind
// requests, and each holds a connection for one short transaction.
const sql = connect(config.dbUrl, { applicationName: "orchestrator", max: config.dbPool });
const llmNotConfigured = llmConfigProblem();
if (llmNotConfigured) console.warn(`[orchestrator] ${llmNotConfigured}`);
const wake = createWaker({ functionsUrl: config.functionsUrl, secret: config.workerSecret });
const app = createOrchestratorApp({
  sql,
  jwtSecret: config.jwtSecret,
  jwks: config.jwks,
  audience: config.audience,
  limits: config.limits,
  publicUrl: config.supabaseUrl,
  onRunSubmitted: () => wake(["orchestrator"]),
  onRunAnswered: () => wake(["orchestrator"]),
  // The workers share the project's secrets: without a model, say so at POST /runs.
  llmNotConfigured,
});

Deno.serve(app.fetch);
