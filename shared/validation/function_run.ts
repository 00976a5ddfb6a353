/**
 * Delivered edge functions, started and called (issue 15): each function (`<name>/index.ts` of
 * the submission) boots in its own Deno subprocess against the validation's shadow database, and
 * generated HTTP checks run against it, under its name as Supabase routes it (`/<name>`) — it
 * boots; an OPTIONS preflight answers with CORS headers; a call without a token gets 401 (unless
 * the function is deployed with `verify_jwt = false`); malformed JSON (sent with a valid user
 * token) gets a 4xx with a JSON body. Given the documented endpoints, each one under
 * `/functions/v1/<name>` is called as a user and judged: a documented status, and a success body
 * its response JSON Schema accepts (ajv, `function_contract.ts`). Given the validation's session
 * and catalog, an owner and another user are created, the owner's rows seeded
 * (`function_seed.ts`), a PostgREST stand-in serves `/rest/v1` on the session as each caller's
 * token (`function_rest.ts`), and each function is called as both: the other user's answer must
 * carry none of the owner's rows. Findings: `function_boot_error`, `function_error_unhandled` (a
 * 5xx, or the process died), `function_contract_mismatch`, `function_isolation_leak`,
 * `function_isolation_not_shown` (info: the owner's own rows never came back, so nothing was
 * shown), and `function_probe_not_run` where this runtime starts no subprocesses.
 *
 * The code is hostile, so the subprocess is the boundary, not the import filter before it: a
 * cleared environment holding only Deno's cache location and keys made for this probe (a random
 * JWT secret, signed-for-nobody API keys, the shadow's own login URL); `--allow-read` of its
 * temporary folder and the Deno cache only; `--allow-net` to its own loopback port, the shadow
 * database's address and this probe's stand-in platform (Auth and PostgREST); no writes,
 * subprocesses, FFI or system information; a V8 heap cap, and a kill after the time limit.
 *
 * @example
 * ```ts
 * const findings = await runFunctionChecks(files, {
 *   databaseUrl: await session.connectionUrl!(8),
 *   session, catalog,                 // isolation: owner vs another user
 *   endpoints,                        // ApiEndpoint[]: status and response schema (ajv)
 *   verifyJwt: { "board-summary": true },
 * });
 * ```
 */
import { join } from "node:path";
import { apiKeys, mintUserToken, verifyToken } from "../auth/mod.ts";
import { canSpawnProcesses, type ShadowSession } from "../shadow/mod.ts";
import type { Catalog } from "./catalog.ts";
import { type Finding, finding } from "./finding.ts";
import { type ContractCheck, contractOf, type DocumentedEndpoint } from "./function_contract.ts";
import { restStandIn } from "./function_rest.ts";
import { NO_OWNED_TABLES, type Seeded, seededIdFor, seedOwnerRows } from "./function_seed.ts";
import {
  type FunctionFile,
  redactPaths,
  typecheckChildEnv,
  typecheckImportMap,
} from "./typecheck.ts";

/** Options for {@link runFunctionChecks}. */
export interface FunctionRunOptions {
  /** The shadow database as its own login role (`session.connectionUrl()`). */
  databaseUrl?: string;
  /** How long a function may take to listen (default 20 s, first downloads included). */
  bootTimeoutMs?: number;
  /** How long one HTTP check may take (default 5 s). */
  requestTimeoutMs?: number;
  /** Where the temporary folder goes (default the system's). */
  tempDir?: string;
  /** Deno's cache for the children (default `DENO_DIR`, else `~/.cache/deno`). */
  denoDir?: string;
  /**
   * The validation's session (the run's migrations applied, not inside a transaction) and its
   * catalog. With both, two users (owner, other) are created in the shadow's `auth.users`, rows
   * owned by the owner are seeded in every exposed table with an owner column, a PostgREST
   * stand-in serves `/rest/v1` on this session as each caller's token, and each function is
   * called as the owner and as the other user (`function_isolation_leak`). The seeded rows and
   * users are deleted afterwards.
   */
  session?: ShadowSession;
  catalog?: Catalog;
  /** Schemas the Data API exposes (default `["public"]`): seeded, and served by the stand-in. */
  exposedSchemas?: readonly string[];
  /**
   * Documented endpoints (`ApiEndpoint`s of the api-data agent); those whose path is under
   * `/functions/v1/<function>` are called as the owner, their status compared with the
   * documented ones and their body validated against the declared response JSON Schema (ajv).
   */
  endpoints?: readonly DocumentedEndpoint[];
  /**
   * `verify_jwt` per function name (config.toml, or `EdgeFunction.verify_jwt`; default true).
   * Where false, a call without a token need not get 401 (a public or webhook function; whether
   * that is right is `checkDeployConfig`'s `verify_jwt_mismatch`), though a 5xx still counts.
   */
  verifyJwt?: Readonly<Record<string, boolean>>;
  /** Receives how long each function's proof took, in ms (for benchmarks). */
  trace?: (entry: string, ms: number) => void;
}

const SUBMISSION = "submission";
/** What Deno says when `--cached-only` meets an import that is not in its cache. */
const UNCACHED = /--cached-only is specified/;
/** How long after its last answer a function is watched for exiting, in ms. */
const EXIT_GRACE_MS = 10;
const READY = "BT_FUNCTION_LISTENING";

// Runs in the child before the function: every `Deno.serve` listens on the probe's port only.
const BOOT = `
const port = Number(Deno.args[0]);
const serve = Deno.serve;
Object.defineProperty(Deno, "serve", {
  configurable: true,
  writable: true,
  value: (a, b) => {
    const handler = typeof a === "function" ? a : (b ?? a.handler);
    const options = typeof a === "function" ? {} : a;
    return serve({ ...options, port, hostname: "127.0.0.1", onListen() {
      console.log("${READY}");
    } }, handler);
  },
});
await import(Deno.args[1]);
`;

// Where the entries are found lives with the function files (deploy_config reads it too).
import { functionEntries } from "./typecheck.ts";
export { functionEntries };

/** The info finding where functions cannot be started here. */
export function functionProbeNotRun(entries: readonly string[], why: string): Finding {
  return finding(
    "function_probe_not_run",
    `the edge functions (${entries.join(", ")}) were not started: ${why}; they were type-checked ` +
      "and linted only. Validate on the local stack (`deno task dev`) with a PostgreSQL shadow " +
      "to run them",
    { file: entries.length === 1 ? entries[0] : null },
  );
}

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

function hostOf(url: string): string | null {
  try {
    const u = new URL(url);
    return `${u.hostname}:${u.port || "5432"}`;
  } catch {
    return null;
  }
}

/**
 * The platform the functions see at `SUPABASE_URL`: a stand-in for Supabase Auth's
 * `GET /auth/v1/user` (what `supabase.auth.getUser()` calls), answering for tokens of this probe's
 * secret, and, given a session, a PostgREST stand-in on it (`function_rest.ts`); everything else is
 * a 503 JSON, not a hang.
 */
function servePlatformStandIn(secret: string, rest?: (req: Request) => Promise<Response>) {
  const abort = new AbortController();
  const server = Deno.serve(
    { port: 0, hostname: "127.0.0.1", signal: abort.signal, onListen() {} },
    async (req) => {
      const url = new URL(req.url);
      if (url.pathname === "/auth/v1/user") {
        const token = req.headers.get("authorization")?.replace(/^Bearer\s+/i, "") ?? "";
        try {
          const claims = await verifyToken(secret, token);
          if (claims.role !== "authenticated") throw new Error("not a user token");
          return Response.json({
            id: claims.sub,
            aud: "authenticated",
            role: "authenticated",
            email: claims.email,
          });
        } catch {
          return Response.json({ code: 401, msg: "invalid JWT" }, { status: 401 });
        }
      }
      if (rest && url.pathname.startsWith("/rest/v1/")) return await rest(req);
      return Response.json({ message: "not available while probing a function" }, {
        status: 503,
      });
    },
  );
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    async close() {
      abort.abort();
      await server.finished;
    },
  };
}

interface Started {
  child: Deno.ChildProcess;
  /** Resolves to null once listening, else to why it did not. */
  ready: Promise<string | null>;
  stderr: () => string;
}

function start(args: string[], env: Record<string, string>, cwd: string, bootMs: number): Started {
  const child = new Deno.Command(Deno.execPath(), {
    args,
    cwd,
    env,
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let err = "";
  const decoder = new TextDecoder();
  const errDone = (async () => {
    const text = new TextDecoder();
    for await (const chunk of child.stderr) {
      if (err.length < 16_000) err += text.decode(chunk, { stream: true });
    }
  })().catch(() => {});
  const ready = (async (): Promise<string | null> => {
    let out = "";
    const timer = setTimeout(() => child.kill("SIGKILL"), bootMs);
    try {
      for await (const chunk of child.stdout) {
        out += decoder.decode(chunk, { stream: true });
        if (out.includes(READY)) {
          // Keep draining, so a chatty function cannot block on a full pipe.
          (async () => {
            for await (const _ of child.stdout) { /* discard */ }
          })().catch(() => {});
          return null;
        }
        out = out.slice(-READY.length);
      }
      const status = await child.status;
      // All it said before it ended (the reason it did not start is in there).
      await errDone;
      return status.signal === "SIGKILL"
        ? `it did not listen within ${bootMs / 1000} s`
        : `it exited with code ${status.code} before listening`;
    } finally {
      clearTimeout(timer);
    }
  })();
  return { child, ready, stderr: () => err };
}

async function call(
  url: string,
  init: RequestInit,
  timeoutMs: number,
): Promise<{ status: number; headers: Headers; json: boolean; text: string } | { error: string }> {
  try {
    const res = await fetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs) });
    const text = await res.text();
    let json = false;
    try {
      JSON.parse(text);
      json = (res.headers.get("content-type") ?? "").includes("json");
    } catch { /* not JSON */ }
    return { status: res.status, headers: res.headers, json, text };
  } catch (e) {
    return { error: e instanceof DOMException ? "no answer in time" : "the connection failed" };
  }
}

/**
 * Starts each function and runs the generated HTTP checks; a finding per problem. Returns one
 * `function_probe_not_run` info finding where subprocesses are not allowed or no database URL
 * is given. With `session` and `catalog`, also the isolation checks (owner vs other user); with
 * `endpoints`, the documented contract checks (see {@link FunctionRunOptions}).
 */
export async function runFunctionChecks(
  files: readonly FunctionFile[],
  options: FunctionRunOptions = {},
): Promise<Finding[]> {
  const entries = functionEntries(files);
  if (entries.length === 0) return [];
  if (!canSpawnProcesses()) {
    return [functionProbeNotRun(entries, "this runtime starts no subprocesses")];
  }
  const dbHost = options.databaseUrl ? hostOf(options.databaseUrl) : null;
  if (!options.databaseUrl || !dbHost) {
    return [functionProbeNotRun(entries, "this shadow has no server they can connect to (PGlite)")];
  }
  const denoDir = options.denoDir ?? Deno.env.get("DENO_DIR") ??
    join(Deno.env.get("HOME") ?? "/root", ".cache", "deno");
  const bootMs = options.bootTimeoutMs ?? 20_000;
  const requestMs = options.requestTimeoutMs ?? 5_000;
  const dir = await Deno.makeTempDir({ prefix: "bt_function_run_", dir: options.tempDir });
  const root = join(dir, SUBMISSION);
  const secret = Array.from(
    crypto.getRandomValues(new Uint8Array(32)),
    (b) => b.toString(16).padStart(2, "0"),
  ).join("");
  const keys = await apiKeys(secret);
  const exposed = options.exposedSchemas ?? ["public"];
  const live = options.session?.alive ? options.session : undefined;
  const seeded: Seeded | string | undefined = live && options.catalog
    ? await seedOwnerRows(live, options.catalog, exposed)
    : undefined;
  // What the PostgREST stand-in refused while the current function was being called.
  const refused: string[] = [];
  const notSeeded = typeof seeded === "string" && seeded !== NO_OWNED_TABLES
    ? [finding(
      "function_isolation_not_shown",
      `isolation through the functions (${entries.join(", ")}) was not checked: ${seeded}`,
      { file: entries.length === 1 ? entries[0] : null },
    )]
    : [];
  const platform = servePlatformStandIn(
    secret,
    live
      ? restStandIn(live, {
        secret,
        exposedSchemas: exposed,
        catalog: options.catalog,
        onUnsupported: (what) => refused.push(what),
      })
      : undefined,
  );
  const out: Finding[] = [...notSeeded];
  try {
    await Deno.writeTextFile(
      join(dir, "deno.json"),
      JSON.stringify({ imports: await typecheckImportMap(), nodeModulesDir: "none", lock: false }),
    );
    await Deno.writeTextFile(join(dir, "boot.js"), BOOT);
    for (const f of files) {
      const path = join(root, f.name);
      await Deno.mkdir(join(path, ".."), { recursive: true });
      await Deno.writeTextFile(path, f.source);
    }
    const config = join(dir, "deno.json");
    // Downloads what the functions import, running none of it; the runs themselves are offline
    // (`--cached-only`). Usually the graph is cached already (the type-check and earlier
    // validations fetched it), so a function is started first and the cache filled only when one
    // stops for an import not in it — then once for all functions, and that function retried.
    let cache: Promise<boolean> | undefined;
    const fillCache = () =>
      cache ??= new Deno.Command(Deno.execPath(), {
        args: ["cache", "--quiet", "--config", config, ...entries.map((e) => join(root, e))],
        cwd: dir,
        env: typecheckChildEnv((name) => name === "DENO_DIR" ? denoDir : Deno.env.get(name)),
        clearEnv: true,
        stdout: "null",
        stderr: "null",
      }).output().then((o) => o.success);
    const users = typeof seeded === "object"
      ? {
        owner: await mintUserToken(secret, { sub: seeded.owner.id, email: seeded.owner.email }),
        other: await mintUserToken(secret, { sub: seeded.other.id, email: seeded.other.email }),
      }
      : undefined;
    const owner = users?.owner ?? await mintUserToken(secret, { sub: crypto.randomUUID() });
    for (const entry of entries) {
      const began = performance.now();
      const firstFinding = out.length;
      refused.length = 0;
      const name = entry.split("/")[0];
      const where = { file: entry, line: null, object: name };
      const port = freePort();
      const env = {
        DENO_DIR: denoDir,
        NO_COLOR: "1",
        DENO_NO_UPDATE_CHECK: "1",
        SUPABASE_URL: platform.url,
        SUPABASE_ANON_KEY: keys.anon,
        SUPABASE_SERVICE_ROLE_KEY: keys.serviceRole,
        SUPABASE_DB_URL: options.databaseUrl,
        SUPABASE_JWT_SECRET: secret,
        JWT_SECRET: secret,
      };
      const args = [
        "run",
        "--quiet",
        "--no-prompt",
        "--cached-only",
        "--config",
        config,
        `--allow-read=${dir},${denoDir}`,
        `--allow-net=127.0.0.1:${port},${dbHost},${platform.url.slice("http://".length)}`,
        "--allow-env",
        "--deny-write",
        "--deny-run",
        "--deny-ffi",
        "--deny-sys",
        "--v8-flags=--max-old-space-size=192",
        join(dir, "boot.js"),
        String(port),
        `file://${join(root, entry)}`,
      ];
      let started = start(args, env, dir, bootMs);
      try {
        let notReady = await started.ready;
        if (notReady && !cache && UNCACHED.test(started.stderr())) {
          await started.child.status;
          await fillCache();
          started = start(args, env, dir, bootMs);
          notReady = await started.ready;
        }
        if (notReady) {
          const text = redactPaths(started.stderr(), root, files).trim().split("\n").slice(0, 6)
            .join("\n");
          out.push(finding(
            "function_boot_error",
            `${entry} did not start: ${notReady}${
              cache && !(await cache) ? " (its imports could not be downloaded)" : ""
            }${text ? `:\n${text}` : ""}`,
            where,
          ));
          continue;
        }
        // Requests reach a function under its name (`/functions/v1/<name>` → `/<name>`).
        const base = `http://127.0.0.1:${port}`;
        const requireToken = options.verifyJwt?.[name] ?? true;
        const contract = contractOf(
          options.endpoints ?? [],
          name,
          (placeholder) =>
            typeof seeded === "object" ? seededIdFor(seeded, placeholder, name) : undefined,
        );
        // Without a token, the function is called the way its first documented endpoint is.
        const first = contract[0];
        const anonymousCall = first
          ? { url: `${base}${first.path}`, method: first.method, body: first.body }
          : { url: `${base}/${name}`, method: "POST", body: "{}" };
        out.push(
          ...await httpChecks(`${base}/${name}`, entry, owner, requestMs, where, {
            requireToken,
            anonymousCall,
          }),
        );
        out.push(...await contractChecks(base, entry, contract, owner, requestMs, where));
        if (users && typeof seeded === "object") {
          out.push(
            ...await isolationChecks(base, name, entry, contract, users, seeded, requestMs, where),
          );
        }
        // A process that died during the checks has long been seen; a short grace catches one
        // that exits right after its last answer.
        const exited = await Promise.race([
          started.child.status.then(() => true),
          new Promise<false>((r) => setTimeout(() => r(false), EXIT_GRACE_MS)),
        ]);
        if (exited) {
          out.push(finding(
            "function_error_unhandled",
            `${entry} exited while answering the checks`,
            where,
          ));
        }
      } finally {
        try {
          started.child.kill("SIGKILL");
        } catch { /* already gone */ }
        await started.child.status;
        if (refused.length) {
          // An answer shaped by the stand-in's limits must not pass for the function's own.
          const note = ` (while answering, the probe's PostgREST stand-in refused what it does ` +
            `not support: ${[...new Set(refused)].slice(0, 2).join("; ")}; this answer may ` +
            "come from that, not from the function)";
          for (let i = firstFinding; i < out.length; i++) {
            out[i] = { ...out[i], message: out[i].message + note };
          }
        }
        options.trace?.(entry, performance.now() - began);
      }
    }
  } finally {
    await platform.close();
    if (typeof seeded === "object") await seeded.cleanup();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
  return out;
}

type Where = { file: string; line: null; object: string };

/** The documented endpoints of one function, called as the owner and judged. */
async function contractChecks(
  base: string,
  entry: string,
  checks: readonly ContractCheck[],
  token: string,
  timeoutMs: number,
  where: Where,
): Promise<Finding[]> {
  const out: Finding[] = [];
  for (const c of checks) {
    const res = await call(`${base}${c.path}`, {
      method: c.method,
      headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
      body: c.body,
    }, timeoutMs);
    if ("error" in res) {
      out.push(finding("function_error_unhandled", `${entry}: ${c.label} got ${res.error}`, where));
    } else if (res.status >= 500) {
      out.push(finding(
        "function_error_unhandled",
        `${entry}: ${c.label} as a signed-in user answered ${res.status}`,
        where,
      ));
    } else {
      const problem = c.judge(res.status, res.text);
      if (problem) out.push(finding("function_contract_mismatch", `${entry}: ${problem}`, where));
    }
  }
  return out;
}

/**
 * The owner and the other user call the function the same way (its documented calls, else a GET
 * and a POST of `{}` on its root); the other user's answer must carry none of the owner's
 * markers. The owner's answers show whether the check could see anything at all.
 */
async function isolationChecks(
  base: string,
  name: string,
  entry: string,
  contract: readonly ContractCheck[],
  users: { owner: string; other: string },
  seeded: Seeded,
  timeoutMs: number,
  where: Where,
): Promise<Finding[]> {
  if (seeded.markers.size === 0) return [];
  const calls = contract.length
    ? contract.map((c) => ({ label: c.label, method: c.method, path: c.path, body: c.body }))
    : [
      { label: `GET /functions/v1/${name}`, method: "GET", path: `/${name}`, body: undefined },
      { label: `POST /functions/v1/${name}`, method: "POST", path: `/${name}`, body: "{}" },
    ];
  const out: Finding[] = [];
  let ownerSaw = false;
  for (const c of calls) {
    const as = async (token: string) =>
      await call(`${base}${c.path}`, {
        method: c.method,
        headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
        body: c.body,
      }, timeoutMs);
    // The owner first: a function that writes on the call sees the same state for both.
    const mine = await as(users.owner);
    if (!("error" in mine) && [...seeded.markers.keys()].some((m) => mine.text.includes(m))) {
      ownerSaw = true;
    }
    const other = await as(users.other);
    if ("error" in other) continue;
    const leaked = [...seeded.markers].filter(([m]) => other.text.includes(m));
    if (leaked.length) {
      const tables = [...new Set(leaked.map(([, t]) => t))].join(", ");
      out.push(finding(
        "function_isolation_leak",
        `${entry}: ${c.label} as another user answered ${other.status} with the owner's rows of ` +
          `${tables} (seeded values ${leaked.slice(0, 2).map(([m]) => m).join(", ")} appear in ` +
          "its body), which row level security hides from that user: act with the caller's " +
          "token (createClient with their Authorization header) or filter by auth.getUser()'s id",
        where,
      ));
      return out;
    }
  }
  if (!ownerSaw) {
    out.push(finding(
      "function_isolation_not_shown",
      `${entry}: isolation through it was not shown: called as the owner (${
        calls.map((c) => c.label).join(", ")
      }), it answered none of the owner's seeded rows, so the other user's empty answer proves ` +
        "nothing (fine for a function that returns no rows)",
      where,
    ));
  }
  return out;
}

async function httpChecks(
  url: string,
  entry: string,
  token: string,
  timeoutMs: number,
  where: Where,
  { requireToken, anonymousCall }: {
    requireToken: boolean;
    anonymousCall: { url: string; method: string; body: string | undefined };
  },
): Promise<Finding[]> {
  const out: Finding[] = [];
  const mismatch = (what: string) =>
    out.push(finding("function_contract_mismatch", `${entry}: ${what}`, where));
  const unhandled = (what: string) =>
    out.push(finding("function_error_unhandled", `${entry}: ${what}`, where));

  const preflight = await call(url, {
    method: "OPTIONS",
    headers: {
      origin: "http://localhost:3000",
      "access-control-request-method": "POST",
      "access-control-request-headers": "authorization, content-type, apikey, x-client-info",
    },
  }, timeoutMs);
  if ("error" in preflight) unhandled(`the OPTIONS preflight got ${preflight.error}`);
  else if (preflight.status >= 500) unhandled(`the OPTIONS preflight got ${preflight.status}`);
  else if (preflight.status >= 300 || !preflight.headers.get("access-control-allow-origin")) {
    mismatch(
      `the OPTIONS preflight got ${preflight.status} without Access-Control-Allow-Origin: ` +
        "browsers will refuse every call (answer OPTIONS with the CORS headers first)",
    );
  }

  const anonymous = await call(anonymousCall.url, {
    method: anonymousCall.method,
    headers: { "content-type": "application/json" },
    body: anonymousCall.body,
  }, timeoutMs);
  if ("error" in anonymous) unhandled(`a call without a token got ${anonymous.error}`);
  else if (anonymous.status >= 500) unhandled(`a call without a token got ${anonymous.status}`);
  else if (requireToken && anonymous.status !== 401) {
    mismatch(`a call without a token got ${anonymous.status}, not 401`);
  }

  const malformed = await call(url, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: '{"not json',
  }, timeoutMs);
  if ("error" in malformed) unhandled(`malformed JSON got ${malformed.error}`);
  else if (malformed.status >= 500) {
    unhandled(`malformed JSON got ${malformed.status} (parse the body inside a try, answer 400)`);
  } else if (malformed.status < 400 || !malformed.json) {
    mismatch(
      `malformed JSON got ${malformed.status}${malformed.json ? "" : " without a JSON body"}`,
    );
  }
  return out;
}
