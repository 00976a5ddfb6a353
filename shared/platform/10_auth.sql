-- A minimal `auth` schema as Supabase Auth provides it: `auth.users` and the claim helpers that read
-- `request.jwt.claims` (set per transaction by PostgREST, the Realtime server and our API).
create schema if not exists auth;
grant usage on schema auth to anon, authenticated, service_role;

create table if not exists auth.users (
  instance_id uuid,
  id uuid primary key,
  aud varchar(255) default 'authenticated',
  role varchar(255) default 'authenticated',
  email varchar(255),
  encrypted_password varchar(255),
  email_confirmed_at timestamptz,
  raw_app_meta_data jsonb default '{}'::jsonb,
  raw_user_meta_data jsonb default '{}'::jsonb,
  is_anonymous boolean not null default false,
  created_at timestamptz default now(),
  updated_at timestamptz default now()
);
comment on table auth.users is 'Auth: stores user login data within a secure schema.';
grant all on auth.users to service_role;

-- As on Supabase, where it changes a verdict. Each step is guarded, so nothing runs on a Supabase
-- database (where the role applying this does not own auth.users):
-- * `phone` is unique (`users_phone_key`): a foreign key may reference it, which the validator
--   reports (fkey_to_auth_unique) rather than failing to apply;
-- * row level security is enabled on auth.users, with no policy: only roles that bypass it
--   (service_role, Supabase Auth's admin role, Supabase's `postgres`) see or write its rows, so a
--   security invoker view or function over auth.users shows the API roles nothing.
do $$
begin
  if not exists (select from pg_attribute
                 where attrelid = 'auth.users'::regclass and attname = 'phone'
                   and not attisdropped) then
    alter table auth.users add column phone text default null;
  end if;
  if not exists (select from pg_constraint
                 where conrelid = 'auth.users'::regclass and contype = 'u'
                   and conkey = array[(select attnum from pg_attribute
                                       where attrelid = 'auth.users'::regclass
                                         and attname = 'phone')]) then
    alter table auth.users add constraint users_phone_key unique (phone);
  end if;
  if not (select relrowsecurity from pg_class where oid = 'auth.users'::regclass) then
    alter table auth.users enable row level security;
  end if;
end
$$;

-- Supabase Auth writes auth.users as supabase_auth_admin, which owns it there (so RLS does not
-- stop it); here it gets the same reach through grants and a policy of its own. Guarded: on
-- Supabase the role has all of this already.
do $$
begin
  if not has_table_privilege('supabase_auth_admin', 'auth.users', 'insert') then
    grant usage on schema auth to supabase_auth_admin;
    grant all on auth.users to supabase_auth_admin;
  end if;
  if not exists (select from pg_policy
                 where polrelid = 'auth.users'::regclass and polname = 'supabase auth')
     and (select relowner from pg_class where oid = 'auth.users'::regclass)
         <> 'supabase_auth_admin'::regrole then
    create policy "supabase auth" on auth.users as permissive for all to supabase_auth_admin
      using (true) with check (true);
  end if;
end
$$;

do $$
begin
  if to_regprocedure('auth.uid()') is null then
    create function auth.uid() returns uuid
    language sql stable
    set search_path = ''
    as $f$
      select coalesce(
        nullif(current_setting('request.jwt.claim.sub', true), ''),
        (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub')
      )::uuid
    $f$;
    comment on function auth.uid() is 'Deprecated. Use auth.jwt() -> ''sub'' instead.';
  end if;
  if to_regprocedure('auth.role()') is null then
    create function auth.role() returns text
    language sql stable
    set search_path = ''
    as $f$
      select coalesce(
        nullif(current_setting('request.jwt.claim.role', true), ''),
        (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'role')
      )::text
    $f$;
  end if;
  if to_regprocedure('auth.email()') is null then
    create function auth.email() returns text
    language sql stable
    set search_path = ''
    as $f$
      select coalesce(
        nullif(current_setting('request.jwt.claim.email', true), ''),
        (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'email')
      )::text
    $f$;
  end if;
  if to_regprocedure('auth.jwt()') is null then
    create function auth.jwt() returns jsonb
    language sql stable
    set search_path = ''
    as $f$
      select coalesce(
        nullif(current_setting('request.jwt.claim', true), ''),
        nullif(current_setting('request.jwt.claims', true), '')
      )::jsonb
    $f$;
  end if;
end
$$;
grant execute on function auth.uid(), auth.role(), auth.email(), auth.jwt()
  to anon, authenticated, service_role;
