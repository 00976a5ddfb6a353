/**
 * The help text of `bt`, printed by `bt help` and after every usage error. Kept beside the parser
 * so a new flag and its documentation change together.
 */

/** `bt`'s help text. */
export const USAGE = `usage: deno task bt <command> [flags]

commands:
  submit "<request>"      submit a run
      --follow, -f          follow it live until it ends (Realtime)
      --out, -o DIR         with --follow: write the deliverable there as a Supabase project
      --context-file FILE   your current schema (SQL), so new migrations build on it
      --max-parallel N      most tasks at the same time (1-16)
      --budget N            most LLM tokens the run may use (1000-2000000)
  status <id>             a run and its tasks (--json for the raw answer)
      --follow, -f / --out, -o DIR   as for submit
  answer <id>             answer a run's questions, then it continues
      --answer, -a KEY=VALUE   one per question (repeat the flag); without it, asks on a terminal
      --follow, -f / --out, -o DIR   as for submit
  cancel <id>             cancel a run
  list                    your runs, newest first (--limit N)
  deliverable <id> --out DIR [--format json|markdown|tar]
                          json (default): the Supabase project folder (migrations, functions,
                          tests, docs); markdown: DIR/deliverable.md; tar: DIR/<id>.tar.gz
  validate <files...>     check migrations on a shadow database, in the order given: x.sql with
                          its rollback x.down.sql, and edge functions (.ts) to type-check
      --json                the report as JSON
      --shadow pglite|postgres   which shadow database (default pglite)
  login --user <email>    local stack: create the user and print an access token to export

who you are (every command that calls the API):
  BT_ACCESS_TOKEN          a user's access token (Supabase Auth), or --token TOKEN
  --user <email|uuid>      local stack only: mint a token signed with JWT_SECRET (default: the
                           local secret) and create the user in the local auth.users
                           (DATABASE_URL, default the local cluster on 127.0.0.1:54322)

where the API is:
  SUPABASE_URL             default http://127.0.0.1:54321
  SUPABASE_ANON_KEY        default the local stack's anon key (from JWT_SECRET or the local secret)

exit status: 0 ok, 1 run failed or error, 2 usage error, 3 the run waits for answers`;
