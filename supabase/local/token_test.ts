import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { apiKeys, LOCAL_JWT_SECRET, verifyToken } from "../../shared/auth/mod.ts";
import { parseTokenArgs, tokenFor, UsageError, userIdForEmail } from "./token.ts";

const TOKEN_CLI = fileURLToPath(new URL("./token.ts", import.meta.url));
const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));

Deno.test("an email maps to the same v4-shaped user id whatever its case", () => {
  const id = userIdForEmail("Ada@Example.com");
  assert.equal(id, userIdForEmail(" ada@example.com "));
  assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.notEqual(id, userIdForEmail("bob@example.com"));
});

Deno.test("a user token for an email carries the derived sub, the email and the lifetime", async () => {
  const request = parseTokenArgs(["--user", "Ada@Example.com", "--expires", "120"]);
  const claims = await verifyToken(LOCAL_JWT_SECRET, await tokenFor(request, LOCAL_JWT_SECRET));
  assert.equal(claims.role, "authenticated");
  assert.equal(claims.sub, userIdForEmail("ada@example.com"));
  assert.equal(claims.email, "ada@example.com");
  assert.equal(claims.exp! - claims.iat!, 120);
});

Deno.test("a user token for a uuid has that sub and no email", async () => {
  const sub = crypto.randomUUID();
  const claims = await verifyToken(
    LOCAL_JWT_SECRET,
    await tokenFor(parseTokenArgs(["--user", sub]), LOCAL_JWT_SECRET),
  );
  assert.equal(claims.sub, sub);
  assert.equal(claims.email, undefined);
  assert.equal(claims.exp! - claims.iat!, 3600);
});

Deno.test("--role anon and service_role print the stable API keys", async () => {
  const keys = await apiKeys(LOCAL_JWT_SECRET);
  assert.equal(await tokenFor(parseTokenArgs(["--role", "anon"]), LOCAL_JWT_SECRET), keys.anon);
  assert.equal(
    await tokenFor(parseTokenArgs(["--role", "service_role"]), LOCAL_JWT_SECRET),
    keys.serviceRole,
  );
});

Deno.test("bad command lines are usage errors", () => {
  for (
    const args of [
      [],
      ["--user", "not-a-user"],
      ["--user", "a@b.c", "--expires", "0"],
      ["--user", "a@b.c", "--expires", "soon"],
      ["--role", "admin"],
      ["--role", "anon", "--user", "a@b.c"],
      ["--user", "a@b.c", "--unknown"],
      ["stray"],
    ]
  ) {
    assert.throws(() => parseTokenArgs(args), UsageError, JSON.stringify(args));
  }
});

Deno.test("the CLI signs with JWT_SECRET and exits 2 on usage errors", async () => {
  const secret = "a-test-secret-a-test-secret-a-test-secret";
  const ok = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", TOKEN_CLI, "--user", "ada@example.com"],
    cwd: REPO_ROOT,
    env: { JWT_SECRET: secret },
  }).output();
  assert.equal(ok.code, 0, new TextDecoder().decode(ok.stderr));
  const claims = await verifyToken(secret, new TextDecoder().decode(ok.stdout).trim());
  assert.equal(claims.sub, userIdForEmail("ada@example.com"));

  const bad = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", TOKEN_CLI, "--expires", "10"],
    cwd: REPO_ROOT,
  }).output();
  assert.equal(bad.code, 2);
  assert.match(new TextDecoder().decode(bad.stderr), /--user is required/);
});
