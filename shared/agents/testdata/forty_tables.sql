-- Prior schema of a project-management SaaS (fixture: 40 tables, realistic Supabase conventions).
-- Generated once for the context-package tests; edit freely, tests read it as plain SQL.

create schema if not exists private;

create type public.member_role as enum ('owner', 'admin', 'member', 'guest');
create type public.project_status as enum ('active', 'paused', 'archived');
create type public.task_status as enum ('todo', 'in_progress', 'in_review', 'done', 'canceled');
create type public.subscription_status as enum ('trialing', 'active', 'past_due', 'canceled');
create type public.invoice_status as enum ('draft', 'sent', 'paid', 'void');

create or replace function public.set_updated_at()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  new.updated_at := now();
  return new;
end;
$$;
comment on function public.set_updated_at() is 'Keeps updated_at current on every update.';

-- organizations
create table public.organizations (
  id bigint generated always as identity primary key,
  name text not null check (char_length(name) between 1 and 120),
  slug text not null unique,
  billing_email text,
  logo_url text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
comment on table public.organizations is 'Customer organizations; the tenant boundary.';
alter table public.organizations enable row level security;
create trigger organizations_set_updated_at before update on public.organizations for each row execute function public.set_updated_at();
grant select, insert, update, delete on public.organizations to authenticated;

-- profiles
create table public.profiles (
  id uuid primary key references auth.users (id) on delete cascade,
  display_name text not null,
  avatar_url text,
  timezone text not null default 'UTC',
  locale text not null default 'en',
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
comment on table public.profiles is 'Public profile of each auth user.';
alter table public.profiles enable row level security;
create trigger profiles_set_updated_at before update on public.profiles for each row execute function public.set_updated_at();
grant select, insert, update, delete on public.profiles to authenticated;
create policy "profiles: readable by signed-in users" on public.profiles for select to authenticated using (true);
create policy "profiles: owner update" on public.profiles for update to authenticated using ((select auth.uid()) = id) with check ((select auth.uid()) = id);

-- organization_members
create table public.organization_members (
  id bigint generated always as identity primary key,
  organization_id bigint not null references public.organizations (id) on delete cascade,
  user_id uuid not null references auth.users (id) on delete cascade,
  role public.member_role not null default 'member',
  invited_by uuid references auth.users (id) on delete set null,
  joined_at timestamptz not null default now(),
  unique (organization_id, user_id)
);
comment on table public.organization_members is 'Which users belong to which organization, with their role.';
alter table public.organization_members enable row level security;
create index organization_members_organization_id_idx on public.organization_members (organization_id);
create index organization_members_user_id_idx on public.organization_members (user_id);
create index organization_members_invited_by_idx on public.organization_members (invited_by);
create or replace function private.is_org_member(p_organization_id bigint)
returns boolean
language sql
stable
security definer
set search_path = ''
as $$
  select exists (
    select 1 from public.organization_members m
    where m.organization_id = p_organization_id and m.user_id = (select auth.uid())
  );
$$;

create or replace function private.is_org_admin(p_organization_id bigint)
returns boolean
language sql
stable
security definer
set search_path = ''
as $$
  select exists (
    select 1 from public.organization_members m
    where m.organization_id = p_organization_id
      and m.user_id = (select auth.uid())
      and m.role in ('owner', 'admin')
  );
$$;
revoke execute on function private.is_org_member(bigint), private.is_org_admin(bigint) from public, anon;
grant execute on function private.is_org_member(bigint), private.is_org_admin(bigint) to authenticated;

create policy "organizations: members read" on public.organizations for select to authenticated using ((select private.is_org_member(id)));
create policy "organizations: admins update" on public.organizations for update to authenticated using ((select private.is_org_admin(id))) with check ((select private.is_org_admin(id)));
grant select, insert, update, delete on public.organization_members to authenticated;
create policy "organization_members: members select" on public.organization_members for select to authenticated
  using ((select private.is_org_member(organization_id)));
create policy "organization_members: members insert" on public.organization_members for insert to authenticated
  with check ((select private.is_org_member(organization_id)));
create policy "organization_members: members update" on public.organization_members for update to authenticated
  using ((select private.is_org_member(organization_id)))
  with check ((select private.is_org_member(organization_id)));
create policy "organization_members: members delete" on public.organization_members for delete to authenticated
  using ((select private.is_org_member(organization_id)));

-- teams
create table public.teams (
  id bigint generated always as identity primary key,
  organization_id bigint not null references public.organizations (id) on delete cascade,
  name text not null,
  description text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
comment on table public.teams is 'Groups of members inside an organization.';
alter table public.teams enable row level security;
create index teams_organization_id_idx on public.teams (organization_id);
create trigger teams_set_updated_at before update on public.teams for each row execute function public.set_updated_at();
grant select, insert, update, delete on public.teams to authenticated;
create policy "teams: members select" on public.teams for select to authenticated
  using ((select private.is_org_member(organization_id)));
create policy "teams: members insert" on public.teams for insert to authenticated
  with check ((select private.is_org_member(organization_id)));
create policy "teams: members update" on public.teams for update to authenticated
  using ((select private.is_org_member(organization_id)))
  with check ((select private.is_org_member(organization_id)));
create policy "teams: members delete" on public.teams for delete to authenticated
  using ((select private.is_org_member(organization_id)));

-- team_members
create table public.team_members (
  id bigint generated always as identity primary key,
  organization_id bigint not null references public.organizations (id) on delete cascade,
  team_id bigint not null references public.teams (id) on delete cascade,
  user_id uuid not null references auth.users (id) on delete cascade,
  unique (team_id, user_id)
);
comment on table public.team_members is 'Membership of users in teams.';
alter table public.team_members enable row level security;
create index team_members_organization_id_idx on public.team_members (organization_id);
create index team_members_team_id_idx on public.team_members (team_id);
create index team_members_user_id_idx on public.team_members (user_id);
grant select, insert, update, delete on public.team_members to authenticated;
create policy "team_members: members select" on public.team_members for select to authenticated
  using ((select private.is_org_member(organization_id)));
create policy "team_members: members insert" on public.team_members for insert to authenticated
  with check ((select private.is_org_member(organization_id)));
create policy "team_members: members update" on public.team_members for update to authenticated
  using ((select private.is_org_member(organization_id)))
  with check ((select private.is_org_member(organization_id)));
create policy "team_members: members delete" on public.team_members for delete to authenticated
  using ((select private.is_org_member(organization_id)));

-- projects
create table public.projects (
  id bigint generated always as identity primary key,
  organization_id bigint not null references public.organizations (id) on delete cascade,
  team_id bigint references public.teams (id) on delete set null,
  name text not null,
  key text not null check (key ~ '^[A-Z]{2,6}$'),
  status public.project_status not null default 'active',
  starts_on date,
  ends_on date,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  unique (organization_id, key)
);
comment on table public.projects is 'Projects group the work of an organization.';
alter table public.projects enable row level security;
create index projects_organization_id_idx on public.projects (organization_id);
create index projects_team_id_idx on public.projects (team_id);
create trigger projects_set_updated_at before update on public.projects for each row execute function public.set_updated_at();
grant select, insert, update, delete on public.projects to authenticated;
create policy "projects: members select" on public.projects for select to authenticated
  using ((select private.is_org_member(organization_id)));
create policy "projects: members insert" on public.projects for insert to authenticated
  with check ((select private.is_org_member(organization_id)));
create policy "projects: members update" on public.projects for update to authenticated
  using ((select private.is_org_member(organization_id)))
  with check ((select private.is_org_member(organization_id)));
create policy "projects: members delete" on public.projects for delete to authenticated
  using ((select private.is_org_member(organization_id)));

-- project_members
create table public.project_members (
  id bigint generated always as identity primary key,
  organization_id bigint not null references public.organizations (id) on delete cascade,
  project_id bigint not null references public.projects (id) on delete cascade,
  user_id uuid not null references auth.users (id) on delete cascade,
  can_edit boolean not null default true,
  unique (project_id, user_id)
);
comment on table public.project_members is 'Users with access to a project.';
alter table public.project_members enable row level security;
create index project_members_organization_id_idx on public.project_members (organization_id);
create index project_members_project_id_idx on public.project_members (project_id);
create index project_members_user_id_idx on public.project_members (user_id);
grant select, insert, update, delete on public.project_members to authenticated;
create policy "project_members: members select" on public.project_members for select to authenticated
  using ((select private.is_org_member(organization_id)));
create policy "project_members: members insert" on public.project_members for insert to authenticated
  with check ((select private.is_org_member(organization_id)));
create policy "project_members: members update" on public.project_members for update to authenticated
  using ((select private.is_org_member(organization_id)))
  with check ((select private.is_org_member(organization_id)));
create policy "project_members: members delete" on public.project_members for delete to authenticated
  using ((select private.is_org_member(organization_id)));

-- milestones
create table public.milestones (
  id bigint generated always as identity primary key,
  organization_id bigint not null references public.organizations (id) on delete cascade,
  project_id bigint not null references public.projects (id) on delete cascade,
  title text not null,
  due_on date,
  completed_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
comment on table public.milestones is 'Dated goals within a project.';
alter table public.milestones enable row level security;
create index milestones_organization_id_idx on public.milestones (organization_id);
create index milestones_project_id_idx on public.milestones (project_id);
create trigger milestones_set_updated_at before update on public.milestones for each row execute function public.set_updated_at();
grant select, insert, update, delete on public.milestones to authenticated;
create policy "milestones: members select" on public.milestones for select to authenticated
  using ((select private.is_org_member(organization_id)));
create policy "milestones: members insert" on public.milestones for insert to authenticated
  with check ((select private.is_org_member(organization_id)));
create policy "milestones: members update" on public.milestones for update to authenticated
  using ((select private.is_org_member(organization_id)))
  with check ((select private.is_org_member(organization_id)));
create policy "milestones: members delete" on public.milestones for delete to authenticated
  using ((select private.is_org_member(organization_id)));

-- sprints
create table public.sprints (
  id bigint generated always as identity primary key,
  organization_id bigint not null references public.organizations (id) on delete cascade,
  project_id bigint not null references public.projects (id) on delete cascade,
  name text not null,
  starts_on date not null,
  ends_on date not null,
  goal text,
  check (ends_on > starts_on)
);
comment on table public.sprints is 'Time-boxed iterations of a project.';
alter table public.sprints enable row level security;
create index sprints_organization_id_idx on public.sprints (organization_id);
create index sprints_project_id_idx on public.sprints (project_id);
grant select, insert, update, delete on public.sprints to authenticated;
create policy "sprints: members select" on public.sprints for select to authenticated
  using ((select private.is_org_member(organization_id)));
create policy "sprints: members insert" on public.sprints for insert to authenticated
  with check ((select private.is_org_member(organization_id)));
create policy "sprints: members update" on public.sprints for update to authenticated
  using ((select private.is_org_member(organization_id)))
  with check ((select private.is_org_member(organization_id)));
create policy "sprints: members delete" on public.sprints for delete to authenticated
  using ((select private.is_org_member(organization_id)));

-- tasks
create table public.tasks (
  id bigint generated always as identity primary key,
  organization_id bigint not null references public.organizations (id) on delete cascade,
  project_id bigint not null references public.projects (id) on delete cascade,
  milestone_id bigint references public.milestones (id) on delete set null,
  sprint_id bigint references public.sprints (id) on delete set null,
  number integer not null,
  title text not null check (char_length(title) between 1 and 300),
  description text,
  status public.task_status not null default 'todo',
  priority smallint not null default 3 check (priority between 1 and 5),
  estimate_points numeric(5,1),
  due_at timestamptz,
  created_by uuid not null default auth.uid() references auth.users (id),
  completed_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  unique (project_id, number)
);
comment on table public.tasks is 'Work items of a project.';
alter table public.tasks enable row level security;
create index tasks_organization_id_idx on public.tasks (organization_id);
create index tasks_project_id_idx on public.tasks (project_id);
create index tasks_milestone_id_idx on public.tasks (milestone_id);
create index tasks_sprint_id_idx on public.tasks (sprint_id);
create index tasks_created_by_idx on public.tasks (created_by);
create index tasks_project_status_idx on public.tasks (project_id, status) where completed_at is null;
create trigger tasks_set_updated_at before update on public.tasks for each row execute function public.set_updated_at();
grant select, insert, update, delete on public.tasks to authenticated;
create policy "tasks: members select" on public.tasks for select to authenticated
  using ((select private.is_org_member(organization_id)));
create policy "tasks: members insert" on public.tasks for insert to authenticated
  with check ((select private.is_org_member(organization_id)));
create policy "tasks: members update" on public.tasks for update to authenticated
  using ((select private.is_org_member(organization_id)))
  with check ((select private.is_org_member(organization_id)));
create policy "tasks: members delete" on public.tasks for delete to authenticated
  using ((select private.is_org_member(organization_id)));

-- task_assignees
create table public.task_assignees (
  id bigint generated always as identity primary key,
  organization_id bigint not null references public.organizations (id) on delete cascade,
  task_id bigint not null references public.tasks (id) on delete cascade,
  user_id uuid not null references auth.users (id) on delete cascade,
  assigned_at timestamptz not null default now(),
  unique (task_id, user_id)
);
comment on table public.task_assignees is 'Users assigned to a task.';
alter table public.task_assignees enable row level security;
create index task_assignees_organization_id_idx on public.task_assignees (organization_id);
create index task_assignees_task_id_idx on public.task_assignees (task_id);
create index task_assignees_user_id_idx on public.task_assignees (user_id);
grant select, insert, update, delete on public.task_assignees to authenticated;
create policy "task_assignees: members select" on public.task_assignees for select to authenticated
  using ((select private.is_org_member(organization_id)));
create policy "task_assignees: members insert" on public.task_assignees for insert to authenticated
  with check ((select private.is_org_member(organization_id)));
create policy "task_assignees: members update" on public.task_assignees for update to authenticated
  using ((select private.is_org_member(organization_id)))
  with check ((select private.is_org_member(organization_id)));
create policy "task_assignees: members delete" on public.task_assignees for delete to authenticated
  using ((select private.is_org_member(organization_id)));

-- labels
create table public.labels (
  id bigint generated always as identity primary key,
  organization_id bigint not null references public.organizations (id) on delete cascade,
  name text not null,
  color text not null default '#888888' check (color ~ '^#[0-9a-fA-F]{6}$'),
  unique (organization_id, name)
);
comment on table public.labels is 'Colored labels an organization defines for tasks.';
alter table public.labels enable row level security;
create index labels_organization_id_idx on public.labels (organization_id);
grant select, insert, update, delete on public.labels to authenticated;
create policy "labels: members select" on public.labels for select to authenticated
  using ((select private.is_org_member(organization_id)));
create policy "labels: members insert" on public.labels for insert to authenticated
  with check ((select private.is_org_member(organization_id)));
create policy "labels: members update" on public.labels for update to authenticated
  using ((select private.is_org_member(organization_id)))
  with check ((select private.is_org_member(organization_id)));
create policy "labels: members delete" on public.labels for delete to authenticated
  using ((select private.is_org_member(organization_id)));

-- task_labels
create table public.task_labels (
  id bigint generated always as identity primary key,
  organization_id bigint not null references public.organizations (id) on delete cascade,
  task_id bigint not null references public.tasks (id) on delete cascade,
  label_id bigint not null references public.labels (id) on delete cascade,
  unique (task_id, label_id)
);
comment on table public.task_labels is 'Labels attached to tasks.';
alter table public.task_labels enable row level security;
create index task_labels_organization_id_idx on public.task_labels (organization_id);
create index task_labels_task_id_idx on public.task_labels (task_id);
create index task_labels_label_id_idx on public.task_labels (label_id);
grant select, insert, update, delete on public.task_labels to authenticated;
create policy "task_labels: members select" on public.task_labels for select to authenticated
  using ((select private.is_org_member(organization_id)));
create policy "task_labels: members insert" on public.task_labels for insert to authenticated
  with check ((select private.is_org_member(organization_id)));
create policy "task_labels: members update" on public.task_labels for update to authenticated
  using ((select private.is_org_member(organization_id)))
  with check ((select private.is_org_member(organization_id)));
create policy "task_labels: members delete" on public.task_labels for delete to authenticated
  using ((select private.is_org_member(organization_id)));

-- task_comments
create table public.task_comments (
  id bigint generated always as identity primary key,
  organization_id bigint not null references public.organizations (id) on delete cascade,
  task_id bigint not null references public.tasks (id) on delete cascade,
  author_id uuid not null default auth.uid() references auth.users (id),
  body text not null check (char_length(body) <= 20000),
  edited_at timestamptz,
  deleted_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
comment on table public.task_comments is 'Discussion on a task.';
alter table public.task_comments enable row level security;
create index task_comments_organization_id_idx on public.task_comments (organization_id);
create index task_comments_task_id_idx on public.task_comments (task_id);
create index task_comments_author_id_idx on public.task_comments (author_id);
create index task_comments_task_created_idx on public.task_comments (task_id, created_at desc) where deleted_at is null;
create trigger task_comments_set_updated_at before update on public.task_comments for each row execute function public.set_updated_at();
grant select, insert, update, delete on public.task_comments to authenticated;
create policy "task_comments: members select" on public.task_comments for select to authenticated
  using ((select private.is_org_member(organization_id)));
create policy "task_comments: members insert" on public.task_comments for insert to authenticated
  with check ((select private.is_org_member(organization_id)));
create policy "task_comments: members update" on public.task_comments for update to authenticated
  using ((select private.is_org_member(organization_id)))
  with check ((select private.is_org_member(organization_id)));
create policy "task_comments: members delete" on public.task_comments for delete to authenticated
  using ((select private.is_org_member(organization_id)));

-- comment_reactions
create table public.comment_reactions (
  id bigint generated always as identity primary key,
  organization_id bigint not null references public.organizations (id) on delete cascade,
  comment_id bigint not null references public.task_comments (id) on delete cascade,
  user_id uuid not null references auth.users (id) on delete cascade,
  emoji text not null,
  unique (comment_id, user_id, emoji)
);
comment on table public.comment_reactions is 'Emoji reactions on comments.';
alter table public.comment_reactions enable row level security;
create index comment_reactions_organization_id_idx on public.comment_reactions (organization_id);
create index comment_reactions_comment_id_idx on public.comment_reactions (comment_id);
create index comment_reactions_user_id_idx on public.comment_reactions (user_id);
grant select, insert, update, delete on public.comment_reactions to authenticated;
create policy "comment_reactions: members select" on public.comment_reactions for select to authenticated
  using ((select private.is_org_member(organization_id)));
create policy "comment_reactions: members insert" on public.comment_reactions for insert to authenticated
  with check ((select private.is_org_member(organization_id)));
create policy "comment_reactions: members update" on public.comment_reactions for update to authenticated
  using ((select private.is_org_member(organization_id)))
  with check ((select private.is_org_member(organization_id)));
create policy "comment_reactions: members delete" on public.comment_reactions for delete to authenticated
  using ((select private.is_org_member(organization_id)));

-- attachments
create table public.attachments (
  id bigint generated always as identity primary key,
  organization_id bigint not null references public.organizations (id) on delete cascade,
  task_id bigint not null references public.tasks (id) on delete cascade,
  uploaded_by uuid not null default auth.uid() references auth.users (id),
  storage_path text not null unique,
  file_name text not null,
  content_type text not null,
  size_bytes bigint not null check (size_bytes >= 0),
  created_at timestamptz not null default now()
);
comment on table public.attachments is 'Files attached to tasks, stored in Supabase Storage.';
alter table public.attachments enable row level security;
create index attachments_organization_id_idx on public.attachments (organization_id);
create index attachments_task_id_idx on public.attachments (task_id);
create index attachments_uploaded_by_idx on public.attachments (uploaded_by);
grant select, insert, update, delete on public.attachments to authenticated;
create policy "attachments: members select" on public.attachments for select to authenticated
  using ((select private.is_org_member(organization_id)));
create policy "attachments: members insert" on public.attachments for insert to authenticated
  with check ((select private.is_org_member(organization_id)));
create policy "attachments: members update" on public.attachments for update to authenticated
  using ((select private.is_org_member(organization_id)))
  with check ((select private.is_org_member(organization_id)));
create policy "attachments: members delete" on public.attachments for delete to authenticated
  using ((select private.is_org_member(organization_id)));

-- task_dependencies
create table public.task_dependencies (
  id bigint generated always as identity primary key,
  organization_id bigint not null references public.organizations (id) on delete cascade,
  task_id bigint not null references public.tasks (id) on delete cascade,
  depends_on_task_id bigint not null references public.tasks (id) on delete cascade,
  check (task_id <> depends_on_task_id),
  unique (task_id, depends_on_task_id)
);
comment on table public.task_dependencies is 'Blocking relations between tasks.';
alter table public.task_dependencies enable row level security;
create index task_dependencies_organization_id_idx on public.task_dependencies (organization_id);
create index task_dependencies_task_id_idx on public.task_dependencies (task_id);
create index task_dependencies_depends_on_task_id_idx on public.task_dependencies (depends_on_task_id);
grant select, insert, update, delete on public.task_dependencies to authenticated;
create policy "task_dependencies: members select" on public.task_dependencies for select to authenticated
  using ((select private.is_org_member(organization_id)));
create policy "task_dependencies: members insert" on public.task_dependencies for insert to authenticated
  with check ((select private.is_org_member(organization_id)));
create policy "task_dependencies: members update" on public.task_dependencies for update to authenticated
  using ((select private.is_org_member(organization_id)))
  with check ((select private.is_org_member(organization_id)));
create policy "task_dependencies: members delete" on public.task_dependencies for delete to authenticated
  using ((select private.is_org_member(organization_id)));

-- time_entries
create table public.time_entries (
  id bigint generated always as identity primary key,
  organization_id bigint not null references public.organizations (id) on delete cascade,
  task_id bigint references public.tasks (id) on delete set null,
  user_id uuid not null default auth.uid() references auth.users (id),
  started_at timestamptz not null,
  ended_at timestamptz,
  billable boolean not null default true,
  note text,
  check (ended_at is null or ended_at > started_at)
);
comment on table public.time_entries is 'Time tracked by users against tasks.';
alter table public.time_entries enable row level security;
create index time_entries_organization_id_idx on public.time_entries (organization_id);
create index time_entries_task_id_idx on public.time_entries (task_id);
create index time_entries_user_id_idx on public.time_entries (user_id);
grant select, insert, update, delete on public.time_entries to authenticated;
create policy "time_entries: members select" on public.time_entries for select to authenticated
  using ((select private.is_org_member(organization_id)));
create policy "time_entries: members insert" on public.time_entries for insert to authenticated
  with check ((select private.is_org_member(organization_id)));
create policy "time_entries: members update" on public.time_entries for update to authenticated
  using ((select private.is_org_member(organization_id)))
  with check ((select private.is_org_member(organization_id)));
create policy "time_entries: members delete" on public.time_entries for delete to authenticated
  using ((select private.is_org_member(organization_id)));

-- plans
create table public.plans (
  id bigint generated always as identity primary key,
  code text not null unique,
  name text not null,
  monthly_price_cents integer not null check (monthly_price_cents >= 0),
  seat_limit integer,
  features jsonb not null default '{}'::jsonb,
  active boolean not null default true
);
comment on table public.plans is 'Subscription plans offered.';
alter table public.plans enable row level security;
grant select, insert, update, delete on public.plans to authenticated;
create policy "plans: anyone reads" on public.plans for select to anon, authenticated using (active);

-- subscriptions
create table public.subscriptions (
  id bigint generated always as identity primary key,
  organization_id bigint not null references public.organizations (id) on delete cascade,
  plan_id bigint not null references public.plans (id),
  status public.subscription_status not null default 'trialing',
  seats integer not null default 1 check (seats > 0),
  current_period_end timestamptz not null,
  stripe_subscription_id text unique,
  canceled_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
comment on table public.subscriptions is 'The plan each organization is on.';
alter table public.subscriptions enable row level security;
create index subscriptions_organization_id_idx on public.subscriptions (organization_id);
create index subscriptions_plan_id_idx on public.subscriptions (plan_id);
create trigger subscriptions_set_updated_at before update on public.subscriptions for each row execute function public.set_updated_at();
grant select, insert, update, delete on public.subscriptions to authenticated;
create policy "subscriptions: members select" on public.subscriptions for select to authenticated
  using ((select private.is_org_member(organization_id)));
create policy "subscriptions: members insert" on public.subscriptions for insert to authenticated
  with check ((select private.is_org_admin(organization_id)));
create policy "subscriptions: members update" on public.subscriptions for update to authenticated
  using ((select private.is_org_admin(organization_id)))
  with check ((select private.is_org_admin(organization_id)));
create policy "subscriptions: members delete" on public.subscriptions for delete to authenticated
  using ((select private.is_org_admin(organization_id)));

-- customers
create table public.customers (
  id bigint generated always as identity primary key,
  organization_id bigint not null references public.organizations (id) on delete cascade,
  name text not null,
  email text,
  vat_number text,
  address jsonb,
  archived_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
comment on table public.customers is 'Clients an organization bills for its work.';
alter table public.customers enable row level security;
create index customers_organization_id_idx on public.customers (organization_id);
create trigger customers_set_updated_at before update on public.customers for each row execute function public.set_updated_at();
grant select, insert, update, delete on public.customers to authenticated;
create policy "customers: members select" on public.customers for select to authenticated
  using ((select private.is_org_member(organization_id)));
create policy "customers: members insert" on public.customers for insert to authenticated
  with check ((select private.is_org_member(organization_id)));
create policy "customers: members update" on public.customers for update to authenticated
  using ((select private.is_org_member(organization_id)))
  with check ((select private.is_org_member(organization_id)));
create policy "customers: members delete" on public.customers for delete to authenticated
  using ((select private.is_org_member(organization_id)));

-- contacts
create table public.contacts (
  id bigint generated always as identity primary key,
  organization_id bigint not null references public.organizations (id) on delete cascade,
  customer_id bigint not null references public.customers (id) on delete cascade,
  full_name text not null,
  email text,
  phone text,
  title text
);
comment on table public.contacts is 'People at a customer.';
alter table public.contacts enable row level security;
create index contacts_organization_id_idx on public.contacts (organization_id);
create index contacts_customer_id_idx on public.contacts (customer_id);
grant select, insert, update, delete on public.contacts to authenticated;
create policy "contacts: members select" on public.contacts for select to authenticated
  using ((select private.is_org_member(organization_id)));
create policy "contacts: members insert" on public.contacts for insert to authenticated
  with check ((select private.is_org_member(organization_id)));
create policy "contacts: members update" on public.contacts for update to authenticated
  using ((select private.is_org_member(organization_id)))
  with check ((select private.is_org_member(organization_id)));
create policy "contacts: members delete" on public.contacts for delete to authenticated
  using ((select private.is_org_member(organization_id)));

-- invoices
create table public.invoices (
  id bigint generated always as identity primary key,
  organization_id bigint not null references public.organizations (id) on delete cascade,
  customer_id bigint not null references public.customers (id),
  number text not null,
  status public.invoice_status not null default 'draft',
  currency char(3) not null default 'EUR',
  issued_on date,
  due_on date,
  total_cents bigint not null default 0,
  paid_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  unique (organization_id, number)
);
comment on table public.invoices is 'Invoices issued to customers.';
alter table public.invoices enable row level security;
create index invoices_organization_id_idx on public.invoices (organization_id);
create index invoices_customer_id_idx on public.invoices (customer_id);
create trigger invoices_set_updated_at before update on public.invoices for each row execute function public.set_updated_at();
grant select, insert, update, delete on public.invoices to authenticated;
create policy "invoices: members select" on public.invoices for select to authenticated
  using ((select private.is_org_member(organization_id)));
create policy "invoices: members insert" on public.invoices for insert to authenticated
  with check ((select private.is_org_admin(organization_id)));
create policy "invoices: members update" on public.invoices for update to authenticated
  using ((select private.is_org_admin(organization_id)))
  with check ((select private.is_org_admin(organization_id)));
create policy "invoices: members delete" on public.invoices for delete to authenticated
  using ((select private.is_org_admin(organization_id)));

-- invoice_items
create table public.invoice_items (
  id bigint generated always as identity primary key,
  organization_id bigint not null references public.organizations (id) on delete cascade,
  invoice_id bigint not null references public.invoices (id) on delete cascade,
  time_entry_id bigint references public.time_entries (id) on delete set null,
  description text not null,
  quantity numeric(10,2) not null default 1,
  unit_price_cents bigint not null,
  tax_rate numeric(5,2) not null default 0
);
comment on table public.invoice_items is 'Lines of an invoice.';
alter table public.invoice_items enable row level security;
create index invoice_items_organization_id_idx on public.invoice_items (organization_id);
create index invoice_items_invoice_id_idx on public.invoice_items (invoice_id);
create index invoice_items_time_entry_id_idx on public.invoice_items (time_entry_id);
grant select, insert, update, delete on public.invoice_items to authenticated;
create policy "invoice_items: members select" on public.invoice_items for select to authenticated
  using ((select private.is_org_member(organization_id)));
create policy "invoice_items: members insert" on public.invoice_items for insert to authenticated
  with check ((select private.is_org_admin(organization_id)));
create policy "invoice_items: members update" on public.invoice_items for update to authenticated
  using ((select private.is_org_admin(organization_id)))
  with check ((select private.is_org_admin(organization_id)));
create policy "invoice_items: members delete" on public.invoice_items for delete to authenticated
  using ((select private.is_org_admin(organization_id)));

-- payments
create table public.payments (
  id bigint generated always as identity primary key,
  organization_id bigint not null references public.organizations (id) on delete cascade,
  invoice_id bigint not null references public.invoices (id) on delete cascade,
  amount_cents bigint not null check (amount_cents > 0),
  method text not null,
  received_at timestamptz not null default now(),
  external_ref text
);
comment on table public.payments is 'Payments received against invoices.';
alter table public.payments enable row level security;
create index payments_organization_id_idx on public.payments (organization_id);
create index payments_invoice_id_idx on public.payments (invoice_id);
grant select, insert, update, delete on public.payments to authenticated;
create policy "payments: members select" on public.payments for select to authenticated
  using ((select private.is_org_member(organization_id)));
create policy "payments: members insert" on public.payments for insert to authenticated
  with check ((select private.is_org_admin(organization_id)));
create policy "payments: members update" on public.payments for update to authenticated
  using ((select private.is_org_admin(organization_id)))
  with check ((select private.is_org_admin(organization_id)));
create policy "payments: members delete" on public.payments for delete to authenticated
  using ((select private.is_org_admin(organization_id)));

-- deal_stages
create table public.deal_stages (
  id bigint generated always as identity primary key,
  organization_id bigint not null references public.organizations (id) on delete cascade,
  name text not null,
  position smallint not null,
  is_won boolean not null default false,
  unique (organization_id, position)
);
comment on table public.deal_stages is 'Pipeline stages for sales deals.';
alter table public.deal_stages enable row level security;
create index deal_stages_organization_id_idx on public.deal_stages (organization_id);
grant select, insert, update, delete on public.deal_stages to authenticated;
create policy "deal_stages: members select" on public.deal_stages for select to authenticated
  using ((select private.is_org_member(organization_id)));
create policy "deal_stages: members insert" on public.deal_stages for insert to authenticated
  with check ((select private.is_org_member(organization_id)));
create policy "deal_stages: members update" on public.deal_stages for update to authenticated
  using ((select private.is_org_member(organization_id)))
  with check ((select private.is_org_member(organization_id)));
create policy "deal_stages: members delete" on public.deal_stages for delete to authenticated
  using ((select private.is_org_member(organization_id)));

-- deals
create table public.deals (
  id bigint generated always as identity primary key,
  organization_id bigint not null references public.organizations (id) on delete cascade,
  customer_id bigint references public.customers (id) on delete set null,
  stage_id bigint not null references public.deal_stages (id),
  owner_id uuid references auth.users (id) on delete set null,
  title text not null,
  value_cents bigint not null default 0,
  expected_close_on date,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
comment on table public.deals is 'Sales opportunities with customers.';
alter table public.deals enable row level security;
create index deals_organization_id_idx on public.deals (organization_id);
create index deals_customer_id_idx on public.deals (customer_id);
create index deals_stage_id_idx on public.deals (stage_id);
create index deals_owner_id_idx on public.deals (owner_id);
create trigger deals_set_updated_at before update on public.deals for each row execute function public.set_updated_at();
grant select, insert, update, delete on public.deals to authenticated;
create policy "deals: members select" on public.deals for select to authenticated
  using ((select private.is_org_member(organization_id)));
create policy "deals: members insert" on public.deals for insert to authenticated
  with check ((select private.is_org_member(organization_id)));
create policy "deals: members update" on public.deals for update to authenticated
  using ((select private.is_org_member(organization_id)))
  with check ((select private.is_org_member(organization_id)));
create policy "deals: members delete" on public.deals for delete to authenticated
  using ((select private.is_org_member(organization_id)));

-- documents
create table public.documents (
  id bigint generated always as identity primary key,
  organization_id bigint not null references public.organizations (id) on delete cascade,
  project_id bigint references public.projects (id) on delete cascade,
  title text not null,
  slug text not null,
  current_version integer not null default 1,
  created_by uuid not null default auth.uid() references auth.users (id),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  unique (organization_id, slug)
);
comment on table public.documents is 'Rich-text documents in a project wiki.';
alter table public.documents enable row level security;
create index documents_organization_id_idx on public.documents (organization_id);
create index documents_project_id_idx on public.documents (project_id);
create index documents_created_by_idx on public.documents (created_by);
create trigger documents_set_updated_at before update on public.documents for each row execute function public.set_updated_at();
grant select, insert, update, delete on public.documents to authenticated;
create policy "documents: members select" on public.documents for select to authenticated
  using ((select private.is_org_member(organization_id)));
create policy "documents: members insert" on public.documents for insert to authenticated
  with check ((select private.is_org_member(organization_id)));
create policy "documents: members update" on public.documents for update to authenticated
  using ((select private.is_org_member(organization_id)))
  with check ((select private.is_org_member(organization_id)));
create policy "documents: members delete" on public.documents for delete to authenticated
  using ((select private.is_org_member(organization_id)));

-- document_versions
create table public.document_versions (
  id bigint generated always as identity primary key,
  organization_id bigint not null references public.organizations (id) on delete cascade,
  document_id bigint not null references public.documents (id) on delete cascade,
  version integer not null,
  content jsonb not null,
  author_id uuid not null references auth.users (id),
  created_at timestamptz not null default now(),
  unique (document_id, version)
);
comment on table public.document_versions is 'Immutable versions of a document.';
alter table public.document_versions enable row level security;
create index document_versions_organization_id_idx on public.document_versions (organization_id);
create index document_versions_document_id_idx on public.document_versions (document_id);
create index document_versions_author_id_idx on public.document_versions (author_id);
grant select, insert, update, delete on public.document_versions to authenticated;
create policy "document_versions: members select" on public.document_versions for select to authenticated
  using ((select private.is_org_member(organization_id)));
create policy "document_versions: members insert" on public.document_versions for insert to authenticated
  with check ((select private.is_org_member(organization_id)));
create policy "document_versions: members update" on public.document_versions for update to authenticated
  using ((select private.is_org_member(organization_id)))
  with check ((select private.is_org_member(organization_id)));
create policy "document_versions: members delete" on public.document_versions for delete to authenticated
  using ((select private.is_org_member(organization_id)));

-- notifications
create table public.notifications (
  id bigint generated always as identity primary key,
  user_id uuid not null references auth.users (id) on delete cascade,
  kind text not null,
  payload jsonb not null default '{}'::jsonb,
  read_at timestamptz,
  created_at timestamptz not null default now()
);
comment on table public.notifications is 'In-app notifications for a user.';
alter table public.notifications enable row level security;
create index notifications_user_id_idx on public.notifications (user_id);
create index notifications_user_unread_idx on public.notifications (user_id, created_at desc) where read_at is null;
grant select, insert, update, delete on public.notifications to authenticated;
create policy "notifications: owner select" on public.notifications for select to authenticated
  using ((select auth.uid()) = user_id);
create policy "notifications: owner insert" on public.notifications for insert to authenticated
  with check ((select auth.uid()) = user_id);
create policy "notifications: owner update" on public.notifications for update to authenticated
  using ((select auth.uid()) = user_id)
  with check ((select auth.uid()) = user_id);
create policy "notifications: owner delete" on public.notifications for delete to authenticated
  using ((select auth.uid()) = user_id);

-- notification_preferences
create table public.notification_preferences (
  id bigint generated always as identity primary key,
  user_id uuid not null references auth.users (id) on delete cascade,
  kind text not null,
  email boolean not null default true,
  push boolean not null default true,
  unique (user_id, kind)
);
comment on table public.notification_preferences is 'Per-user channel preferences for notifications.';
alter table public.notification_preferences enable row level security;
create index notification_preferences_user_id_idx on public.notification_preferences (user_id);
grant select, insert, update, delete on public.notification_preferences to authenticated;
create policy "notification_preferences: owner select" on public.notification_preferences for select to authenticated
  using ((select auth.uid()) = user_id);
create policy "notification_preferences: owner insert" on public.notification_preferences for insert to authenticated
  with check ((select auth.uid()) = user_id);
create policy "notification_preferences: owner update" on public.notification_preferences for update to authenticated
  using ((select auth.uid()) = user_id)
  with check ((select auth.uid()) = user_id);
create policy "notification_preferences: owner delete" on public.notification_preferences for delete to authenticated
  using ((select auth.uid()) = user_id);

-- audit_logs
create table public.audit_logs (
  id bigint generated always as identity primary key,
  organization_id bigint not null references public.organizations (id) on delete cascade,
  actor_id uuid references auth.users (id) on delete set null,
  action text not null,
  target_table text,
  target_id text,
  details jsonb not null default '{}'::jsonb,
  created_at timestamptz not null default now()
);
comment on table public.audit_logs is 'Append-only log of security-relevant actions.';
alter table public.audit_logs enable row level security;
create index audit_logs_organization_id_idx on public.audit_logs (organization_id);
create index audit_logs_actor_id_idx on public.audit_logs (actor_id);
create index audit_logs_org_created_idx on public.audit_logs (organization_id, created_at desc);
grant select, insert, update, delete on public.audit_logs to authenticated;
create policy "audit_logs: members select" on public.audit_logs for select to authenticated
  using ((select private.is_org_member(organization_id)));
create policy "audit_logs: members insert" on public.audit_logs for insert to authenticated
  with check ((select private.is_org_admin(organization_id)));
create policy "audit_logs: members update" on public.audit_logs for update to authenticated
  using ((select private.is_org_admin(organization_id)))
  with check ((select private.is_org_admin(organization_id)));
create policy "audit_logs: members delete" on public.audit_logs for delete to authenticated
  using ((select private.is_org_admin(organization_id)));

-- api_keys
create table public.api_keys (
  id bigint generated always as identity primary key,
  organization_id bigint not null references public.organizations (id) on delete cascade,
  name text not null,
  key_hash text not null unique,
  last_used_at timestamptz,
  expires_at timestamptz,
  created_by uuid not null references auth.users (id),
  created_at timestamptz not null default now()
);
comment on table public.api_keys is 'Hashed API keys for server-to-server access.';
alter table public.api_keys enable row level security;
create index api_keys_organization_id_idx on public.api_keys (organization_id);
create index api_keys_created_by_idx on public.api_keys (created_by);
grant select, insert, update, delete on public.api_keys to authenticated;
create policy "api_keys: members select" on public.api_keys for select to authenticated
  using ((select private.is_org_member(organization_id)));
create policy "api_keys: members insert" on public.api_keys for insert to authenticated
  with check ((select private.is_org_admin(organization_id)));
create policy "api_keys: members update" on public.api_keys for update to authenticated
  using ((select private.is_org_admin(organization_id)))
  with check ((select private.is_org_admin(organization_id)));
create policy "api_keys: members delete" on public.api_keys for delete to authenticated
  using ((select private.is_org_admin(organization_id)));

-- webhooks
create table public.webhooks (
  id bigint generated always as identity primary key,
  organization_id bigint not null references public.organizations (id) on delete cascade,
  url text not null check (url ~ '^https://'),
  secret text not null,
  events text[] not null default '{}',
  active boolean not null default true,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
comment on table public.webhooks is 'Outgoing webhook endpoints of an organization.';
alter table public.webhooks enable row level security;
create index webhooks_organization_id_idx on public.webhooks (organization_id);
create trigger webhooks_set_updated_at before update on public.webhooks for each row execute function public.set_updated_at();
grant select, insert, update, delete on public.webhooks to authenticated;
create policy "webhooks: members select" on public.webhooks for select to authenticated
  using ((select private.is_org_member(organization_id)));
create policy "webhooks: members insert" on public.webhooks for insert to authenticated
  with check ((select private.is_org_admin(organization_id)));
create policy "webhooks: members update" on public.webhooks for update to authenticated
  using ((select private.is_org_admin(organization_id)))
  with check ((select private.is_org_admin(organization_id)));
create policy "webhooks: members delete" on public.webhooks for delete to authenticated
  using ((select private.is_org_admin(organization_id)));

-- webhook_deliveries
create table public.webhook_deliveries (
  id bigint generated always as identity primary key,
  organization_id bigint not null references public.organizations (id) on delete cascade,
  webhook_id bigint not null references public.webhooks (id) on delete cascade,
  event text not null,
  payload jsonb not null,
  response_status integer,
  attempt smallint not null default 1,
  delivered_at timestamptz,
  created_at timestamptz not null default now()
);
comment on table public.webhook_deliveries is 'Attempts to deliver webhook events.';
alter table public.webhook_deliveries enable row level security;
create index webhook_deliveries_organization_id_idx on public.webhook_deliveries (organization_id);
create index webhook_deliveries_webhook_id_idx on public.webhook_deliveries (webhook_id);
grant select, insert, update, delete on public.webhook_deliveries to authenticated;
create policy "webhook_deliveries: members select" on public.webhook_deliveries for select to authenticated
  using ((select private.is_org_member(organization_id)));
create policy "webhook_deliveries: members insert" on public.webhook_deliveries for insert to authenticated
  with check ((select private.is_org_admin(organization_id)));
create policy "webhook_deliveries: members update" on public.webhook_deliveries for update to authenticated
  using ((select private.is_org_admin(organization_id)))
  with check ((select private.is_org_admin(organization_id)));
create policy "webhook_deliveries: members delete" on public.webhook_deliveries for delete to authenticated
  using ((select private.is_org_admin(organization_id)));

-- integrations
create table public.integrations (
  id bigint generated always as identity primary key,
  organization_id bigint not null references public.organizations (id) on delete cascade,
  provider text not null,
  config jsonb not null default '{}'::jsonb,
  enabled boolean not null default true,
  unique (organization_id, provider)
);
comment on table public.integrations is 'Third-party integrations enabled by an organization.';
alter table public.integrations enable row level security;
create index integrations_organization_id_idx on public.integrations (organization_id);
grant select, insert, update, delete on public.integrations to authenticated;
create policy "integrations: members select" on public.integrations for select to authenticated
  using ((select private.is_org_member(organization_id)));
create policy "integrations: members insert" on public.integrations for insert to authenticated
  with check ((select private.is_org_admin(organization_id)));
create policy "integrations: members update" on public.integrations for update to authenticated
  using ((select private.is_org_admin(organization_id)))
  with check ((select private.is_org_admin(organization_id)));
create policy "integrations: members delete" on public.integrations for delete to authenticated
  using ((select private.is_org_admin(organization_id)));

-- calendar_events
create table public.calendar_events (
  id bigint generated always as identity primary key,
  organization_id bigint not null references public.organizations (id) on delete cascade,
  project_id bigint references public.projects (id) on delete cascade,
  title text not null,
  starts_at timestamptz not null,
  ends_at timestamptz not null,
  location text,
  created_by uuid not null default auth.uid() references auth.users (id),
  check (ends_at > starts_at)
);
comment on table public.calendar_events is 'Meetings and deadlines on the shared calendar.';
alter table public.calendar_events enable row level security;
create index calendar_events_organization_id_idx on public.calendar_events (organization_id);
create index calendar_events_project_id_idx on public.calendar_events (project_id);
create index calendar_events_created_by_idx on public.calendar_events (created_by);
grant select, insert, update, delete on public.calendar_events to authenticated;
create policy "calendar_events: members select" on public.calendar_events for select to authenticated
  using ((select private.is_org_member(organization_id)));
create policy "calendar_events: members insert" on public.calendar_events for insert to authenticated
  with check ((select private.is_org_member(organization_id)));
create policy "calendar_events: members update" on public.calendar_events for update to authenticated
  using ((select private.is_org_member(organization_id)))
  with check ((select private.is_org_member(organization_id)));
create policy "calendar_events: members delete" on public.calendar_events for delete to authenticated
  using ((select private.is_org_member(organization_id)));

-- event_attendees
create table public.event_attendees (
  id bigint generated always as identity primary key,
  organization_id bigint not null references public.organizations (id) on delete cascade,
  event_id bigint not null references public.calendar_events (id) on delete cascade,
  user_id uuid not null references auth.users (id) on delete cascade,
  response text not null default 'pending' check (response in ('pending', 'yes', 'no', 'maybe')),
  unique (event_id, user_id)
);
comment on table public.event_attendees is 'Who attends a calendar event.';
alter table public.event_attendees enable row level security;
create index event_attendees_organization_id_idx on public.event_attendees (organization_id);
create index event_attendees_event_id_idx on public.event_attendees (event_id);
create index event_attendees_user_id_idx on public.event_attendees (user_id);
grant select, insert, update, delete on public.event_attendees to authenticated;
create policy "event_attendees: members select" on public.event_attendees for select to authenticated
  using ((select private.is_org_member(organization_id)));
create policy "event_attendees: members insert" on public.event_attendees for insert to authenticated
  with check ((select private.is_org_member(organization_id)));
create policy "event_attendees: members update" on public.event_attendees for update to authenticated
  using ((select private.is_org_member(organization_id)))
  with check ((select private.is_org_member(organization_id)));
create policy "event_attendees: members delete" on public.event_attendees for delete to authenticated
  using ((select private.is_org_member(organization_id)));

-- channels
create table public.channels (
  id bigint generated always as identity primary key,
  organization_id bigint not null references public.organizations (id) on delete cascade,
  name text not null,
  is_private boolean not null default false,
  topic text,
  created_at timestamptz not null default now(),
  unique (organization_id, name)
);
comment on table public.channels is 'Chat channels of an organization.';
alter table public.channels enable row level security;
create index channels_organization_id_idx on public.channels (organization_id);
grant select, insert, update, delete on public.channels to authenticated;
create policy "channels: members select" on public.channels for select to authenticated
  using ((select private.is_org_member(organization_id)));
create policy "channels: members insert" on public.channels for insert to authenticated
  with check ((select private.is_org_member(organization_id)));
create policy "channels: members update" on public.channels for update to authenticated
  using ((select private.is_org_member(organization_id)))
  with check ((select private.is_org_member(organization_id)));
create policy "channels: members delete" on public.channels for delete to authenticated
  using ((select private.is_org_member(organization_id)));

-- messages
create table public.messages (
  id bigint generated always as identity primary key,
  organization_id bigint not null references public.organizations (id) on delete cascade,
  channel_id bigint not null references public.channels (id) on delete cascade,
  sender_id uuid not null default auth.uid() references auth.users (id),
  body text not null,
  reply_to_id bigint references public.messages (id) on delete set null,
  created_at timestamptz not null default now(),
  edited_at timestamptz
);
comment on table public.messages is 'Chat messages in a channel.';
alter table public.messages enable row level security;
create index messages_organization_id_idx on public.messages (organization_id);
create index messages_channel_id_idx on public.messages (channel_id);
create index messages_sender_id_idx on public.messages (sender_id);
create index messages_reply_to_id_idx on public.messages (reply_to_id);
create index messages_channel_created_idx on public.messages (channel_id, created_at desc);
grant select, insert, update, delete on public.messages to authenticated;
create policy "messages: members select" on public.messages for select to authenticated
  using ((select private.is_org_member(organization_id)));
create policy "messages: members insert" on public.messages for insert to authenticated
  with check ((select private.is_org_member(organization_id)));
create policy "messages: members update" on public.messages for update to authenticated
  using ((select private.is_org_member(organization_id)))
  with check ((select private.is_org_member(organization_id)));
create policy "messages: members delete" on public.messages for delete to authenticated
  using ((select private.is_org_member(organization_id)));

