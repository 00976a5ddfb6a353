import assert from "node:assert/strict";
import { ownerTopic, validationRequest } from "./shadow_validator.ts";

Deno.test("a topic keyed by the user's id becomes the probe's {uid}; others are not joinable", () => {
  assert.equal(ownerTopic("notes:<user_id>"), "notes:{uid}");
  assert.equal(ownerTopic("user:{userId}:inbox"), "user:{uid}:inbox");
  assert.equal(ownerTopic("private-${uid}"), "private-{uid}");
  assert.equal(ownerTopic("inbox:user_id"), null);
  assert.equal(ownerTopic("project:<project_id>"), null);
  assert.equal(ownerTopic("project:<project_id>:<user_id>"), null);
});

Deno.test("the websocket agent's private channels become channel cases, public ones are skipped", () => {
  const request = validationRequest([
    { kind: "migration", path: "supabase/migrations/1_a.sql", content: "select 1", meta: {} },
    {
      kind: "api_doc",
      path: "docs/realtime.md",
      content: "",
      meta: { topic: "a:<uid>", private: true },
    },
    {
      kind: "api_doc",
      path: "docs/realtime.md",
      content: "",
      meta: { topic: "lobby", private: false },
    },
    {
      kind: "api_doc",
      path: "docs/realtime.md",
      content: "",
      meta: { topic: "org:<org_id>", private: true },
    },
  ]);
  assert.deepEqual(request.channels, [{ topic: "a:{uid}", event: "probe" }]);
  assert.deepEqual(request.notJoined.map((f) => [f.rule, f.level]), [[
    "realtime_probe_not_run",
    "info",
  ]]);
});
