/**
 * Workers: the drain loop that reads a queue with leases and runs handlers in parallel.
 *
 * @example
 * ```ts
 * import { QueueWorker } from "../worker/mod.ts";
 * ```
 */
export { type Lease, QueueWorker, type QueueWorkerOptions } from "./queue_worker.ts";
export { createWorkerApp, type WorkerAppOptions } from "./function_app.ts";
