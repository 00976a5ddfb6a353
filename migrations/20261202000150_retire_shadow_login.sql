-- Shadows used to run on the product's server as one login role, `bt_shadow_owner`, a member of
-- the API roles. They now run on a server of their own with a role per validation, so on the
-- product's server that role must not be able to log in or reach product data: installs that ran
-- the old version still have it, with a password derived from a URL. It keeps existing (it may
-- own leftovers of old shadow databases), stripped of login and memberships.
do $$
declare
  member text;
begin
  if exists (select from pg_catalog.pg_roles where rolname = 'bt_shadow_owner') then
    execute 'alter role bt_shadow_owner with nologin password null connection limit 0';
    for member in
      select r.rolname from pg_catalog.pg_auth_members m
      join pg_catalog.pg_roles r on r.oid = m.roleid
      join pg_catalog.pg_roles u on u.oid = m.member
      where u.rolname = 'bt_shadow_owner'
    loop
      execute format('revoke %I from bt_shadow_owner', member);
    end loop;
  end if;
end
$$;
