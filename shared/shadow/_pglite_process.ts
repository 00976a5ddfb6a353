/**
 * The parent's side of a PGlite child process (see `_pglite_host.ts`): starts it with the least
 * permissions that work, sends one request at a time, and kills it with SIGKILL when a request
 * outlives its timeout — the one way to stop a statement PGlite itself cannot interrupt.
 */
import { fileURLToPath } from "node:url";
import type { HostArgs, HostReply, HostRequest } from "./_pglite_host.ts";
import { ShadowClosedError, ShadowSqlError, ShadowTimeoutError } from "./port.ts";
import { denoChildEnv } from "../config/child_env.ts";

const HOST_MODULE = fileURLToPath(new URL("./_pglite_host.ts", import.meta.url));
const DENO_CONFIG = fileURLToPath(new URL("../../deno.json", import.meta.url));

/** Distributes a request type over its union members, without the `id`. */
type WithoutId<T> = T extends unknown ? Omit<T, "id"> : never;

/** How a child is started. */
export interface SpawnOptions extends HostArgs {
  /** Extra folders the child may write (bootstrap mode writes the snapshot). */
  writeDirs?: string[];
  /** Longest the child may take to become ready, in ms (default 60 s). */
  startTimeoutMs?: number;
}

// What the child's `deno` needs to find (or fetch) its module cache; nothing else of ours.
function childEnv(): Record<string, string> {
  return denoChildEnv((name) => Deno.env.get(name));
}

/** A running child. */
export class PgliteProcess {
  readonly #child: Deno.ChildProcess;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  readonly #pending = new Map<number, (reply: HostReply) => void>();
  #nextId = 1;
  #dead = false;
  #stderrTail = "";
  readonly #exited: Promise<void>;

  private constructor(child: Deno.ChildProcess) {
    this.#child = child;
    this.#writer = child.stdin.getWriter();
    this.#exited = child.status.then(() => {
      this.#dead = true;
      for (const resolve of this.#pending.values()) {
        resolve({
          id: -1,
          ok: false,
          error: { sql: false, facts: { message: this.#deathMessage() } },
        });
      }
      this.#pending.clear();
    });
    this.#readReplies();
    this.#drainStderr();
  }

  /** Starts a child and waits until it has a restored instance ready. */
  static async spawn(options: SpawnOptions): Promise<PgliteProcess> {
    const reads = [
      options.distDir,
      ...(options.snapshotPath ? [options.snapshotPath] : []),
      ...(options.writeDirs ?? []),
    ];
    const args = [
      "run",
      "--quiet",
      "--no-prompt",
      "--config",
      DENO_CONFIG,
      ...(Deno.env.get("BT_PGLITE_V8_FLAGS")
        ? [`--v8-flags=${Deno.env.get("BT_PGLITE_V8_FLAGS")}`]
        : []),
      `--allow-read=${reads.join(",")}`,
      ...(options.writeDirs?.length ? [`--allow-write=${options.writeDirs.join(",")}`] : []),
      HOST_MODULE,
      JSON.stringify({ distDir: options.distDir, snapshotPath: options.snapshotPath }),
    ];
    const child = new Deno.Command(Deno.execPath(), {
      args,
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
      env: childEnv(),
      clearEnv: true,
    }).spawn();
    const process = new PgliteProcess(child);
    const ready = new Promise<HostReply>((resolve) => process.#pending.set(0, resolve));
    const timeoutMs = options.startTimeoutMs ?? 60_000;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timedOut = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), timeoutMs);
    });
    const first = await Promise.race([ready, timedOut]);
    clearTimeout(timer);
    if (first === "timeout" || !first.ok) {
      process.kill();
      await process.#exited;
      const why = first === "timeout"
        ? `not ready after ${timeoutMs} ms`
        : first.error.facts.message;
      throw new Error(`PGlite shadow process failed to start: ${why}`);
    }
    return process;
  }

  /** Whether the child is still running. */
  get alive(): boolean {
    return !this.#dead;
  }

  /**
   * Sends a request and waits for its reply; SQL errors throw {@link ShadowSqlError}, a reply later
   * than `timeoutMs` kills the child and throws {@link ShadowTimeoutError}.
   */
  async request(req: WithoutId<HostRequest>, timeoutMs: number): Promise<unknown> {
    if (this.#dead) throw new ShadowClosedError(this.#deathMessage());
    const id = this.#nextId++;
    const replied = new Promise<HostReply>((resolve) => this.#pending.set(id, resolve));
    await this.#writer.write(new TextEncoder().encode(JSON.stringify({ ...req, id }) + "\n"));
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timedOut = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), timeoutMs);
    });
    const reply = await Promise.race([replied, timedOut]);
    clearTimeout(timer);
    if (reply === "timeout") {
      this.#pending.delete(id);
      this.kill();
      await this.#exited;
      throw new ShadowTimeoutError(timeoutMs);
    }
    if (reply.ok) return reply.result;
    if (reply.error.sql) throw new ShadowSqlError(reply.error.facts);
    if (this.#dead) throw new ShadowClosedError(reply.error.facts.message);
    throw new Error(reply.error.facts.message);
  }

  /** Kills the child at once (SIGKILL). */
  kill(): void {
    if (this.#dead) return;
    try {
      this.#child.kill("SIGKILL");
    } catch {
      // already gone
    }
  }

  /** Ends the child: closes its stdin, then kills it if it lingers. */
  async stop(): Promise<void> {
    if (!this.#dead) {
      await this.#writer.close().catch(() => {});
      const timer = setTimeout(() => this.kill(), 2000);
      await this.#exited;
      clearTimeout(timer);
    }
  }

  #deathMessage(): string {
    const tail = this.#stderrTail.trim().split("\n").slice(-3).join(" | ");
    return `the PGlite shadow process ended${tail ? `: ${tail}` : ""}`;
  }

  async #readReplies(): Promise<void> {
    let buffer = "";
    try {
      for await (const chunk of this.#child.stdout.pipeThrough(new TextDecoderStream())) {
        buffer += chunk;
        let nl: number;
        while ((nl = buffer.indexOf("\n")) >= 0) {
          const line = buffer.slice(0, nl);
          buffer = buffer.slice(nl + 1);
          if (line.trim() === "") continue;
          let reply: HostReply;
          try {
            reply = JSON.parse(line) as HostReply;
          } catch {
            continue; // not ours (e.g. stray output of the WASM runtime)
          }
          const resolve = this.#pending.get(reply.id);
          this.#pending.delete(reply.id);
          resolve?.(reply);
        }
      }
    } catch {
      // the child died; #exited settles what is pending
    }
  }

  async #drainStderr(): Promise<void> {
    try {
      for await (const chunk of this.#child.stderr.pipeThrough(new TextDecoderStream())) {
        this.#stderrTail = (this.#stderrTail + chunk).slice(-4000);
      }
    } catch {
      // child gone
    }
  }
}
