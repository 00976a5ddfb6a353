/**
 * Queues: the pgmq adapter workers read, lease and archive messages through.
 *
 * @example
 * ```ts
 * import { pgmqQueue } from "../queue/mod.ts";
 * ```
 */
export { pgmqQueue, type Queue, type QueueMessage } from "./pgmq.ts";
