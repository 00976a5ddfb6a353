/**
 * Private channels joined for real (issue 15): the validator's channel probe, backed by the local
 * Realtime server on the validation's own PostgreSQL shadow and the real `@supabase/realtime-js`
 * client, catches a `realtime.messages` policy that lets any signed-in user read the owner's topic
 * and passes one that ties the topic to the caller; a trigger that claims to broadcast is made to
 * fire by the write it claims to follow.
 *
 * The resource sanitizers are off: realtime-js leaves a timer behind on disconnect.
 */
import assert from "node:assert/strict";
import { createPostgresShadow, type ShadowDatabase } from "../../shared/shadow/mod.ts";
import { LOCAL_JWT_SECRET, mintUserToken } from "../../shared/auth/mod.ts";
import {
  createValidateApp,
  type Finding,
  validateMigrations,
  ValidationReport,
} from "../../shared/validation/mod.ts";
import { localChannelProbe } from "../../supabase/local/realtime/mod.ts";
import { shadowAdminUrl } from "../_support/db.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

const NOTES = `
create table public.notes (
  id bigint generated always as identity primary key,
  user_id uuid not null default auth.uid() references auth.users (id) on delete cascade,
  title text not null
);
alter table public.notes enable row level security;
create policy "notes: owner" on public.notes for all to authenticated
  using ((select auth.uid()) = user_id) with check ((select auth.uid()) = user_id);
grant select, insert on public.notes to authenticated;

create function public.notes_broadcast() returns trigger
language plpgsql security definer set search_path = '' as $$
begin
  perform realtime.send(jsonb_build_object('id', new.id), 'changed', 'notes:' || new.user_id, true);
  return new;
end $$;
revoke execute on function public.notes_broadcast() from public, anon, authenticated;
create trigger notes_broadcast after insert on public.notes
  for each row execute function public.notes_broadcast();
`;

const OWNER_ONLY = `
create policy "notes topic: owner reads" on realtime.messages for select to authenticated
  using ((select realtime.topic()) = 'notes:' || (select auth.uid())::text);`;

const ANY_USER = `
create policy "notes topic: signed-in users read" on realtime.messages for select to authenticated
  using ((select realtime.topic()) like 'notes:%');`;

const show = (findings: Finding[]) =>
  findings.map((f) => `  ${f.level} ${f.rule} ${f.file}:${f.line} ${f.message}`).join("\n");

const realtimeRules = (findings: Finding[]) =>
  findings.filter((f) => f.rule.startsWith("realtime_")).map((f) => f.rule);

Deno.test(
  "private channels are joined on a shadow Realtime as owner, another user and anon",
  opts,
  async (t) => {
    const shadow: ShadowDatabase = await createPostgresShadow({ adminUrl: await shadowAdminUrl() });
    const channelProbe = localChannelProbe();
    try {
      await t.step(
        "a topic policy any signed-in user passes is a realtime_isolation_leak",
        async () => {
          const started = performance.now();
          const report = await validateMigrations({
            shadow,
            files: [{ name: "notes.sql", sql: NOTES + ANY_USER }],
            channels: [{ topic: "notes:{uid}", event: "changed" }],
            channelProbe,
          });
          console.log(`leaky channel: validation ${Math.round(performance.now() - started)} ms`);
          const leaks = report.findings.filter((f) => f.rule === "realtime_isolation_leak");
          assert.equal(leaks.length, 1, show(report.findings));
          assert.match(leaks[0].message, /^another user received/);
          assert.equal(leaks[0].level, "error");
          assert.ok(!report.ok);
          assert.ok(!realtimeRules(report.findings).includes("realtime_owner_access"));
        },
      );

      await t.step(
        "a topic tied to the caller is clean: the owner receives, the others are refused",
        async () => {
          const started = performance.now();
          const report = await validateMigrations({
            shadow,
            files: [{ name: "notes.sql", sql: NOTES + OWNER_ONLY }],
            channels: [{ topic: "notes:{uid}", event: "changed" }],
            channelProbe,
          });
          console.log(`correct channel: validation ${Math.round(performance.now() - started)} ms`);
          assert.deepEqual(realtimeRules(report.findings), [], show(report.findings));
        },
      );

      await t.step("the trigger that claims to broadcast fires on the owner's insert", async () => {
        const report = await validateMigrations({
          shadow,
          files: [{ name: "notes.sql", sql: NOTES + OWNER_ONLY }],
          channels: [{
            topic: "notes:{uid}",
            event: "changed",
            write: "insert into public.notes (title) values ('probe')",
          }],
          channelProbe,
        });
        assert.deepEqual(realtimeRules(report.findings), [], show(report.findings));
      });

      await t.step(
        "a write whose trigger broadcasts nothing leaves the owner without a message",
        async () => {
          const report = await validateMigrations({
            shadow,
            files: [{
              name: "notes.sql",
              sql: NOTES + OWNER_ONLY + "\ndrop trigger notes_broadcast on public.notes;",
            }],
            channels: [{
              topic: "notes:{uid}",
              event: "changed",
              write: "insert into public.notes (title) values ('probe')",
            }],
            channelProbe,
          });
          assert.deepEqual(
            realtimeRules(report.findings),
            ["realtime_owner_access"],
            show(report.findings),
          );
          assert.match(
            report.findings.find((f) => f.rule === "realtime_owner_access")!.message,
            /joined but did not receive/,
          );
        },
      );
      await t.step(
        "POST /validate joins the requested channels with the probe it was given",
        async () => {
          const token = await mintUserToken(LOCAL_JWT_SECRET, { sub: crypto.randomUUID() });
          const post = async (app: ReturnType<typeof createValidateApp>) => {
            const res = await app.fetch(
              new Request("http://localhost/validate", {
                method: "POST",
                headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
                body: JSON.stringify({
                  shadow: "postgres",
                  files: [{ name: "notes.sql", sql: NOTES + ANY_USER }],
                  channels: [{ topic: "notes:{uid}", event: "changed" }],
                }),
              }),
            );
            assert.equal(res.status, 200);
            return ValidationReport.parse(await res.json());
          };
          const base = {
            jwtSecret: LOCAL_JWT_SECRET,
            shadow: () => Promise.resolve(shadow),
            postgresAvailable: true,
          };
          const withProbe = await post(createValidateApp({ ...base, channelProbe }));
          assert.deepEqual(realtimeRules(withProbe.findings), ["realtime_isolation_leak"]);
          const without = await post(createValidateApp(base));
          assert.deepEqual(realtimeRules(without.findings), ["realtime_probe_not_run"]);
        },
      );
    } finally {
      await shadow.close();
    }
  },
);
