import assert from "node:assert/strict";
import { estimateMessageTokens, estimateTokens } from "./tokens.ts";

Deno.test("token estimates grow with text and count each message's framing", () => {
  assert.equal(estimateTokens(""), 0);
  assert.equal(estimateTokens("abcd"), 1);
  assert.equal(estimateTokens("abcde"), 2);
  assert.equal(estimateMessageTokens([{ content: "abcd" }, { content: "" }]), 1 + 4 + 4);
});
