/**
 * The orchestrator worker: understands, plans, resumes and delivers runs when woken. Wiring only
 * (see shared/runtime).
 */
import { serveOrchestratorWorker } from "../../shared/runtime/serve_orchestrator.ts";

await serveOrchestratorWorker();
