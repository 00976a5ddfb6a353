import assert from "node:assert/strict";
import { Hono } from "hono";
import { cors } from "./cors.ts";

Deno.test("a preflight is answered with the headers supabase-js needs", async () => {
  const app = new Hono();
  app.use("*", cors());
  app.post("/x", (c) => c.json({}));
  const res = await app.request("/x", { method: "OPTIONS" });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("access-control-allow-origin"), "*");
  const allowed = (res.headers.get("access-control-allow-headers") ?? "").split(/,\s*/);
  for (const h of ["authorization", "x-client-info", "apikey", "content-type"]) {
    assert.ok(allowed.includes(h), h);
  }
  assert.match(res.headers.get("access-control-allow-methods") ?? "", /GET.*POST/);
});

Deno.test("error responses carry CORS headers too", async () => {
  const app = new Hono();
  app.use("*", cors());
  app.onError((_e, c) => c.json({ error: "x" }, 500));
  app.get("/x", () => {
    throw new Error("boom");
  });
  const res = await app.request("/x");
  assert.equal(res.status, 500);
  assert.equal(res.headers.get("access-control-allow-origin"), "*");
});
