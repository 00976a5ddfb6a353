/**
 * The nine specialist agents' contracts and inputs: the zod schema each agent's answer must satisfy
 * (`AGENT_OUTPUT_SCHEMAS`), the artifact rows an answer becomes (`artifactsOf`), and the context
 * package a worker sends to the LLM for one task (`buildContextPackage`), with the prior schema and
 * earlier outputs compressed to what the task needs.
 *
 * @example
 * ```ts
 * import { AGENT_OUTPUT_SCHEMAS, artifactsOf, buildContextPackage } from "../agents/mod.ts";
 * const pkg = await buildContextPackage({ agent, prompt, task, dependencyOutputs, runContext,
 *   constraints: [] });
 * const { value } = await llm.complete({ schema: AGENT_OUTPUT_SCHEMAS[agent],
 *   schemaName: pkg.schemaName, messages: pkg.messages });
 * const rows = artifactsOf(agent, value);
 * ```
 */
export {
  ApiEndpoint,
  Diagnosis,
  EdgeFunction,
  EdgeFunctionFile,
  EnvVar,
  FileArtifact,
  IndexRecommendation,
  Migration,
  MonitoringCheck,
  PolicyDoc,
  QueryPattern,
  RealtimeChannel,
  RelativePath,
  SecurityFinding,
  SnakeName,
} from "./artifact_schemas.ts";
export {
  AGENT_OUTPUT_SCHEMA_NAMES,
  AGENT_OUTPUT_SCHEMAS,
  type AgentOutput,
  type AgentOutputs,
  ApiDataOutput,
  DbArchitectOutput,
  DebuggerOutput,
  DeploymentOutput,
  EdgeFunctionsOutput,
  MonitorOutput,
  QueryOptimizerOutput,
  SecurityOutput,
  WebsocketOutput,
} from "./outputs.ts";
export { type ArtifactDraft, artifactsOf, DOC_PATHS, fileKind } from "./artifacts_of.ts";
export {
  buildContextPackage,
  type ContextPackage,
  type ContextPackageRequest,
  type ContextTask,
  type IncludedContext,
  type RunContextInput,
} from "./context.ts";
export type { DependencyDigest, DependencyOutput, DigestLimits } from "./dependency_digest.ts";
export { RETRY_SECTION, type RetryContext, retryText, systemPromptText } from "./prompt_text.ts";
export { CHARS_PER_TOKEN, estimateMessageTokens, estimateTokens } from "./tokens.ts";
