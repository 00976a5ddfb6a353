/**
 * Realistic outputs of each of the nine agents, for the project-management schema in
 * `forty_tables.sql`. Tests use them to check the contracts accept real answers, that artifacts map
 * to the right rows, and that context packages keep what concerns a task and drop the rest (some
 * samples deliberately concern unrelated tables such as `invoices`).
 */
import type { AgentOutputs } from "../outputs.ts";

const cors = `export const corsHeaders = {
  "Access-Control-Allow-Origin": "*",
  "Access-Control-Allow-Headers": "authorization, x-client-info, apikey, content-type",
  "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
};
`;

/** One sample per agent. */
export const SAMPLES: AgentOutputs = {
  "db-architect": {
    summary:
      "Added task watchers so users can follow tasks. Invoices now carry a reminder date. Both tables keep RLS with per-operation policies.",
    artifacts: {
      migrations: [
        {
          name: "create_task_watchers",
          description: "Users who follow a task and get notified about its changes.",
          up_sql: `-- task_watchers: who follows which task
create table public.task_watchers (
  id bigint generated always as identity primary key,
  organization_id bigint not null references public.organizations (id) on delete cascade,
  task_id bigint not null references public.tasks (id) on delete cascade,
  user_id uuid not null default auth.uid() references auth.users (id) on delete cascade,
  created_at timestamptz not null default now(),
  unique (task_id, user_id)
);
comment on table public.task_watchers is 'Users who follow a task.';
create index task_watchers_organization_id_idx on public.task_watchers (organization_id);
create index task_watchers_user_id_idx on public.task_watchers (user_id);
alter table public.task_watchers enable row level security;
create policy "watchers: members select" on public.task_watchers for select to authenticated
  using ((select private.is_org_member(organization_id)));
create policy "watchers: self insert" on public.task_watchers for insert to authenticated
  with check ((select auth.uid()) = user_id and (select private.is_org_member(organization_id)));
create policy "watchers: self delete" on public.task_watchers for delete to authenticated
  using ((select auth.uid()) = user_id);
`,
          down_sql: "drop table public.task_watchers;",
          policies: [
            {
              name: "watchers: members select",
              table: "public.task_watchers",
              command: "select",
              roles: ["authenticated"],
              using: "(select private.is_org_member(organization_id))",
              with_check: null,
            },
            {
              name: "watchers: self insert",
              table: "public.task_watchers",
              command: "insert",
              roles: ["authenticated"],
              using: null,
              with_check:
                "(select auth.uid()) = user_id and (select private.is_org_member(organization_id))",
            },
            {
              name: "watchers: self delete",
              table: "public.task_watchers",
              command: "delete",
              roles: ["authenticated"],
              using: "(select auth.uid()) = user_id",
              with_check: null,
            },
          ],
        },
        {
          name: "add_invoice_reminders",
          description: "Invoices get a reminder date for dunning emails.",
          up_sql: `alter table public.invoices add column remind_on date;
comment on column public.invoices.remind_on is 'When to send a payment reminder.';
create index invoices_remind_on_idx on public.invoices (remind_on) where paid_at is null;`,
          down_sql: `drop index public.invoices_remind_on_idx;
alter table public.invoices drop column remind_on;`,
          policies: [],
        },
      ],
    },
    notes: [
      "The query optimizer should check the task watcher lookups by user.",
      "Invoices reminders need a cron job.",
    ],
    assumptions: ["Watching a task requires membership of its organization."],
  },
  "query-optimizer": {
    summary: "Indexed the board query on tasks and the overdue invoices query.",
    artifacts: {
      migrations: [{
        name: "add_board_indexes",
        description: "Indexes for the task board and for overdue invoices.",
        up_sql:
          `create index if not exists tasks_sprint_status_idx on public.tasks (sprint_id, status) include (title, priority);
create index if not exists invoices_overdue_idx on public.invoices (organization_id, due_on) where paid_at is null;`,
        down_sql: `drop index if exists public.tasks_sprint_status_idx;
drop index if exists public.invoices_overdue_idx;`,
        policies: [],
      }],
      indexes: [
        {
          name: "tasks_sprint_status_idx",
          table: "public.tasks",
          statement:
            "create index if not exists tasks_sprint_status_idx on public.tasks (sprint_id, status) include (title, priority)",
          serves_query:
            "select id, title, priority, status from public.tasks where sprint_id = $1 and status = any($2)",
          expected_plan: "Index Only Scan using tasks_sprint_status_idx on tasks",
        },
        {
          name: "invoices_overdue_idx",
          table: "public.invoices",
          statement:
            "create index if not exists invoices_overdue_idx on public.invoices (organization_id, due_on) where paid_at is null",
          serves_query:
            "select id, number, due_on from public.invoices where organization_id = $1 and paid_at is null and due_on < current_date",
          expected_plan: "Index Scan using invoices_overdue_idx on invoices",
        },
      ],
      queries: [{
        name: "sprint_board",
        description: "Tasks of a sprint grouped by status, keyset-paginated.",
        sql:
          "select id, title, priority, status from public.tasks where sprint_id = $1 and status = any($2) order by priority, id limit 100",
        uses_indexes: ["tasks_sprint_status_idx"],
      }],
    },
    notes: ["Invoice lists should paginate by (due_on, id)."],
    assumptions: ["Sprints hold at most a few hundred tasks."],
  },
  "edge-functions": {
    summary: "A function that exports a project's tasks as CSV for members.",
    artifacts: {
      functions: [
        {
          function_name: "export-tasks",
          description: "GET /functions/v1/export-tasks?project_id=… returns the tasks as CSV.",
          verify_jwt: true,
          env_vars: ["SUPABASE_URL", "SUPABASE_ANON_KEY"],
          files: [{
            path: "index.ts",
            content: `import { createClient } from "npm:@supabase/supabase-js@2.119.1";
import { corsHeaders } from "../_shared/cors.ts";

Deno.serve(async (req) => {
  if (req.method === "OPTIONS") return new Response(null, { status: 204, headers: corsHeaders });
  const projectId = Number(new URL(req.url).searchParams.get("project_id"));
  if (!Number.isInteger(projectId)) {
    return Response.json({ error: { code: "invalid_input", message: "project_id" } }, {
      status: 400,
      headers: corsHeaders,
    });
  }
  const supabase = createClient(Deno.env.get("SUPABASE_URL")!, Deno.env.get("SUPABASE_ANON_KEY")!, {
    global: { headers: { Authorization: req.headers.get("Authorization") ?? "" } },
  });
  const { data, error } = await supabase.from("tasks").select("number, title, status")
    .eq("project_id", projectId).order("number");
  if (error) return Response.json({ error: { code: "query_failed", message: error.message } }, { status: 500, headers: corsHeaders });
  const csv = ["number,title,status", ...data.map((t) => [t.number, JSON.stringify(t.title), t.status].join(","))].join("\\n");
  return new Response(csv, { headers: { ...corsHeaders, "content-type": "text/csv" } });
});
`,
          }],
        },
        {
          function_name: "_shared",
          description: "CORS headers shared by all functions.",
          verify_jwt: true,
          env_vars: [],
          files: [{ path: "cors.ts", content: cors }],
        },
      ],
      env_vars: [
        {
          name: "SUPABASE_URL",
          description: "Project URL (provided).",
          secret: false,
          example: "https://abc.supabase.co",
        },
        {
          name: "SUPABASE_ANON_KEY",
          description: "Anon key (provided).",
          secret: false,
          example: null,
        },
      ],
    },
    notes: ["RLS limits the export to members of the project's organization."],
    assumptions: ["Exports stay under a few thousand rows."],
  },
  websocket: {
    summary: "Live task updates on private project channels.",
    artifacts: {
      migrations: [{
        name: "broadcast_task_changes",
        description: "Broadcasts task changes to project:<id> and authorizes members to listen.",
        up_sql: `create or replace function private.broadcast_task_change()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  perform realtime.send(
    jsonb_build_object('id', coalesce(new.id, old.id), 'status', coalesce(new.status, old.status)),
    'task_changed',
    'project:' || coalesce(new.project_id, old.project_id)::text,
    true
  );
  return null;
end;
$$;
create trigger tasks_broadcast after insert or update or delete on public.tasks
  for each row execute function private.broadcast_task_change();
create policy "members receive project topics" on realtime.messages for select to authenticated
  using (
    realtime.messages.extension = 'broadcast'
    and exists (
      select 1 from public.projects p
      where p.id = split_part((select realtime.topic()), ':', 2)::bigint
        and (select private.is_org_member(p.organization_id))
    )
  );`,
        down_sql: `drop policy "members receive project topics" on realtime.messages;
drop trigger tasks_broadcast on public.tasks;
drop function private.broadcast_task_change();`,
        policies: [{
          name: "members receive project topics",
          table: "realtime.messages",
          command: "select",
          roles: ["authenticated"],
          using: "realtime.messages.extension = 'broadcast' and exists (...)",
          with_check: null,
        }],
      }],
      channels: [{
        topic: "project:<project_id>",
        private: true,
        events: [{
          name: "task_changed",
          kind: "broadcast",
          direction: "server_to_client",
          payload:
            '{"type":"object","properties":{"id":{"type":"integer"},"status":{"type":"string"}},"required":["id","status"]}',
        }],
        authorization: "Members of the project's organization may receive; nobody may send.",
      }],
      files: [{
        path: "docs/realtime/subscribe.ts",
        description: "Joining a project channel from the browser.",
        content: `await supabase.realtime.setAuth();
supabase.channel("project:42", { config: { private: true } })
  .on("broadcast", { event: "task_changed" }, ({ payload }) => refresh(payload.id))
  .subscribe();
`,
      }],
    },
    notes: ["Clients should re-fetch tasks after SUBSCRIBED."],
    assumptions: [],
  },
  "api-data": {
    summary: "REST contract for tasks and an RPC to complete a task.",
    artifacts: {
      endpoints: [
        {
          method: "GET",
          path: "/rest/v1/tasks",
          kind: "postgrest",
          description: "Tasks of a project, newest first, keyset-paginated.",
          auth: "authenticated; RLS returns only tasks of the caller's organizations",
          request:
            '{"type":"object","properties":{"project_id":{"type":"string","description":"eq.<id>"}}}',
          response:
            '{"type":"array","items":{"type":"object","properties":{"id":{"type":"integer"},"title":{"type":"string"}}}}',
          errors: [{ status: 401, code: "PGRST301", when: "missing or expired token" }],
        },
        {
          method: "POST",
          path: "/rest/v1/rpc/mark_invoice_paid",
          kind: "rpc",
          description: "Marks an invoice paid.",
          auth: "organization admins",
          request: '{"type":"object","properties":{"invoice_id":{"type":"integer"}}}',
          response: '{"type":"null"}',
          errors: [{ status: 403, code: "42501", when: "caller is not an admin" }],
        },
      ],
      migrations: [{
        name: "create_complete_task_rpc",
        description: "RPC that completes a task.",
        up_sql: `create or replace function public.complete_task(p_task_id bigint)
returns void
language sql
set search_path = ''
as $$
  update public.tasks set status = 'done', completed_at = now() where id = p_task_id;
$$;
revoke execute on function public.complete_task(bigint) from public, anon;
grant execute on function public.complete_task(bigint) to authenticated;`,
        down_sql: "drop function public.complete_task(bigint);",
        policies: [],
      }],
      files: [{
        path: "supabase/functions/_shared/types.ts",
        description: "Row types.",
        content: "export interface Task { id: number; title: string; status: string }\n",
      }],
    },
    notes: [],
    assumptions: ["Clients are the web app and the CLI."],
  },
  deployment: {
    summary: "Config and CI to deploy migrations and the export function.",
    artifacts: {
      files: [
        {
          path: "supabase/config.toml",
          description: "Function settings.",
          content: "[functions.export-tasks]\nverify_jwt = true\n",
        },
        {
          path: ".github/workflows/deploy.yml",
          description: "Deploy on main.",
          content: `name: deploy
on:
  push:
    branches: [main]
jobs:
  deploy:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - uses: supabase/setup-cli@v1
      - run: supabase link --project-ref "$SUPABASE_PROJECT_ID"
      - run: supabase db push
      - run: supabase functions deploy export-tasks
`,
        },
      ],
      env_vars: [{
        name: "SUPABASE_ACCESS_TOKEN",
        description: "CLI token for CI.",
        secret: true,
        example: null,
      }],
      steps: [
        "supabase link --project-ref <ref>",
        "supabase db push",
        "supabase functions deploy export-tasks",
      ],
    },
    notes: ["Roll back a function by deploying the previous commit."],
    assumptions: ["GitHub Actions."],
  },
  debugger: {
    summary: "Comment edits failed silently because there was no update policy check on authors.",
    artifacts: {
      diagnoses: [{
        problem: "Editing a comment returns 0 rows and no error.",
        cause:
          "The update policy on task_comments lets members update, but the client filtered by author_id of another user.",
        fix: "Restrict updates to the author and return a clear error in the client.",
        sql: "select * from pg_policies where tablename = 'task_comments' and cmd = 'UPDATE';",
        severity: "medium",
      }],
      migrations: [],
      files: [],
    },
    notes: [],
    assumptions: [],
  },
  monitor: {
    summary: "Checks for slow task queries and stuck queues.",
    artifacts: {
      checks: [
        {
          name: "slow_task_queries",
          purpose: "Statements on tasks slower than 200 ms on average.",
          sql:
            "select query, calls, mean_exec_time from extensions.pg_stat_statements where query ilike '%public.tasks%' order by mean_exec_time desc limit 10",
          alert_condition: "mean_exec_time > 200",
          severity: "warning",
          schedule: "*/15 * * * *",
        },
        {
          name: "queue_backlog",
          purpose: "Oldest message age per queue.",
          sql: "select queue_name, oldest_msg_age_sec from pgmq.metrics_all()",
          alert_condition: "oldest_msg_age_sec > 300",
          severity: "critical",
          schedule: "* * * * *",
        },
      ],
      diagnoses: [],
      migrations: [],
    },
    notes: [],
    assumptions: ["pg_stat_statements is enabled (default on Supabase)."],
  },
  security: {
    summary: "Comments can only be edited and deleted by their author.",
    artifacts: {
      migrations: [{
        name: "restrict_comment_edits",
        description: "Only authors update or delete their comments.",
        up_sql: `drop policy "task_comments: members update" on public.task_comments;
create policy "task_comments: author update" on public.task_comments for update to authenticated
  using ((select auth.uid()) = author_id) with check ((select auth.uid()) = author_id);`,
        down_sql: `drop policy "task_comments: author update" on public.task_comments;
create policy "task_comments: members update" on public.task_comments for update to authenticated
  using ((select private.is_org_member(organization_id)))
  with check ((select private.is_org_member(organization_id)));`,
        policies: [{
          name: "task_comments: author update",
          table: "public.task_comments",
          command: "update",
          roles: ["authenticated"],
          using: "(select auth.uid()) = author_id",
          with_check: "(select auth.uid()) = author_id",
        }],
      }],
      findings: [
        {
          severity: "high",
          table: "public.task_comments",
          issue: "Any member could edit anyone's comment.",
          risk: "Impersonation inside an organization.",
          fix: "Author-only update policy.",
          sql: null,
        },
        {
          severity: "medium",
          table: "public.webhooks",
          issue: "Webhook secrets are readable by all admins.",
          risk: "Secret disclosure.",
          fix: "Move secrets to Vault.",
          sql: null,
        },
      ],
    },
    notes: [],
    assumptions: [],
  },
};
