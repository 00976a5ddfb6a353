import assert from "node:assert/strict";
import { asNode } from "../pg_ast/mod.ts";
import { parseScript } from "./parse.ts";
import { formatTypeName } from "./type_name.ts";

async function columnTypes(ddl: string): Promise<string[]> {
  const { statements } = await parseScript(ddl);
  const create = asNode(statements[0].node, "CreateStmt")!;
  return (create.tableElts ?? []).map((e) => formatTypeName(asNode(e, "ColumnDef")?.typeName));
}

Deno.test("column types read the way migrations write them", async () => {
  const types = await columnTypes(`create table t (
    a bigint, b int, c smallint, d boolean, e timestamptz, f timestamp with time zone,
    g timestamp, h numeric(10,2), i varchar(20), j text[], k public.task_status,
    l extensions.citext, m double precision, n char(3), o interval, p uuid, q jsonb
  )`);
  assert.deepEqual(types, [
    "bigint",
    "integer",
    "smallint",
    "boolean",
    "timestamptz",
    "timestamptz",
    "timestamp",
    "numeric(10,2)",
    "varchar(20)",
    "text[]",
    "task_status",
    "extensions.citext",
    "double precision",
    "char(3)",
    "interval",
    "uuid",
    "jsonb",
  ]);
});
