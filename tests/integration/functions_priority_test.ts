/**
 * The local gateway runs background functions (the queue workers) at a lower CPU priority than
 * the others, so the API is scheduled first on a machine with fewer cores than function processes.
 */
import assert from "node:assert/strict";
import { getPriority } from "node:os";
import { fileURLToPath } from "node:url";
import { apiKeys, LOCAL_JWT_SECRET } from "../../shared/auth/mod.ts";
import { BACKGROUND_NICE, createFunctionsGateway } from "../../supabase/local/functions_gateway.ts";

const FIXTURES = fileURLToPath(new URL("../fixtures/functions/", import.meta.url));

Deno.test("background functions run at a lower CPU priority, the others at the gateway's", async () => {
  const keys = await apiKeys(LOCAL_JWT_SECRET);
  const gateway = createFunctionsGateway({
    configPath: `${FIXTURES}config.toml`,
    functionsDir: FIXTURES,
    jwtSecret: LOCAL_JWT_SECRET,
    env: {
      SUPABASE_URL: "http://127.0.0.1:1",
      SUPABASE_ANON_KEY: keys.anon,
      SUPABASE_SERVICE_ROLE_KEY: keys.serviceRole,
      SUPABASE_DB_URL: "postgresql://postgres:postgres@127.0.0.1:1/unused",
    },
    background: { functions: ["echo-public"] },
    log: () => {},
  });
  try {
    const pidOf = async (name: string, headers: Record<string, string> = {}) => {
      const res = await gateway.fetch(
        new Request(`http://127.0.0.1/functions/v1/${name}`, { headers }),
      );
      assert.equal(res.status, 200, name);
      return ((await res.json()) as { pid: number }).pid;
    };
    const own = getPriority(Deno.pid);
    const worker = await pidOf("echo-public");
    const api = await pidOf("echo", { Authorization: `Bearer ${keys.anon}` });
    assert.equal(getPriority(worker), Math.min(19, own + BACKGROUND_NICE));
    assert.equal(getPriority(api), own);
  } finally {
    await gateway.close();
  }
});
