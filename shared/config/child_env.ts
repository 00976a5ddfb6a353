/**
 * The environment a Deno child process of ours gets (`deno check` of delivered functions, the
 * PGlite shadow's processes): where Deno's cache is, which npm registry to use, and the
 * certificates and proxies needed to reach it — without them a fresh cache cannot download a
 * package. Nothing else, in particular no keys, tokens or `DENO_AUTH_TOKENS`: such children run
 * or read untrusted input.
 *
 * @example
 * ```ts
 * const env = denoChildEnv((name) => Deno.env.get(name));
 * ```
 */

/** The variables passed on, by name (upper- and lowercase forms where tools read both). */
export const DENO_CHILD_ENV = [
  "HOME",
  "PATH",
  "DENO_DIR",
  "XDG_CACHE_HOME",
  "NPM_CONFIG_REGISTRY",
  "npm_config_registry",
  "SSL_CERT_FILE",
  "SSL_CERT_DIR",
  "DENO_CERT",
  "DENO_TLS_CA_STORE",
  "NODE_EXTRA_CA_CERTS",
  "HTTPS_PROXY",
  "HTTP_PROXY",
  "NO_PROXY",
  "https_proxy",
  "http_proxy",
  "no_proxy",
] as const;

/** {@link DENO_CHILD_ENV} taken from `source`, plus no colours and no update checks. */
export function denoChildEnv(
  source: (name: string) => string | undefined,
): Record<string, string> {
  const env: Record<string, string> = { NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1" };
  for (const name of DENO_CHILD_ENV) {
    const value = source(name);
    if (value !== undefined && value !== "") env[name] = value;
  }
  return env;
}
