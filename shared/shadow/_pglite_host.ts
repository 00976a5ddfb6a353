/**
 * The child process a PGlite shadow runs in. PGlite cannot stop a runaway statement
 * (`statement_timeout` needs timer signals WASM does not have) and a Worker cannot be stopped while
 * its WASM is busy, so the only sure stop is killing a process: the parent does that when a request
 * outlives its timeout. The child is started with read access to PGlite's files and the snapshot
 * only — no network, no environment, no writes — and speaks JSON lines on stdin/stdout. It keeps a
 * restored instance ready between sessions, so opening one costs a message, not a restore.
 */
import type { PGlite } from "@electric-sql/pglite";
import {
  bootstrapPgliteSnapshot,
  loadPgliteAssets,
  type PgliteAssets,
  PgliteSessionCore,
  restorePglite,
} from "./_pglite_instance.ts";
import { sqlErrorFacts } from "./_values.ts";
import { type Identity, ShadowSqlError } from "./port.ts";
import type { SqlScript } from "./platform.ts";
import { splitStatements } from "../sql/split.ts";

/** A request from the parent. */
export type HostRequest =
  | { id: number; op: "open"; extensions: string[] }
  | { id: number; op: "exec"; sql: string }
  | { id: number; op: "query"; sql: string; params: unknown[] }
  | {
    id: number;
    op: "queryAs";
    identity: Identity;
    sql: string;
    params: unknown[];
    keep: boolean;
  }
  | { id: number; op: "close" }
  | { id: number; op: "bootstrap"; scripts: SqlScript[]; outPath: string };

/** A reply to the parent (`id` 0 announces readiness). */
export type HostReply =
  | { id: number; ok: true; result: unknown }
  | { id: number; ok: false; error: { sql: boolean; facts: ReturnType<typeof sqlErrorFacts> } };

/** How the child is started (its one argument, as JSON). */
export interface HostArgs {
  distDir: string;
  /** Snapshot to restore from; absent in bootstrap mode. */
  snapshotPath?: string;
}

async function* lines(stream: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  let buffer = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    buffer += chunk;
    let nl: number;
    while ((nl = buffer.indexOf("\n")) >= 0) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      if (line.trim() !== "") yield line;
    }
  }
}

const encoder = new TextEncoder();
async function reply(message: HostReply): Promise<void> {
  const bytes = encoder.encode(JSON.stringify(message) + "\n");
  let written = 0;
  while (written < bytes.length) written += await Deno.stdout.write(bytes.subarray(written));
}

class Host {
  readonly #assets: PgliteAssets;
  readonly #snapshot?: Blob;
  #spare?: Promise<PGlite>;
  #session?: PgliteSessionCore;

  constructor(assets: PgliteAssets, snapshot?: Blob) {
    this.#assets = assets;
    this.#snapshot = snapshot;
    if (snapshot) this.#spare = restorePglite(assets, snapshot);
  }

  async ready(): Promise<void> {
    await this.#spare;
  }

  async handle(req: HostRequest): Promise<unknown> {
    switch (req.op) {
      case "open": {
        if (this.#session) throw new Error("a session is already open");
        if (!this.#snapshot) throw new Error("no snapshot");
        let db: PGlite;
        if (req.extensions.length === 0 && this.#spare) {
          db = await this.#spare;
          this.#spare = undefined;
        } else {
          db = await restorePglite(this.#assets, this.#snapshot, req.extensions);
        }
        this.#session = await PgliteSessionCore.start(db);
        return null;
      }
      case "exec":
        return await this.#current().exec(req.sql);
      case "query":
        return await this.#current().query(req.sql, req.params);
      case "queryAs":
        return await this.#current().queryAs(req.identity, req.sql, req.params, req.keep);
      case "close": {
        const session = this.#session;
        this.#session = undefined;
        await session?.close();
        if (this.#snapshot && !this.#spare) {
          this.#spare = restorePglite(this.#assets, this.#snapshot);
        }
        return null;
      }
      case "bootstrap": {
        const { snapshot, notes } = await bootstrapPgliteSnapshot(
          this.#assets,
          req.scripts,
          (sql) => splitStatements(sql).map((s) => s.text),
        );
        const tmp = `${req.outPath}.${Deno.pid}.tmp`;
        await Deno.writeFile(tmp, new Uint8Array(await snapshot.arrayBuffer()));
        await Deno.rename(tmp, req.outPath);
        return { notes };
      }
    }
  }

  #current(): PgliteSessionCore {
    if (!this.#session) throw new Error("no session is open");
    return this.#session;
  }
}

async function main(): Promise<void> {
  const args = JSON.parse(Deno.args[0] ?? "{}") as HostArgs;
  const assets = await loadPgliteAssets(args.distDir);
  const snapshot = args.snapshotPath
    ? new Blob([await Deno.readFile(args.snapshotPath)])
    : undefined;
  const host = new Host(assets, snapshot);
  await host.ready();
  await reply({ id: 0, ok: true, result: "ready" });
  for await (const line of lines(Deno.stdin.readable)) {
    const req = JSON.parse(line) as HostRequest;
    try {
      await reply({ id: req.id, ok: true, result: await host.handle(req) });
    } catch (e) {
      await reply({
        id: req.id,
        ok: false,
        error: { sql: e instanceof ShadowSqlError, facts: sqlErrorFacts(e) },
      });
    }
  }
}

if (import.meta.main) {
  await main();
  // stdin closed: the parent is done (or gone). Nothing here may outlive it.
  Deno.exit(0);
}
