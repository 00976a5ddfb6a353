/**
 * The local stack's PostgreSQL: a private cluster made from the system's PostgreSQL binaries in a
 * git-ignored data folder, on its own port (54322 by default, like `supabase start`). Start and stop
 * are idempotent and safe to race: a second caller finds the server up and uses it. When the
 * process runs as root, the server runs as the `postgres` system user, since PostgreSQL refuses
 * root. `DATABASE_URL` bypasses all of this.
 */
import { join } from "node:path";
import { fileURLToPath as fromFileUrl } from "node:url";
// The file rather than shared/cli/mod.ts: the cluster needs where it listens, not the whole CLI.
import { localDatabasePort, localDatabaseUrl } from "../../shared/cli/local_stack.ts";

/** Where and how the local cluster lives. */
export interface ClusterOptions {
  /** Data folder (default `<repo>/.local/postgres`, or `$BT_LOCAL_DIR/postgres`). */
  dir?: string;
  /** TCP port on 127.0.0.1 (default `$BT_DB_PORT` or 54322). */
  port?: number;
  /** Password of the `postgres` superuser (default `postgres`, as in `supabase start`). */
  password?: string;
  /** Name of the data folder under the local state directory (default `postgres`). */
  name?: string;
}

/** A running cluster. */
export interface Cluster {
  /** Superuser URL of the `postgres` database. */
  url: string;
  port: number;
  dataDir: string;
  /** Whether this call started the server (false when it was already running). */
  started: boolean;
}

const REPO_ROOT = fromFileUrl(new URL("../../", import.meta.url));

/** Directory holding the local stack's state (git-ignored). */
export function localStateDir(): string {
  return Deno.env.get("BT_LOCAL_DIR") ?? join(REPO_ROOT, ".local");
}

/** The superuser URL of the local stack's database, honouring `DATABASE_URL`. */
export { localDatabaseUrl };

/** Port of the shadow cluster (`$BT_SHADOW_DB_PORT` or 54329). */
export function shadowClusterPort(): number {
  return Number(Deno.env.get("BT_SHADOW_DB_PORT") ?? 54329);
}

/**
 * The shadow cluster: a second PostgreSQL server, its own data folder, port and roles, used only
 * for the disposable databases untrusted SQL runs in. Roles and CONNECT privileges are
 * server-wide, so a database on the product's server would not isolate anything.
 */
export function ensureShadowCluster(): Promise<Cluster> {
  return ensureCluster({
    name: "shadow-postgres",
    port: shadowClusterPort(),
    password: shadowClusterPassword(),
  });
}

/** Stops the shadow cluster if it runs. */
export function stopShadowCluster(): Promise<boolean> {
  return stopCluster({ name: "shadow-postgres", port: shadowClusterPort() });
}

/** The superuser URL of the shadow cluster, honouring `SHADOW_DATABASE_URL`. */
export function localShadowUrl(): string {
  const override = Deno.env.get("SHADOW_DATABASE_URL");
  if (override) return override;
  return `postgresql://postgres:${shadowClusterPassword()}@127.0.0.1:${shadowClusterPort()}/postgres`;
}

// Not the product cluster's password: a leaked product credential opens nothing here.
function shadowClusterPassword(): string {
  return Deno.env.get("BT_SHADOW_DB_PASSWORD") ?? "shadow-postgres";
}

/** Finds the newest PostgreSQL server binaries (`/usr/lib/postgresql/<v>/bin`). */
export async function findPgBinDir(): Promise<string> {
  const candidates: { version: number; dir: string }[] = [];
  try {
    for await (const e of Deno.readDir("/usr/lib/postgresql")) {
      const dir = `/usr/lib/postgresql/${e.name}/bin`;
      if (await exists(`${dir}/pg_ctl`)) candidates.push({ version: Number(e.name), dir });
    }
  } catch {
    // no Debian layout; fall through
  }
  candidates.sort((a, b) => b.version - a.version);
  if (candidates.length > 0) return candidates[0].dir;
  throw new Error(
    "PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin. " +
      "Run `bash supabase/local/bootstrap.sh` (installs Debian's postgresql-15) or set DATABASE_URL.",
  );
}

/**
 * Creates the cluster if needed and starts it if it is not running. Returns its URL. Uses a lock
 * file so concurrent callers (parallel test workers, two terminals) do not race `initdb`.
 */
export async function ensureCluster(options: ClusterOptions = {}): Promise<Cluster> {
  const port = options.port ?? localDatabasePort();
  const password = options.password ?? "postgres";
  const asRoot = Deno.uid() === 0;
  const dataDir = await resolveDataDir(options.dir, options.name ?? "postgres", port, asRoot);
  const url = `postgresql://postgres:${password}@127.0.0.1:${port}/postgres`;
  const bin = await findPgBinDir();

  await Deno.mkdir(dataDir, { recursive: true });
  const unlock = await lockFile(join(dataDir, "..", `.cluster-${port}.lock`));
  try {
    if (await isReady(bin, port)) return { url, port, dataDir, started: false };
    if (asRoot) await run("chown", ["-R", "postgres:postgres", dataDir]);
    if (!(await exists(join(dataDir, "PG_VERSION")))) {
      console.error(`[postgres] creating a local cluster in ${dataDir}`);
      const pwfile = join(dataDir, "..", `.pwfile-${port}`);
      await Deno.writeTextFile(pwfile, password + "\n");
      if (asRoot) await run("chown", ["postgres:postgres", pwfile]);
      await runPg(bin, "initdb", [
        "-D",
        dataDir,
        "-U",
        "postgres",
        "--auth-local=trust",
        "--auth-host=scram-sha-256",
        `--pwfile=${pwfile}`,
        "--encoding=UTF8",
        "--locale=C.UTF-8",
      ], asRoot);
      await Deno.remove(pwfile);
      await Deno.writeTextFile(join(dataDir, "postgresql.auto.conf"), clusterSettings(dataDir), {
        append: true,
      });
    }
    console.error(`[postgres] starting on 127.0.0.1:${port}`);
    await runPg(bin, "pg_ctl", [
      "-D",
      dataDir,
      "-l",
      join(dataDir, "server.log"),
      "-o",
      `-p ${port} -k ${dataDir}`,
      "-w",
      "-t",
      "60",
      "start",
    ], asRoot);
    return { url, port, dataDir, started: true };
  } finally {
    await unlock();
  }
}

/** Stops the cluster if it runs; a no-op otherwise. */
export async function stopCluster(options: ClusterOptions = {}): Promise<boolean> {
  const port = options.port ?? localDatabasePort();
  const dataDir = await resolveDataDir(
    options.dir,
    options.name ?? "postgres",
    port,
    Deno.uid() === 0,
  );
  const bin = await findPgBinDir();
  if (!(await exists(join(dataDir, "postmaster.pid")))) return false;
  await runPg(bin, "pg_ctl", ["-D", dataDir, "-m", "fast", "-w", "stop"], Deno.uid() === 0);
  console.error(`[postgres] stopped (port ${port})`);
  return true;
}

// The data folder is under the repo unless the `postgres` system user (which runs the server when
// we are root) cannot reach it, e.g. a clone under /root; then a folder under /var/tmp is used.
async function resolveDataDir(
  dir: string | undefined,
  name: string,
  port: number,
  asRoot: boolean,
) {
  if (dir) return dir;
  const preferred = join(localStateDir(), name);
  if (!asRoot) return preferred;
  await Deno.mkdir(localStateDir(), { recursive: true });
  const probe = await new Deno.Command("runuser", {
    args: ["-u", "postgres", "--", "test", "-x", localStateDir()],
    stdout: "null",
    stderr: "null",
  }).output();
  return probe.code === 0 ? preferred : `/var/tmp/backend-team/${name}-${port}`;
}

// Local development settings: a disposable cluster, so durability is traded for speed.
function clusterSettings(dataDir: string): string {
  return [
    "",
    "# backend-team local stack",
    "listen_addresses = '127.0.0.1'",
    `unix_socket_directories = '${dataDir}'`,
    "max_connections = 300",
    "shared_buffers = '256MB'",
    "fsync = off",
    "synchronous_commit = off",
    "full_page_writes = off",
    "max_locks_per_transaction = 256",
    "log_min_messages = warning",
    "",
  ].join("\n");
}

async function isReady(bin: string, port: number): Promise<boolean> {
  const out = await new Deno.Command(`${bin}/pg_isready`, {
    args: ["-h", "127.0.0.1", "-p", String(port), "-t", "2"],
    stdout: "null",
    stderr: "null",
  }).output();
  return out.code === 0;
}

async function runPg(bin: string, tool: string, args: string[], asRoot: boolean): Promise<void> {
  const cmd = asRoot ? "runuser" : `${bin}/${tool}`;
  const fullArgs = asRoot ? ["-u", "postgres", "--", `${bin}/${tool}`, ...args] : args;
  await run(cmd, fullArgs);
}

async function run(cmd: string, args: string[]): Promise<void> {
  const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped", cwd: "/" })
    .output();
  if (out.code !== 0) {
    const text = new TextDecoder().decode(out.stderr) + new TextDecoder().decode(out.stdout);
    throw new Error(`${cmd} ${args.join(" ")} failed (exit ${out.code}):\n${text}`);
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

// An exclusive lock through an atomically created file; stale locks (dead owner) are taken over.
async function lockFile(path: string): Promise<() => Promise<void>> {
  const deadline = Date.now() + 120_000;
  while (true) {
    try {
      const f = await Deno.open(path, { createNew: true, write: true });
      await f.write(new TextEncoder().encode(String(Deno.pid)));
      f.close();
      return async () => {
        await Deno.remove(path).catch(() => {});
      };
    } catch (e) {
      if (!(e instanceof Deno.errors.AlreadyExists)) throw e;
      const owner = Number(await Deno.readTextFile(path).catch(() => "0"));
      if (owner && !processAlive(owner)) {
        await Deno.remove(path).catch(() => {});
        continue;
      }
      if (Date.now() > deadline) throw new Error(`timed out waiting for lock ${path}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

function processAlive(pid: number): boolean {
  try {
    Deno.kill(pid, "SIGCONT");
    return true;
  } catch {
    return false;
  }
}
