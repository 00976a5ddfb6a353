import assert from "node:assert/strict";
import { nPlusOneFindings } from "./n_plus_one.ts";

Deno.test("a query inside a for…of over another query's rows is an N+1 warning", async () => {
  const source = `
const { data: projects } = await supabase.from("projects").select("id");
for (const p of projects ?? []) {
  const { data } = await supabase.from("tasks").select("*").eq("project_id", p.id);
  console.log(data);
}`;
  const [hit, ...rest] = await nPlusOneFindings([{ name: "tasks/index.ts", source }]);
  assert.equal(rest.length, 0);
  assert.equal(hit.rule, "n_plus_one");
  assert.equal(hit.level, "warn");
  assert.equal(hit.line, 4);
});

Deno.test("Promise.all(rows.map(query)) over postgres.js rows is an N+1 warning", async () => {
  const source = `
const users = await sql\`select id from profiles\`;
const counts = await Promise.all(users.map((u) => sql\`select count(*) from notes where user_id = \${u.id}\`));`;
  const found = await nPlusOneFindings([{ name: "stats/index.ts", source }]);
  assert.deepEqual(found.map((f) => [f.rule, f.line]), [["n_plus_one", 3]]);
});

Deno.test("one query with an embedded select, and loops over plain data, raise nothing", async () => {
  const source = `
const { data } = await supabase.from("projects").select("id, tasks(*)");
const ids = [1, 2, 3];
for (const id of ids) console.log(id);
const parts = Array.from(data ?? []).map((p) => p.id);
for (const p of data ?? []) console.log(p.tasks.length);`;
  assert.deepEqual(await nPlusOneFindings([{ name: "ok/index.ts", source }]), []);
});
