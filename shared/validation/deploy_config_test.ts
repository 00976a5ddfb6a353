import assert from "node:assert/strict";
import { checkDeployConfig, functionFacts } from "./deploy_config.ts";

const USER_FUNCTION = `
import { createClient } from "npm:@supabase/supabase-js@2.119.1";
Deno.serve(async (req) => {
  const supabase = createClient(Deno.env.get("SUPABASE_URL")!, Deno.env.get("SUPABASE_ANON_KEY")!, {
    global: { headers: { Authorization: req.headers.get("Authorization")! } },
  });
  const { data: { user } } = await supabase.auth.getUser();
  if (!user) return new Response("{}", { status: 401 });
  return Response.json(await supabase.from("notes").select("*"));
});`;

const WEBHOOK = `
import { timingSafeEqual } from "node:crypto";
import { adminClient } from "../_shared/admin.ts";
Deno.serve(async (req) => {
  const given = req.headers.get("x-webhook-secret") ?? "";
  const secret = Deno.env.get("WEBHOOK_SECRET")!;
  if (given !== secret) return new Response("no", { status: 401 });
  await adminClient().from("events").insert(await req.json());
  return new Response("ok");
});`;

const SHARED_ADMIN = `
import { createClient } from "npm:@supabase/supabase-js@2.119.1";
export const adminClient = () =>
  createClient(Deno.env.get("SUPABASE_URL")!, Deno.env.get("SUPABASE_SERVICE_ROLE_KEY")!);
`;

const OPEN_ADMIN = `
import { createClient } from "npm:@supabase/supabase-js@2.119.1";
Deno.serve(async () => {
  const admin = createClient(Deno.env.get("SUPABASE_URL")!, Deno.env.get("SUPABASE_SERVICE_ROLE_KEY")!);
  return Response.json(await admin.from("notes").select("*"));
});`;

const files = [
  { name: "notes/index.ts", source: USER_FUNCTION },
  { name: "hook/index.ts", source: WEBHOOK },
  { name: "_shared/admin.ts", source: SHARED_ADMIN },
];

const CLEAN_TOML = `
[api]
schemas = ["public"]

[functions.notes]
verify_jwt = true

[functions.hook]
verify_jwt = false
`;

const rules = (found: { rule: string }[]) => found.map((f) => f.rule).sort();

Deno.test("a config that names delivered functions with the right verify_jwt raises nothing", async () => {
  const found = await checkDeployConfig({
    configFiles: [
      { path: "supabase/config.toml", content: CLEAN_TOML },
      { path: ".github/workflows/deploy.yml", content: "not: [toml" },
    ],
    functions: files,
    declaredEnv: ["WEBHOOK_SECRET"],
    declaredVerifyJwt: { notes: true, hook: false },
  });
  assert.deepEqual(found, []);
});

Deno.test("a config.toml that does not parse is reported with its line", async () => {
  const found = await checkDeployConfig({
    configFiles: [{ path: "supabase/config.toml", content: "[functions.notes]\nverify_jwt = \n" }],
    functions: files.slice(0, 1),
    declaredEnv: ["WEBHOOK_SECRET"],
  });
  assert.deepEqual(found.map((f) => [f.rule, f.level, f.file]), [
    ["deploy_config_invalid", "error", "supabase/config.toml"],
  ]);
  assert.equal(found[0].line, 2);
});

Deno.test("malformed [functions] tables are invalid: a string verify_jwt, a _shared name", async () => {
  const found = await checkDeployConfig({
    configFiles: [{
      path: "supabase/config.toml",
      content: '[functions.notes]\nverify_jwt = "yes"\n\n[functions._shared]\nverify_jwt = false\n',
    }],
    functions: files.slice(0, 1),
    declaredEnv: ["WEBHOOK_SECRET"],
  });
  assert.deepEqual(rules(found), ["deploy_config_invalid", "deploy_config_invalid"]);
  assert.match(found[0].message, /verify_jwt must be true or false/);
  assert.equal(found[1].line, 4);
});

Deno.test("a [functions.<name>] for a function that was not delivered is unknown", async () => {
  const found = await checkDeployConfig({
    configFiles: [{ path: "supabase/config.toml", content: CLEAN_TOML + "\n[functions.export]\n" }],
    functions: files,
    declaredEnv: ["WEBHOOK_SECRET"],
  });
  assert.deepEqual(found.map((f) => [f.rule, f.object, f.line]), [
    ["deploy_config_unknown_function", "functions.export", 11],
  ]);
  assert.match(found[0].message, /delivered: hook, notes/);
});

Deno.test("an env var read without a fallback must be declared or provided by the platform", async () => {
  const source = `
const a = Deno.env.get("RESEND_API_KEY");
const b = Deno.env.get("LOG_LEVEL") ?? "info";
const c = process.env.SLACK_URL;
const d = Deno.env.get("SUPABASE_URL");
const e = Deno.env.get(\`OPENAI_KEY\`);
Deno.serve(() => new Response(String([a, b, c, d, e])));`;
  const found = await checkDeployConfig({
    configFiles: [],
    functions: [{ name: "mail/index.ts", source }],
    declaredEnv: ["OPENAI_KEY"],
  });
  assert.deepEqual(found.map((f) => [f.rule, f.file, f.line]), [
    ["function_env_undeclared", "mail/index.ts", 2],
    ["function_env_undeclared", "mail/index.ts", 4],
  ]);
  assert.match(found[0].message, /reads RESEND_API_KEY/);
});

Deno.test("env reads in _shared files a function imports count for that function", async () => {
  const found = await checkDeployConfig({
    configFiles: [],
    functions: files,
    declaredEnv: [],
  });
  assert.deepEqual(found.map((f) => [f.rule, f.object]), [
    ["function_env_undeclared", "hook"],
    ["verify_jwt_mismatch", "functions.hook"],
  ]);
});

Deno.test("verify_jwt = false on a service-role function with no check of its own is a mismatch", async () => {
  const found = await checkDeployConfig({
    configFiles: [{
      path: "supabase/config.toml",
      content: "[functions.dump]\nverify_jwt = false\n",
    }],
    functions: [{ name: "dump/index.ts", source: OPEN_ADMIN }],
    declaredEnv: [],
  });
  assert.deepEqual(found.map((f) => [f.rule, f.file, f.line]), [
    ["verify_jwt_mismatch", "supabase/config.toml", 1],
  ]);
  assert.match(found[0].message, /SUPABASE_SERVICE_ROLE_KEY\) without a check of its own/);
  // The same function behind the gateway's JWT check is fine.
  assert.deepEqual(
    await checkDeployConfig({
      configFiles: [{
        path: "supabase/config.toml",
        content: "[functions.dump]\nverify_jwt = true\n",
      }],
      functions: [{ name: "dump/index.ts", source: OPEN_ADMIN }],
      declaredEnv: [],
    }),
    [],
  );
});

Deno.test("verify_jwt = true on a webhook that checks a shared secret is a mismatch (the default too)", async () => {
  const found = await checkDeployConfig({
    configFiles: [],
    functions: files,
    declaredEnv: ["WEBHOOK_SECRET"],
  });
  assert.deepEqual(found.map((f) => [f.rule, f.file]), [["verify_jwt_mismatch", "hook/index.ts"]]);
  assert.match(found[0].message, /by default .* verify_jwt = true/);
});

Deno.test("config.toml must deploy a function with the verify_jwt the function declares", async () => {
  const found = await checkDeployConfig({
    configFiles: [{ path: "supabase/config.toml", content: CLEAN_TOML }],
    functions: files,
    declaredEnv: ["WEBHOOK_SECRET"],
    declaredVerifyJwt: { notes: false, hook: false },
  });
  assert.deepEqual(found.map((f) => [f.rule, f.object]), [[
    "verify_jwt_mismatch",
    "functions.notes",
  ]]);
});

Deno.test("function facts: user checks, secrets and privileged access are read from the code", async () => {
  const facts = await functionFacts(files);
  assert.deepEqual(
    facts.map((f) => [f.name, f.checksUser, f.checksSecret, f.privileged, f.readsUserToken]),
    [["hook", false, true, true, false], ["notes", true, false, false, true]],
  );
});

Deno.test("a Hono webhook reading its secret header with c.req.header counts as checking a secret", async () => {
  const source = `
import { Hono } from "npm:hono@4.13.19";
const app = new Hono().basePath("/hook");
app.post("/", async (c) => {
  if (c.req.header("x-signature") !== Deno.env.get("HOOK_SECRET")) return c.json({}, 401);
  return c.json({ ok: true });
});
Deno.serve(app.fetch);`;
  const [facts] = await functionFacts([{ name: "hook/index.ts", source }]);
  assert.equal(facts.checksSecret, true);
  assert.equal(facts.readsUserToken, false);
});
