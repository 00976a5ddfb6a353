/**
 * What every shadow database holds before untrusted SQL touches it: the Supabase platform SQL of
 * `shared/platform/` (the one source of it, unchanged; the local stack applies the same files)
 * followed by a short shadow-only setup. The setup makes `bt_shadow_owner` — an ordinary role,
 * never a superuser — play the part Supabase's `postgres` role plays for migrations: it owns the
 * database and `public`, may reference and trigger on `auth.users`, manage policies on
 * `realtime.messages`, create extensions in `extensions`, switch to the API roles, read and write
 * `auth.users` despite its row level security (as `postgres`, which bypasses it), and its new
 * objects in `public` get the API grants Supabase's default privileges give. It also adds
 * `uuid-ossp`, which Supabase projects have enabled in `extensions` from the start.
 */
import { platformFiles } from "../platform/mod.ts";

/** The role untrusted SQL runs as in every shadow database. */
export const SHADOW_OWNER = "bt_shadow_owner";

/** One named SQL script. */
export interface SqlScript {
  name: string;
  sql: string;
}

/** The shadow-only setup, applied by a superuser after the platform SQL (see module doc). */
export const SHADOW_SETUP_SQL = `
create extension if not exists "uuid-ossp" with schema extensions;
alter schema public owner to ${SHADOW_OWNER};
grant anon, authenticated, service_role to ${SHADOW_OWNER};
grant usage, create on schema extensions to ${SHADOW_OWNER};
grant usage on schema auth to ${SHADOW_OWNER};
grant all on all tables in schema auth to ${SHADOW_OWNER};
-- Supabase's \`postgres\` role bypasses row level security; this role must not (it is untrusted),
-- so for auth.users — RLS on, no policy, as on Supabase — a policy lets it read and write the rows
-- as \`postgres\` does (seeds, backfills, security definer helpers it owns, the probes' users).
do $$
begin
  if not exists (select from pg_policy
                 where polrelid = 'auth.users'::regclass and polname = 'shadow migration role') then
    create policy "shadow migration role" on auth.users as permissive for all
      to ${SHADOW_OWNER} using (true) with check (true);
  end if;
end
$$;
grant execute on all functions in schema auth to ${SHADOW_OWNER};
grant usage on schema realtime to ${SHADOW_OWNER};
grant execute on all functions in schema realtime to ${SHADOW_OWNER};
alter table realtime.messages owner to ${SHADOW_OWNER};
-- Sign-up as Supabase Auth does it, for the isolation probes: the insert runs as Supabase Auth's
-- role with its search_path (auth), so triggers on auth.users run with that role's rights (none on
-- public's tables), as at a real sign-up. A function, not a role membership: the migration role
-- gains nothing it could not already do to auth.users.
create or replace function auth.bt_shadow_sign_up(p_id uuid, p_email text) returns void
language sql security definer set search_path = auth
as $f$
  insert into auth.users (id, email, aud, role)
  values (p_id, p_email, 'authenticated', 'authenticated')
$f$;
alter function auth.bt_shadow_sign_up(uuid, text) owner to supabase_auth_admin;
revoke execute on function auth.bt_shadow_sign_up(uuid, text) from public;
grant execute on function auth.bt_shadow_sign_up(uuid, text) to ${SHADOW_OWNER};
do $$
begin
  if to_regnamespace('pgmq') is not null then
    execute 'grant usage, create on schema pgmq to ${SHADOW_OWNER}';
    execute 'grant all on all tables in schema pgmq to ${SHADOW_OWNER}';
    execute 'grant all on all sequences in schema pgmq to ${SHADOW_OWNER}';
    execute 'grant execute on all functions in schema pgmq to ${SHADOW_OWNER}';
  end if;
end
$$;
alter default privileges for role ${SHADOW_OWNER} in schema public
  grant all on tables to anon, authenticated, service_role;
alter default privileges for role ${SHADOW_OWNER} in schema public
  grant all on functions to anon, authenticated, service_role;
alter default privileges for role ${SHADOW_OWNER} in schema public
  grant all on sequences to anon, authenticated, service_role;
-- Where the server listens is not the SQL's business (findings would echo it).
revoke execute on function pg_catalog.inet_server_addr(), pg_catalog.inet_server_port(),
  pg_catalog.inet_client_addr(), pg_catalog.inet_client_port() from public;
-- plpgsql_check (what \`supabase db lint\` runs), in a schema of its own the SQL under test cannot
-- add to; absent on PGlite and on servers without the package, where the rule says it did not run.
do $$
begin
  if exists (select from pg_catalog.pg_available_extensions where name = 'plpgsql_check') then
    create schema if not exists plpgsql_check;
    create extension if not exists plpgsql_check with schema plpgsql_check;
    grant usage on schema plpgsql_check to ${SHADOW_OWNER};
  end if;
end
$$;
`;

/** The platform files in order, then the shadow setup. */
export function shadowBootstrapScripts(): SqlScript[] {
  return [...platformFiles(), { name: "shadow_setup.sql", sql: SHADOW_SETUP_SQL }];
}

// Bumped when how a shadow is bootstrapped changes outside the SQL (e.g. the owner role's setup
// in code), so cached snapshots and templates are rebuilt.
const BOOTSTRAP_VERSION = "shadow-bootstrap-2";

/** A short content hash of scripts (plus extra parts), naming templates and snapshots. */
export async function scriptsHash(scripts: SqlScript[], ...extra: string[]): Promise<string> {
  const text = [BOOTSTRAP_VERSION, ...scripts.flatMap((s) => [s.name, s.sql]), ...extra].join(
    "\0",
  );
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(digest).slice(0, 8)].map((b) => b.toString(16).padStart(2, "0"))
    .join("");
}
