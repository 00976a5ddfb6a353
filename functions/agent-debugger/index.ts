/** The `debugger` agent's worker: drains its queue when woken. Wiring only (see shared/runtime). */
import { serveAgentWorker } from "../../shared/runtime/serve_agent.ts";

await serveAgentWorker("debugger");
