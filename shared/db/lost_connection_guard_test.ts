import assert from "node:assert/strict";
import { isLostConnectionRejection } from "./mod.ts";

const MOD = new URL("./mod.ts", import.meta.url).href;

async function child(reject: string): Promise<{ code: number; out: string }> {
  const script = `import { connect } from ${JSON.stringify(MOD)};
connect("postgresql://u:p@127.0.0.1:1/x");
${reject};
await new Promise((r) => setTimeout(r, 200));
console.log("alive");`;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--ext=ts", script],
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code: out.code, out: new TextDecoder().decode(out.stdout) };
}

function lost(): Error {
  const e = Object.assign(new Error("write CONNECTION_CLOSED 127.0.0.1:5432"), {
    code: "CONNECTION_CLOSED",
  });
  e.stack =
    `${e.message}\n    at closed (file:///repo/shared/db/_postgres_js/connection.js:501:32)`;
  return e;
}

Deno.test("only the driver's own lost-connection error is recognised", () => {
  assert.equal(isLostConnectionRejection(lost()), true);
  assert.equal(isLostConnectionRejection(new Error("CONNECTION_CLOSED")), false);
  const other = Object.assign(new Error("x"), { code: "CONNECTION_CLOSED" });
  other.stack = "x\n    at f (file:///elsewhere.ts:1:1)";
  assert.equal(isLostConnectionRejection(other), false);
});

Deno.test("a lost connection nobody awaits is logged, while any other unhandled rejection still ends the process", async () => {
  const kept = await child(
    `const e = Object.assign(new Error("write CONNECTION_CLOSED 127.0.0.1:5432"), { code: "CONNECTION_CLOSED" });
e.stack = e.message + "\\n    at closed (file:///repo/shared/db/_postgres_js/connection.js:501:32)";
Promise.reject(e)`,
  );
  assert.equal(kept.code, 0);
  assert.match(kept.out, /alive/);
  const ended = await child(`Promise.reject(new Error("a real bug"))`);
  assert.notEqual(ended.code, 0);
  assert.doesNotMatch(ended.out, /alive/);
});
