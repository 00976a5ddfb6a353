import assert from "node:assert/strict";
import { parseLocalUser, userIdForEmail } from "./local_stack.ts";

Deno.test("an email names the same user whatever its case or spacing", () => {
  const user = parseLocalUser(" Ada@Example.com ");
  assert.deepEqual(user, { sub: userIdForEmail("ada@example.com"), email: "ada@example.com" });
  assert.ok(user);
  assert.match(user.sub, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.notEqual(user.sub, parseLocalUser("bob@example.com")?.sub);
});

Deno.test("a uuid is the user's id, lower-cased, with no email", () => {
  assert.deepEqual(parseLocalUser("6F1C0000-0000-4000-8000-00000000000A"), {
    sub: "6f1c0000-0000-4000-8000-00000000000a",
  });
});

Deno.test("a user that is neither an email nor a uuid names no one", () => {
  for (const user of ["", "ada", "not a@user", "6f1c-uuid"]) {
    assert.equal(parseLocalUser(user), undefined, user);
  }
});

Deno.test("the local database url is DATABASE_URL when set, else the local cluster's", async () => {
  // In a child process: the environment is shared by every test running in parallel.
  const module = new URL("./local_stack.ts", import.meta.url).href;
  const passThrough = Object.fromEntries(
    ["HOME", "PATH", "DENO_DIR"].flatMap((k) => Deno.env.has(k) ? [[k, Deno.env.get(k)!]] : []),
  );
  const urlWith = async (env: Record<string, string>) => {
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "eval",
        `import { localDatabaseUrl } from "${module}"; console.log(localDatabaseUrl());`,
      ],
      env: { ...passThrough, ...env },
      clearEnv: true,
    }).output();
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    return new TextDecoder().decode(out.stdout).trim();
  };
  assert.equal(
    await urlWith({ BT_DB_PORT: "6543" }),
    "postgresql://postgres:postgres@127.0.0.1:6543/postgres",
  );
  assert.equal(await urlWith({}), "postgresql://postgres:postgres@127.0.0.1:54322/postgres");
  assert.equal(
    await urlWith({ DATABASE_URL: "postgresql://elsewhere/db" }),
    "postgresql://elsewhere/db",
  );
});
