import assert from "node:assert/strict";
import { Hono } from "hono";
import { isAppError } from "../errors/mod.ts";
import { errorHandler } from "./errors.ts";
import { jsonBody, parseJsonBytes, readLimited } from "./json_body.ts";

function stream(chunks: string[]): ReadableStream<Uint8Array> {
  const encoded = chunks.map((c) => new TextEncoder().encode(c));
  return new ReadableStream({
    pull(controller) {
      const next = encoded.shift();
      if (next) controller.enqueue(next);
      else controller.close();
    },
  });
}

function echoApp(optional = false) {
  const app = new Hono();
  app.onError(errorHandler(() => {}));
  app.post("/", jsonBody({ maxBytes: 64, optional }), async (c) => c.json(await c.req.json()));
  return app;
}

Deno.test("a body larger than the limit is refused while reading, without Content-Length", async () => {
  await assert.rejects(
    readLimited(stream(["a".repeat(40), "b".repeat(40)]), 64),
    (e) => isAppError(e, "payload_too_large"),
  );
  const ok = await readLimited(stream(["ab", "cd"]), 64);
  assert.equal(new TextDecoder().decode(ok), "abcd");
});

Deno.test("a chunked JSON body over the limit is a 413 and one under it reaches the handler", async () => {
  const app = echoApp();
  const big = await app.request("/", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: stream(['{"a":"', "x".repeat(100), '"}']),
  });
  assert.equal(big.status, 413);
  assert.equal((await big.json()).error.code, "payload_too_large");
  const small = await app.request("/", {
    method: "POST",
    headers: { "content-type": "application/json; charset=utf-8" },
    body: stream(['{"a":', "1}"]),
  });
  assert.equal(small.status, 200);
  assert.deepEqual(await small.json(), { a: 1 });
});

Deno.test("a Content-Length over the limit is refused before the body is read", async () => {
  const res = await echoApp().request("/", {
    method: "POST",
    headers: { "content-type": "application/json", "content-length": "1000" },
    body: "{}",
  });
  assert.equal(res.status, 413);
});

Deno.test("non-JSON media types are a 415 and broken JSON a 400 invalid_json", async () => {
  const app = echoApp();
  const text = await app.request("/", {
    method: "POST",
    headers: { "content-type": "text/plain" },
    body: "{}",
  });
  assert.equal(text.status, 415);
  assert.equal((await text.json()).error.code, "unsupported_media_type");
  const broken = await app.request("/", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: "{nope",
  });
  assert.equal(broken.status, 400);
  assert.equal((await broken.json()).error.code, "invalid_json");
});

Deno.test("an optional body may be empty and is then read as {}", async () => {
  const res = await echoApp(true).request("/", { method: "POST" });
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), {});
});

Deno.test("bytes that are not UTF-8 are invalid JSON, not a crash", () => {
  assert.throws(
    () => parseJsonBytes(new Uint8Array([0x22, 0xff, 0x22])),
    (e) => isAppError(e, "invalid_json"),
  );
  assert.deepEqual(parseJsonBytes(new TextEncoder().encode('{"ok":true}')), { ok: true });
});
