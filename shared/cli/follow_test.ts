import assert from "node:assert/strict";
import { apiKeys, LOCAL_JWT_SECRET } from "../auth/mod.ts";
import { ApiError, createRunsApi } from "./api_client.ts";
import { openFollowSession } from "./follow.ts";

// realtime-js leaves reconnect timers behind when a socket never opened.
const opts = { sanitizeOps: false, sanitizeResources: false };

Deno.test(
  "a follower that cannot reach Realtime fails with upstream_unavailable instead of waiting forever",
  opts,
  async () => {
    // A port nothing listens on: bind one, then free it.
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = listener.addr.port;
    listener.close();
    const api = createRunsApi({
      url: `http://127.0.0.1:${port}`,
      anonKey: (await apiKeys(LOCAL_JWT_SECRET)).anon,
      token: "not-used",
    });
    const session = openFollowSession({
      api,
      runId: crypto.randomUUID(),
      onEvents: () => assert.fail("no events can arrive"),
      joinTimeoutMs: 300,
    });
    try {
      await assert.rejects(
        session.until(() => false),
        (e) =>
          e instanceof ApiError && e.code === "upstream_unavailable" && /realtime/i.test(e.message),
      );
      assert.equal(session.logReads, 0);
    } finally {
      await session.close();
    }
  },
);
