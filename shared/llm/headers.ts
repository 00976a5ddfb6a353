/**
 * The HTTP headers that label each LLM request with who is asking and why. Real endpoints ignore
 * them; the scripted test server matches its scenario rules on them, and a proxy in front of a real
 * endpoint can use them to attribute cost.
 */

/** Header names, lower-case as they arrive at a server. */
export const LLM_REQUEST_HEADERS = {
  /** The asking agent, e.g. `orchestrator`, `db-architect`. */
  agent: "x-bt-agent",
  /** The step of its work, e.g. `understand`, `plan`. */
  phase: "x-bt-phase",
  /** The run the call is charged to. */
  runId: "x-bt-run-id",
  /** `0` for a first answer, `1`/`2` when re-asking after an invalid answer. */
  reask: "x-bt-reask",
} as const;
