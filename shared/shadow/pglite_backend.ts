/**
 * The PGlite shadow (the default): Postgres compiled to WASM, so nothing on the host — files,
 * network, other databases — is reachable from the SQL it runs. Each session is a fresh instance
 * restored from a snapshot bootstrapped once with the platform SQL (cached on disk by content
 * hash, so a new process skips `initdb`). Instances live in child processes that keep the next
 * instance restored while idle, and a statement outliving its timeout kills its process (PGlite
 * has no working `statement_timeout`). Where subprocesses are unavailable (Supabase Edge Runtime,
 * or `--deny-run` as in the local host's hosted-limits mode) `inProcess` runs PGlite here instead:
 * same checks, but a runaway statement cannot be stopped, and where the cache folder cannot be
 * written (a read-only deploy) the snapshot stays in memory.
 *
 * @example
 * ```ts
 * await using shadow = await createPgliteShadow({ statementTimeoutMs: 3000 });
 * await using session = await shadow.open();
 * await session.exec("create table public.notes (id bigint primary key)");
 * ```
 */
import { join } from "node:path";
import { tmpdir } from "node:os";
import {
  bootstrapPgliteSnapshot,
  loadPgliteAssets,
  type PgliteAssets,
  pgliteDistDir,
  PgliteSessionCore,
  restorePglite,
} from "./_pglite_instance.ts";
import { PgliteProcess } from "./_pglite_process.ts";
import {
  type Identity,
  type OpenOptions,
  type Row,
  type RunOptions,
  ShadowClosedError,
  type ShadowDatabase,
  type ShadowSession,
  ShadowTimeoutError,
  type StatementResult,
} from "./port.ts";
import { scriptsHash, shadowBootstrapScripts } from "./platform.ts";
import { splitStatements } from "../sql/split.ts";

/** Options of {@link createPgliteShadow}. */
export interface PgliteShadowOptions {
  /** Longest one statement may run, in ms (default 5000). */
  statementTimeoutMs?: number;
  /** Child processes kept ready (default 2: one serves while the other restores). */
  poolSize?: number;
  /** Where the bootstrapped snapshot is cached (default `$BT_SHADOW_CACHE_DIR` or the temp dir). */
  cacheDir?: string;
  /** Run PGlite in this process (no subprocess; runaway statements cannot be stopped). */
  inProcess?: boolean;
}

/** Default statement timeout of a shadow, in ms. */
export const DEFAULT_STATEMENT_TIMEOUT_MS = 5000;

/** Where a PGlite snapshot lives, and what bootstrapping it noted. */
interface Snapshot {
  path: string;
  /** The snapshot, when the cache folder could not be written (in-process only). */
  inMemory?: Blob;
  notes: string[];
}

function defaultCacheDir(): string {
  return Deno.env.get("BT_SHADOW_CACHE_DIR") ?? join(tmpdir(), "backend-team-shadow");
}

/**
 * Whether this runtime can start subprocesses: `Deno.Command` exists (Supabase's Edge Runtime
 * has none) and the `run` permission is granted (not under `--deny-run`, which the local
 * functions host adds in hosted-limits mode). An `EdgeRuntime` global alone says nothing: the
 * local functions host defines one under plain Deno.
 *
 * @example
 * ```ts
 * const shadow = await createPgliteShadow({ inProcess: !canSpawnProcesses() });
 * ```
 */
export function canSpawnProcesses(): boolean {
  try {
    return typeof Deno.Command === "function" &&
      Deno.permissions.querySync({ name: "run" }).state === "granted";
  } catch {
    return false;
  }
}

/** Whether `e` says this runtime may not do something (start a process, write a folder). */
function isNotAllowed(e: unknown): boolean {
  return e instanceof Deno.errors.NotCapable || e instanceof Deno.errors.PermissionDenied ||
    e instanceof Deno.errors.NotSupported || (e as { code?: unknown })?.code === "EROFS";
}

/**
 * The bootstrapped snapshot for the current platform SQL, built (in a child process that may
 * write only the cache folder) when the cache has none.
 */
async function ensureSnapshot(cacheDir: string, inProcess: boolean): Promise<Snapshot> {
  const scripts = await shadowBootstrapScripts();
  const hash = await scriptsHash(scripts, import.meta.resolve("@electric-sql/pglite"));
  const path = join(cacheDir, `pglite-${hash}.tar`);
  const notesPath = `${path}.notes.json`;
  try {
    await Deno.stat(path);
    const notes = await Deno.readTextFile(notesPath).then((t) => JSON.parse(t) as string[])
      .catch(() => []);
    return { path, notes };
  } catch {
    // not cached yet
  }
  if (inProcess) {
    const built = await bootstrapPgliteSnapshot(
      await loadPgliteAssets(),
      scripts,
      (sql) => splitStatements(sql).map((s) => s.text),
    );
    try {
      await Deno.mkdir(cacheDir, { recursive: true });
      const tmp = `${path}.${Deno.pid}.tmp`;
      await Deno.writeFile(tmp, new Uint8Array(await built.snapshot.arrayBuffer()));
      await Deno.rename(tmp, path);
      await Deno.writeTextFile(notesPath, JSON.stringify(built.notes));
    } catch (e) {
      // Nowhere to cache it: this process keeps it, and the next one bootstraps again.
      if (!isNotAllowed(e)) throw e;
      return { path, inMemory: built.snapshot, notes: built.notes };
    }
    return { path, notes: built.notes };
  }
  await Deno.mkdir(cacheDir, { recursive: true });
  const child = await PgliteProcess.spawn({ distDir: pgliteDistDir(), writeDirs: [cacheDir] });
  let notes: string[];
  try {
    const result = await child.request({ op: "bootstrap", scripts, outPath: path }, 300_000);
    notes = (result as { notes: string[] }).notes;
  } finally {
    await child.stop();
  }
  await Deno.writeTextFile(notesPath, JSON.stringify(notes));
  return { path, notes };
}

/** Creates the PGlite shadow: bootstraps (or finds) the snapshot and starts the pool. */
export async function createPgliteShadow(
  options: PgliteShadowOptions = {},
): Promise<ShadowDatabase> {
  const cacheDir = options.cacheDir ?? defaultCacheDir();
  const inProcess = options.inProcess ?? !canSpawnProcesses();
  const timeoutMs = options.statementTimeoutMs ?? DEFAULT_STATEMENT_TIMEOUT_MS;
  if (!inProcess) {
    try {
      const snapshot = await ensureSnapshot(cacheDir, false);
      return await ProcessPoolShadow.create(snapshot, options.poolSize ?? 2, timeoutMs);
    } catch (e) {
      // Asked for subprocesses (or assumed them) where the runtime refuses them: run here.
      if (options.inProcess === false || !isNotAllowed(e)) throw e;
    }
  }
  return await InProcessShadow.create(await ensureSnapshot(cacheDir, true));
}

/** A pool of child processes, each serving one session at a time. */
class ProcessPoolShadow implements ShadowDatabase {
  readonly backend = "pglite" as const;
  readonly notes: readonly string[];
  readonly #snapshot: Snapshot;
  readonly #timeoutMs: number;
  readonly #idle: PgliteProcess[] = [];
  readonly #starting = new Set<Promise<PgliteProcess | undefined>>();
  readonly #busy = new Set<PgliteProcess>();
  readonly #waiters: ((p: PgliteProcess) => void)[] = [];
  #closed = false;

  private constructor(snapshot: Snapshot, timeoutMs: number) {
    this.#snapshot = snapshot;
    this.notes = snapshot.notes;
    this.#timeoutMs = timeoutMs;
  }

  static async create(snapshot: Snapshot, size: number, timeoutMs: number) {
    const pool = new ProcessPoolShadow(snapshot, timeoutMs);
    // The first process is awaited so a broken setup fails here; the others start behind it.
    const first = await PgliteProcess.spawn({
      distDir: pgliteDistDir(),
      snapshotPath: snapshot.path,
    });
    pool.#release(first);
    for (let i = 1; i < Math.max(1, size); i++) pool.#spawn();
    return pool;
  }

  #spawn(): void {
    const starting = PgliteProcess.spawn({
      distDir: pgliteDistDir(),
      snapshotPath: this.#snapshot.path,
    }).then(async (p) => {
      this.#starting.delete(starting);
      if (this.#closed) {
        await p.stop();
        return undefined;
      }
      this.#release(p);
      return p;
    }, () => {
      this.#starting.delete(starting);
      return undefined;
    });
    this.#starting.add(starting);
  }

  #release(p: PgliteProcess): void {
    this.#busy.delete(p);
    if (this.#closed) {
      p.stop();
      return;
    }
    if (!p.alive) {
      this.#spawn();
      return;
    }
    const waiter = this.#waiters.shift();
    if (waiter) {
      this.#busy.add(p);
      waiter(p);
    } else {
      this.#idle.push(p);
    }
  }

  async #acquire(): Promise<PgliteProcess> {
    if (this.#closed) throw new ShadowClosedError("the shadow is closed");
    const p = this.#idle.shift();
    if (p) {
      this.#busy.add(p);
      return p;
    }
    if (this.#idle.length + this.#busy.size + this.#starting.size === 0) this.#spawn();
    return await new Promise((resolve) => this.#waiters.push(resolve));
  }

  async open(options: OpenOptions = {}): Promise<ShadowSession> {
    const p = await this.#acquire();
    try {
      await p.request({ op: "open", extensions: options.extensions ?? [] }, 60_000);
    } catch (e) {
      p.kill();
      this.#release(p);
      throw e;
    }
    return new ProcessSession(p, this.#timeoutMs, (proc) => this.#release(proc));
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const all = [...this.#idle, ...this.#busy];
    this.#idle.length = 0;
    await Promise.all([...all.map((p) => p.stop()), ...this.#starting]);
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** A session on one child process. */
class ProcessSession implements ShadowSession {
  readonly backend = "pglite" as const;
  readonly #p: PgliteProcess;
  readonly #timeoutMs: number;
  readonly #release: (p: PgliteProcess) => void;
  #open = true;

  constructor(p: PgliteProcess, timeoutMs: number, release: (p: PgliteProcess) => void) {
    this.#p = p;
    this.#timeoutMs = timeoutMs;
    this.#release = release;
  }

  get alive(): boolean {
    return this.#open && this.#p.alive;
  }

  async #call(
    req: Parameters<PgliteProcess["request"]>[0],
    options?: RunOptions,
  ): Promise<StatementResult> {
    if (!this.#open) throw new ShadowClosedError();
    try {
      return await this.#p.request(req, options?.timeoutMs ?? this.#timeoutMs) as StatementResult;
    } catch (e) {
      if (e instanceof ShadowTimeoutError || !this.#p.alive) {
        this.#open = false;
        this.#release(this.#p);
      }
      throw e;
    }
  }

  exec(sql: string, options?: RunOptions): Promise<StatementResult> {
    return this.#call({ op: "exec", sql }, options);
  }

  async query<T extends Row = Row>(
    sql: string,
    params: unknown[] = [],
    options?: RunOptions,
  ): Promise<T[]> {
    return (await this.#call({ op: "query", sql, params }, options)).rows as T[];
  }

  queryAs(
    identity: Identity,
    sql: string,
    params: unknown[] = [],
    options?: RunOptions & { keep?: boolean },
  ): Promise<StatementResult> {
    return this.#call(
      { op: "queryAs", identity, sql, params, keep: options?.keep ?? false },
      options,
    );
  }

  async close(): Promise<void> {
    if (!this.#open) return;
    this.#open = false;
    try {
      await this.#p.request({ op: "close" }, 10_000);
    } catch {
      this.#p.kill();
    }
    this.#release(this.#p);
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** PGlite in this process, for runtimes without subprocesses. */
class InProcessShadow implements ShadowDatabase {
  readonly backend = "pglite" as const;
  readonly notes: readonly string[];
  readonly #assets: PgliteAssets;
  readonly #snapshot: Blob;
  #spare?: ReturnType<typeof restorePglite>;

  private constructor(assets: PgliteAssets, snapshot: Blob, notes: string[]) {
    this.#assets = assets;
    this.#snapshot = snapshot;
    this.notes = notes;
  }

  static async create(snapshot: Snapshot): Promise<InProcessShadow> {
    const assets = await loadPgliteAssets();
    const blob = snapshot.inMemory ?? new Blob([await Deno.readFile(snapshot.path)]);
    const shadow = new InProcessShadow(assets, blob, snapshot.notes);
    shadow.#spare = restorePglite(assets, blob);
    return shadow;
  }

  async open(options: OpenOptions = {}): Promise<ShadowSession> {
    const extensions = options.extensions ?? [];
    let db;
    if (extensions.length === 0 && this.#spare) {
      db = await this.#spare;
      this.#spare = undefined;
    } else {
      db = await restorePglite(this.#assets, this.#snapshot, extensions);
    }
    const core = await PgliteSessionCore.start(db);
    let open = true;
    const ensureOpen = () => {
      if (!open) throw new ShadowClosedError();
    };
    const close = async () => {
      if (!open) return;
      open = false;
      await core.close();
      this.#spare ??= restorePglite(this.#assets, this.#snapshot);
    };
    return {
      backend: "pglite",
      get alive() {
        return open;
      },
      exec: (sql) => (ensureOpen(), core.exec(sql)),
      query: async <T extends Row = Row>(sql: string, params: unknown[] = []) => {
        ensureOpen();
        return (await core.query(sql, params)).rows as T[];
      },
      queryAs: (identity, sql, params = [], opts) => (
        ensureOpen(), core.queryAs(identity, sql, params, opts?.keep ?? false)
      ),
      close,
      [Symbol.asyncDispose]: close,
    };
  }

  async close(): Promise<void> {
    const spare = this.#spare;
    this.#spare = undefined;
    if (spare) await (await spare).close();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
