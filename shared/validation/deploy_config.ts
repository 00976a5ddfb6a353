/**
 * Deployment config agrees with the functions it configures (issue 15, "config agrees"): pure
 * checks over a deliverable's `config.toml` fragments (the deployment agent's files), its function
 * sources and its declared environment — nothing runs. Each `config.toml` parses (`smol-toml`) and
 * its `[functions.<name>]` tables are well formed and name delivered functions; every variable a
 * function reads (`Deno.env.get("X")`, `process.env.X`, found on the syntax tree with
 * `@babel/parser`) is declared in the deliverable's env list or provided by the platform; and the
 * `verify_jwt` a function is deployed with matches what its code expects.
 *
 * `verify_jwt` is judged on two signals read from the code, deliberately narrow so the rule stays
 * defensible:
 * - `verify_jwt = false` is an error only when the function reaches privileged access (the service
 *   role or secret key, or a direct database connection on `SUPABASE_DB_URL`) with no check of its
 *   own (no `auth.getUser`/`getClaims`, no JWT `verify`, no shared secret compared with a request
 *   header): anyone on the internet then gets that access. A function that only uses the anon key
 *   stays behind RLS as `anon` and is left alone.
 * - `verify_jwt = true` is an error on a webhook-like function: it checks a shared secret or a
 *   signature itself and never reads the caller's `Authorization`. Its callers (cron, webhooks,
 *   other services with the new non-JWT keys) have no user JWT, so the gateway refuses them all.
 * - And where the edge-functions agent declared `verify_jwt` for a function, `config.toml` must
 *   deploy it with the same value.
 *
 * A read with a fallback (`Deno.env.get("LOG_LEVEL") ?? "info"`) is optional and not reported.
 *
 * @example
 * ```ts
 * const findings = await checkDeployConfig({
 *   configFiles: [{ path: "supabase/config.toml", content: toml }],
 *   functions: [{ name: "notes/index.ts", source }],
 *   declaredEnv: ["STRIPE_WEBHOOK_SECRET"],
 *   declaredVerifyJwt: { notes: true },
 * });
 * ```
 */
import { parse as parseToml, TomlError } from "smol-toml";
import { type Finding, finding } from "./finding.ts";
import { functionEntries, type FunctionFile } from "./typecheck.ts";

/** What {@link checkDeployConfig} compares. */
export interface DeployConfigInput {
  /** Delivered files; those whose path ends in `config.toml` are read, the rest ignored. */
  configFiles: readonly { path: string; content: string }[];
  /** Function sources named `<function>/<path>` (as for `runFunctionChecks`), `_shared/` included. */
  functions: readonly FunctionFile[];
  /** Variable names the deliverable declares (deployment and edge-functions `env_vars`). */
  declaredEnv: readonly string[];
  /** `verify_jwt` per function as the edge-functions agent declared it (`EdgeFunction.verify_jwt`). */
  declaredVerifyJwt?: Readonly<Record<string, boolean>>;
}

/** The parts of the agents' outputs {@link deployConfigInputOf} reads (structural `EdgeFunction`). */
export interface DeliveredFunction {
  function_name: string;
  verify_jwt: boolean;
  env_vars: readonly string[];
  files: readonly { path: string; content: string }[];
}

/**
 * The input of {@link checkDeployConfig} from a deliverable's agent outputs: the edge-functions
 * agent's `functions` (files become `<function_name>/<path>`; only .ts/.js files are sources) and
 * `env_vars`, the deployment agent's `files` and `env_vars`. Every env list counts as declared.
 */
export function deployConfigInputOf(deliverable: {
  functions: readonly DeliveredFunction[];
  files: readonly { path: string; content: string }[];
  envVars: readonly { name: string }[];
}): DeployConfigInput {
  return {
    configFiles: deliverable.files,
    functions: deliverable.functions.flatMap((f) =>
      f.files.filter((file) => /\.(ts|tsx|mts|js|mjs)$/.test(file.path)).map((file) => ({
        name: `${f.function_name}/${file.path}`,
        source: file.content,
      }))
    ),
    declaredEnv: [
      ...deliverable.envVars.map((e) => e.name),
      ...deliverable.functions.flatMap((f) => f.env_vars),
    ],
    declaredVerifyJwt: Object.fromEntries(
      deliverable.functions.filter((f) => !f.function_name.startsWith("_"))
        .map((f) => [f.function_name, f.verify_jwt]),
    ),
  };
}

/**
 * Variables the platform sets for every function (hosted and `supabase functions serve`), see
 * /work/shared/reference/supabase-platform.md; custom secrets cannot start with `SUPABASE_`.
 */
export const PLATFORM_ENV: ReadonlySet<string> = new Set([
  "SUPABASE_URL",
  "SUPABASE_ANON_KEY",
  "SUPABASE_SERVICE_ROLE_KEY",
  "SUPABASE_DB_URL",
  "SUPABASE_PUBLISHABLE_KEYS",
  "SUPABASE_SECRET_KEYS",
  "SUPABASE_JWKS",
  "SB_REGION",
  "SB_EXECUTION_ID",
  "DENO_DEPLOYMENT_ID",
]);

const PRIVILEGED_ENV = new Set([
  "SUPABASE_SERVICE_ROLE_KEY",
  "SUPABASE_SECRET_KEYS",
  "SUPABASE_DB_URL",
]);
// Request headers that carry no credential.
const PLAIN_HEADERS = new Set([
  "content-type",
  "accept",
  "origin",
  "user-agent",
  "content-length",
  "x-client-info",
  "access-control-request-method",
  "access-control-request-headers",
]);

/** One environment read in a source. */
export interface EnvRead {
  name: string;
  file: string;
  line: number;
  /** Read with a `??`/`||` fallback, so the variable is optional. */
  optional: boolean;
}

/** What a function's code shows about how it is called. */
export interface FunctionFacts {
  /** The function's name (its folder). */
  name: string;
  /** Its entry file, e.g. `notes/index.ts`. */
  entry: string;
  /** Every literal environment read, in its files and the `_shared` files they import. */
  env: EnvRead[];
  /** Reads the caller's `Authorization` header, or calls `auth.getUser`/`getClaims`. */
  readsUserToken: boolean;
  /** Verifies a JWT or the user itself (`auth.getUser`, `getClaims`, `verify`, `jwtVerify`). */
  checksUser: boolean;
  /** Compares a credential header with a secret, or verifies a signature. */
  checksSecret: boolean;
  /** Uses the service role or secret key, or connects to the database directly. */
  privileged: boolean;
}

// deno-lint-ignore no-explicit-any
type Node = any;

function childrenOf(node: Node): Node[] {
  const out: Node[] = [];
  for (const [key, value] of Object.entries(node)) {
    if (key === "loc" || key === "start" || key === "end" || key === "extra") continue;
    if (Array.isArray(value)) {
      for (const v of value) if (v && typeof v.type === "string") out.push(v);
    } else if (value && typeof (value as Node).type === "string") {
      out.push(value);
    }
  }
  return out;
}

function walk(node: Node, visit: (node: Node, parent: Node | null) => void, parent: Node = null) {
  visit(node, parent);
  for (const c of childrenOf(node)) walk(c, visit, node);
}

function propertyName(member: Node): string | undefined {
  if (member?.type !== "MemberExpression" && member?.type !== "OptionalMemberExpression") {
    return undefined;
  }
  if (!member.computed && member.property?.type === "Identifier") return member.property.name;
  if (member.property?.type === "StringLiteral") return member.property.value;
  return undefined;
}

function isPath(node: Node, path: string[]): boolean {
  // `Deno.env` → ["Deno", "env"]
  let n = node;
  for (let i = path.length - 1; i > 0; i--) {
    if (propertyName(n) !== path[i]) return false;
    n = n.object;
  }
  return n?.type === "Identifier" && n.name === path[0];
}

function literalText(node: Node): string | undefined {
  if (node?.type === "StringLiteral") return node.value;
  if (node?.type === "TemplateLiteral" && node.expressions.length === 0) {
    return node.quasis[0]?.value?.cooked;
  }
  return undefined;
}

function hasFallback(node: Node, parent: Node | null): boolean {
  return parent?.type === "LogicalExpression" && parent.left === node &&
    (parent.operator === "??" || parent.operator === "||");
}

interface SourceFacts {
  env: EnvRead[];
  headers: string[];
  checksUser: boolean;
  signature: boolean;
  imports: string[];
}

type Parse = typeof import("@babel/parser").parse;

function sourceFacts(parse: Parse, file: FunctionFile): SourceFacts {
  const facts: SourceFacts = {
    env: [],
    headers: [],
    checksUser: false,
    signature: false,
    imports: [],
  };
  let program: Node;
  try {
    program = parse(file.source, {
      sourceType: "module",
      plugins: file.name.endsWith(".tsx") ? ["jsx", "typescript"] : ["typescript"],
      errorRecovery: true,
    }).program;
  } catch {
    return facts; // a file that does not parse is the type-check's finding
  }
  walk(program, (node, parent) => {
    if (
      (node.type === "ImportDeclaration" || node.type === "ExportNamedDeclaration" ||
        node.type === "ExportAllDeclaration") && typeof node.source?.value === "string"
    ) {
      facts.imports.push(node.source.value);
    }
    if (node.type === "CallExpression" || node.type === "OptionalCallExpression") {
      const callee = node.callee;
      const method = propertyName(callee);
      const first = literalText(node.arguments[0]);
      if (
        (method === "get" || method === "has") && isPath(callee.object, ["Deno", "env"]) &&
        first !== undefined
      ) {
        facts.env.push({
          name: first,
          file: file.name,
          line: node.loc?.start?.line ?? 1,
          optional: method === "has" || hasFallback(node, parent),
        });
      }
      // `req.headers.get("x")`, and Hono's `c.req.header("x")`.
      if (
        first !== undefined &&
        ((method === "get" && propertyName(callee.object) === "headers") ||
          (method === "header" && propertyName(callee.object) === "req"))
      ) {
        facts.headers.push(first.toLowerCase());
      }
      if (
        method === "getUser" || method === "getClaims" ||
        (callee.type === "Identifier" &&
          (callee.name === "verify" || callee.name === "jwtVerify")) ||
        method === "jwtVerify"
      ) {
        facts.checksUser = true;
      }
      if (
        method === "timingSafeEqual" || method === "constructEvent" ||
        method === "constructEventAsync" ||
        (method === "verify" && isPath(callee.object, ["crypto", "subtle"]))
      ) {
        facts.signature = true;
      }
    }
    const name = propertyName(node);
    if (name && isPath(node.object, ["process", "env"])) {
      facts.env.push({
        name,
        file: file.name,
        line: node.loc?.start?.line ?? 1,
        optional: hasFallback(node, parent),
      });
    }
  });
  return facts;
}

function resolveRelative(from: string, specifier: string): string | undefined {
  if (!specifier.startsWith("./") && !specifier.startsWith("../")) return undefined;
  const parts = from.split("/").slice(0, -1);
  for (const p of specifier.split("/")) {
    if (p === "..") parts.pop();
    else if (p !== ".") parts.push(p);
  }
  return parts.join("/");
}

/** What each delivered function's code shows (its files and the local files they import). */
export async function functionFacts(files: readonly FunctionFile[]): Promise<FunctionFacts[]> {
  const { parse } = await import("@babel/parser");
  const byName = new Map(files.map((f) => [f.name, f]));
  const cache = new Map<string, SourceFacts>();
  const factsOf = (f: FunctionFile) => {
    let got = cache.get(f.name);
    if (!got) cache.set(f.name, got = sourceFacts(parse, f));
    return got;
  };
  return functionEntries(files).map((entry) => {
    const name = entry.split("/")[0];
    const seen = new Set<string>();
    const queue = files.filter((f) => f.name.startsWith(`${name}/`)).map((f) => f.name);
    const all: SourceFacts[] = [];
    while (queue.length) {
      const path = queue.shift()!;
      const file = byName.get(path);
      if (!file || seen.has(path)) continue;
      seen.add(path);
      const facts = factsOf(file);
      all.push(facts);
      for (const spec of facts.imports) {
        const target = resolveRelative(path, spec);
        if (target) queue.push(target);
      }
    }
    const env = all.flatMap((f) => f.env);
    const headers = new Set(all.flatMap((f) => f.headers));
    const readsAuthorization = headers.has("authorization");
    const customSecret = env.some((e) => !PLATFORM_ENV.has(e.name));
    const credentialHeader = [...headers].some((h) =>
      h !== "authorization" && !PLAIN_HEADERS.has(h)
    );
    const checksUser = all.some((f) => f.checksUser);
    return {
      name,
      entry,
      env,
      readsUserToken: readsAuthorization || checksUser,
      checksUser,
      checksSecret: all.some((f) => f.signature) || (credentialHeader && customSecret),
      privileged: env.some((e) => PRIVILEGED_ENV.has(e.name)),
    };
  });
}

interface ConfigTable {
  file: string;
  line: number | null;
  name: string;
  verifyJwt: boolean | undefined;
}

function lineOf(content: string, name: string): number | null {
  const escaped = name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const re = new RegExp(
    `^\\s*\\[\\s*functions\\s*\\.\\s*("${escaped}"|'${escaped}'|${escaped})\\s*\\]`,
  );
  const i = content.split("\n").findIndex((l) => re.test(l));
  return i >= 0 ? i + 1 : null;
}

const FUNCTION_SLUG = /^[A-Za-z][A-Za-z0-9_-]*$/;

function readConfig(path: string, content: string, out: Finding[]): ConfigTable[] {
  let doc: Record<string, unknown>;
  try {
    doc = parseToml(content) as Record<string, unknown>;
  } catch (e) {
    const line = e instanceof TomlError ? e.line : null;
    const reason = e instanceof Error ? e.message.split("\n")[0] : String(e);
    out.push(finding(
      "deploy_config_invalid",
      `${path} does not parse as TOML (${reason}); the Supabase CLI refuses the whole file`,
      { file: path, line },
    ));
    return [];
  }
  const functions = doc.functions;
  if (functions === undefined) return [];
  if (typeof functions !== "object" || functions === null || Array.isArray(functions)) {
    out.push(finding(
      "deploy_config_invalid",
      `${path}: \`functions\` must be a table of \`[functions.<name>]\` tables`,
      { file: path },
    ));
    return [];
  }
  const tables: ConfigTable[] = [];
  for (const [name, value] of Object.entries(functions as Record<string, unknown>)) {
    const line = lineOf(content, name);
    const where = { file: path, line, object: `functions.${name}` };
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      out.push(
        finding("deploy_config_invalid", `${path}: [functions.${name}] is not a table`, where),
      );
      continue;
    }
    if (!FUNCTION_SLUG.test(name)) {
      out.push(finding(
        "deploy_config_invalid",
        `${path}: [functions.${name}] is not a deployable function name (a letter, then letters, ` +
          "digits, - or _; folders starting with _ are not deployed)",
        where,
      ));
      continue;
    }
    const table = value as Record<string, unknown>;
    for (const key of ["verify_jwt", "enabled"]) {
      if (key in table && typeof table[key] !== "boolean") {
        out.push(finding(
          "deploy_config_invalid",
          `${path}: [functions.${name}] ${key} must be true or false, not ${
            JSON.stringify(table[key])
          }`,
          where,
        ));
      }
    }
    for (const key of ["import_map", "entrypoint"]) {
      if (key in table && typeof table[key] !== "string") {
        out.push(finding(
          "deploy_config_invalid",
          `${path}: [functions.${name}] ${key} must be a path string`,
          where,
        ));
      }
    }
    tables.push({
      file: path,
      line,
      name,
      verifyJwt: typeof table.verify_jwt === "boolean" ? table.verify_jwt : undefined,
    });
  }
  return tables;
}

/**
 * The findings of the config-agrees checks: `deploy_config_invalid`,
 * `deploy_config_unknown_function`, `function_env_undeclared`, `verify_jwt_mismatch`.
 */
export async function checkDeployConfig(input: DeployConfigInput): Promise<Finding[]> {
  const out: Finding[] = [];
  const tables = input.configFiles
    .filter((f) => f.path === "config.toml" || f.path.endsWith("/config.toml"))
    .flatMap((f) => readConfig(f.path, f.content, out));
  const facts = input.functions.length ? await functionFacts(input.functions) : [];
  const delivered = new Map(facts.map((f) => [f.name, f]));

  for (const t of tables) {
    if (!delivered.has(t.name)) {
      const known = [...delivered.keys()];
      out.push(finding(
        "deploy_config_unknown_function",
        `${t.file}: [functions.${t.name}] names no delivered function (` +
          (known.length ? `delivered: ${known.join(", ")}` : "no function is delivered") +
          `); \`supabase functions deploy ${t.name}\` finds no entrypoint`,
        { file: t.file, line: t.line, object: `functions.${t.name}` },
      ));
    }
  }

  const declared = new Set(input.declaredEnv);
  for (const f of facts) {
    const reported = new Set<string>();
    for (const read of f.env) {
      if (read.optional || PLATFORM_ENV.has(read.name) || declared.has(read.name)) continue;
      if (reported.has(read.name)) continue;
      reported.add(read.name);
      out.push(finding(
        "function_env_undeclared",
        `${f.name} reads ${read.name} (${read.file}:${read.line}) but the deliverable's env list ` +
          "does not declare it and the platform does not provide it: the deployed function gets " +
          `undefined. List it in env_vars (set it with \`supabase secrets set ${read.name}=…\`)` +
          (read.name.startsWith("SUPABASE_")
            ? "; custom secrets cannot start with SUPABASE_, so rename it"
            : ""),
        { file: read.file, line: read.line, object: f.name },
      ));
    }

    const configured = tables.find((t) => t.name === f.name && t.verifyJwt !== undefined);
    const said = input.declaredVerifyJwt?.[f.name];
    const effective = configured?.verifyJwt ?? said ?? true;
    const where = configured
      ? { file: configured.file, line: configured.line, object: `functions.${f.name}` }
      : { file: f.entry, object: `functions.${f.name}` };
    const source = configured
      ? `${configured.file} sets`
      : said !== undefined
      ? "the function declares"
      : "by default (no [functions] table) it gets";
    if (configured && said !== undefined && configured.verifyJwt !== said) {
      out.push(finding(
        "verify_jwt_mismatch",
        `${f.name} is declared with verify_jwt = ${said} but ${configured.file} deploys it with ` +
          `verify_jwt = ${configured.verifyJwt}; make them agree`,
        where,
      ));
      continue;
    }
    if (!effective && f.privileged && !f.checksUser && !f.checksSecret) {
      out.push(finding(
        "verify_jwt_mismatch",
        `${f.name}: ${source} verify_jwt = false, and the function uses privileged access ` +
          `(${
            f.env.filter((e) => PRIVILEGED_ENV.has(e.name)).map((e) => e.name)
              .filter((v, i, a) => a.indexOf(v) === i).join(", ")
          }) without a check of its own: ` +
          "anyone on the internet can call it. Set verify_jwt = true, or check the caller " +
          "(auth.getUser with their token, or a shared secret/apikey compared in code)",
        where,
      ));
    } else if (effective && f.checksSecret && !f.readsUserToken) {
      out.push(finding(
        "verify_jwt_mismatch",
        `${f.name}: ${source} verify_jwt = true, but the function checks a shared secret or ` +
          "signature itself and never reads a user's token: its callers (cron, webhooks, services " +
          "with non-JWT keys) carry no user JWT, so the gateway answers them 401 before the code " +
          "runs. Set verify_jwt = false for it",
        where,
      ));
    }
  }
  return out;
}
