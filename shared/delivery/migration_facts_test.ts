import assert from "node:assert/strict";
import { migrationFacts } from "./migration_facts.ts";

Deno.test("index statements are found with their table, quoted names and all, and nothing in strings or comments", async () => {
  const sql = `-- create index not_this on x (y);
create index trades_user_id_idx on public.trades (user_id);
create unique index concurrently if not exists "Odd Name" on only "Weird"."T" (a);
select 'create index fake on t (x)';`;
  const { indexes } = await migrationFacts(sql);
  assert.deepEqual(indexes.map((i) => [i.name, i.table]), [
    ["trades_user_id_idx", "public.trades"],
    ["Odd Name", "Weird.T"],
  ]);
  assert.equal(
    indexes[0].statement,
    "create index trades_user_id_idx on public.trades (user_id);",
  );
});

Deno.test("policy statements give name, table, command and roles even when the name says 'to'", async () => {
  const sql = `create policy "owners add trades to their positions" on public.trades
  for insert to authenticated with check (user_id = (select auth.uid()));
create policy everyone_reads on public.tags using (true);`;
  assert.deepEqual((await migrationFacts(sql)).policies, [
    {
      name: "owners add trades to their positions",
      table: "public.trades",
      command: "insert",
      roles: ["authenticated"],
    },
    { name: "everyone_reads", table: "public.tags", command: "all", roles: ["public"] },
  ]);
});

Deno.test("a migration that does not parse documents nothing", async () => {
  assert.deepEqual(await migrationFacts("create index on;"), { indexes: [], policies: [] });
});
