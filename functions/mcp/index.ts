/**
 * The `mcp` edge function: Backend Team as a Model Context Protocol server (Streamable HTTP) for
 * coding agents, authenticated by the user's Supabase access token. Wiring only — the tools and
 * the protocol live in `shared/mcp`; tokens and limits are configured as the REST API's.
 */
import { loadOrchestratorConfig } from "../../shared/api/config.ts";
import { connect } from "../../shared/db/mod.ts";
import { createWaker } from "../../shared/dispatch/mod.ts";
import { createDatabaseLimiter, createTokenVerifier } from "../../shared/http/mod.ts";
import { llmConfigProblem } from "../../shared/llm/config.ts";
import { createMcpApp } from "../../shared/mcp/mod.ts";

const config = loadOrchestratorConfig();
const sql = connect(config.dbUrl, { applicationName: "mcp" });
const wake = createWaker({ functionsUrl: config.functionsUrl, secret: config.workerSecret });
const llmNotConfigured = llmConfigProblem();
if (llmNotConfigured) console.warn(`[mcp] ${llmNotConfigured}`);
const app = createMcpApp({
  sql,
  verifyToken: createTokenVerifier({
    jwtSecret: config.jwtSecret,
    jwks: config.jwks,
    audience: config.audience,
  }),
  functionsUrl: config.functionsUrl,
  limiter: createDatabaseLimiter(sql, config.limits),
  llmNotConfigured,
  onRunChanged: () => wake(["orchestrator"]),
});

Deno.serve(app.fetch);
