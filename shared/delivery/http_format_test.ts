import assert from "node:assert/strict";
import { negotiateDeliverableFormat } from "./http_format.ts";

Deno.test("Accept chooses the deliverable's form; no Accept or */* is JSON", () => {
  const cases: [string | null, string | null][] = [
    [null, "json"],
    ["", "json"],
    ["*/*", "json"],
    ["application/json", "json"],
    ["text/markdown", "markdown"],
    ["text/*", "markdown"],
    ["application/gzip", "tar.gz"],
    ["application/x-gzip", "tar.gz"],
    ["application/x-tar", "tar"],
    ["text/markdown;q=0.5, application/gzip", "tar.gz"],
    ["text/markdown, */*;q=0.1", "markdown"],
    ["*/*, text/markdown", "markdown"],
    ["image/png", null],
    ["text/markdown;q=0", null],
    ["application/pdf, text/html", null],
  ];
  for (const [accept, want] of cases) {
    assert.equal(negotiateDeliverableFormat(accept), want, `Accept: ${accept}`);
  }
});
