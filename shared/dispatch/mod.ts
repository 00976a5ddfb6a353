/**
 * Dispatch: which workers exist, how they are woken after enqueue, and how a worker function
 * recognises a legitimate caller.
 *
 * @example
 * ```ts
 * import { createWaker, isWorkerCaller, queueOf } from "../dispatch/mod.ts";
 * ```
 */
export { functionOf, queueOf, type WorkerName, workerOfQueue, WORKERS } from "./workers.ts";
export { createWaker, type Waker, type WakerOptions } from "./waker.ts";
export { isWorkerCaller, workerSecretsFromEnv } from "./worker_auth.ts";
