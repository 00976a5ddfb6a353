import assert from "node:assert/strict";
import {
  checkContracts,
  type ContractRef,
  indexSchema,
  restTarget,
  schemaProperties,
  selectColumns,
} from "./contracts.ts";
import { Finding } from "./finding.ts";

const SCHEMA = [
  "table:public.positions",
  "column:public.positions.id",
  "column:public.positions.user_id",
  "column:public.positions.symbol",
  "column:public.positions.opened_at",
  "table:public.trades",
  "column:public.trades.id",
  "column:public.trades.position_id",
  "column:public.trades.quantity",
  "column:public.trades.price",
  "view:public.open_positions",
  "column:public.open_positions.id",
  "function:public.close_position(bigint)",
  "table:auth.users",
  "column:auth.users.id",
];

const CONTRACT: ContractRef = {
  name: "positions_api",
  producer: "T1",
  producerAgent: "db-architect",
  description: "positions(id, symbol, opened_at) and trades(position_id, quantity, price)",
};

const endpoint = (path: string, extra: Record<string, unknown> = {}) => ({
  method: "GET",
  path,
  kind: "postgrest",
  request: null,
  response: "{}",
  ...extra,
});

Deno.test("endpoints that name only what the schema has break no contract", () => {
  const findings = checkContracts({
    contracts: [CONTRACT],
    schema: SCHEMA,
    endpoints: [
      endpoint(
        "/rest/v1/positions?select=id,symbol,sym:symbol,opened_at::text,trades(quantity,price)&order=opened_at.desc&symbol=eq.BTC",
      ),
      endpoint("/rest/v1/trades", {
        method: "POST",
        request: JSON.stringify({
          type: "object",
          properties: { position_id: { type: "integer" }, quantity: {}, price: {} },
        }),
        response: JSON.stringify({
          type: "array",
          items: { type: "object", properties: { id: {}, positions: { type: "object" } } },
        }),
      }),
      endpoint("/rest/v1/open_positions?select=*"),
      endpoint("/rest/v1/rpc/close_position", { method: "POST", kind: "rpc" }),
      endpoint("/functions/v1/export", { kind: "edge_function" }),
      endpoint("/rest/v1/positions?select=count()"),
    ],
  });
  assert.deepEqual(findings, []);
});

Deno.test("a column the schema lacks is a contract_violation naming the contract, producer and column", () => {
  const [f, ...rest] = checkContracts({
    contracts: [CONTRACT],
    schema: SCHEMA,
    endpoints: [endpoint("/rest/v1/positions?select=id,symbol,size")],
  });
  assert.equal(rest.length, 0);
  assert.equal(f.rule, "contract_violation");
  assert.equal(f.level, "error");
  assert.equal(f.object, "public.positions.size");
  assert.match(
    f.message,
    /GET \/rest\/v1\/positions\?select=id,symbol,size names the column public\.positions\.size/,
  );
  assert.match(f.message, /contract "positions_api" with T1 \(db-architect\)/);
  assert.match(f.message, /public\.positions\(id, user_id, symbol, opened_at\)/);
  Finding.parse(f); // a validator finding like any other
});

Deno.test("tables, embedded resources, filters, bodies and RPC functions are all checked", () => {
  const findings = checkContracts({
    contracts: [CONTRACT],
    schema: SCHEMA,
    endpoints: [
      endpoint("/rest/v1/portfolios"),
      endpoint("/rest/v1/positions?select=id,fills(qty)"),
      endpoint("/rest/v1/positions?select=id,trades(qty)&closed_at=is.null&order=pnl.desc"),
      endpoint("/rest/v1/trades", {
        method: "POST",
        request: JSON.stringify({ type: "object", properties: { fee: { type: "number" } } }),
      }),
      endpoint("/rest/v1/rpc/reopen_position", { method: "POST", kind: "rpc" }),
    ],
  });
  assert.deepEqual(findings.map((f) => f.object), [
    "public.portfolios",
    "public.fills",
    "public.trades.qty",
    "public.positions.closed_at",
    "public.positions.pnl",
    "public.trades.fee",
    "public.reopen_position",
  ]);
});

Deno.test("a violation is charged to the contract that names its table", () => {
  const tags: ContractRef = {
    name: "tags_api",
    producer: "T2",
    description: "tags(id, name)",
  };
  const [f] = checkContracts({
    contracts: [CONTRACT, tags],
    schema: [...SCHEMA, "table:public.tags", "column:public.tags.id"],
    endpoints: [endpoint("/rest/v1/tags?select=id,name")],
  });
  assert.match(f.message, /contract "tags_api" with T2 provides public\.tags\(id\)/);
});

Deno.test("no contracts, nothing to check; hostile text is not trusted", () => {
  assert.deepEqual(
    checkContracts({ contracts: [], schema: [], endpoints: [endpoint("/rest/v1/x")] }),
    [],
  );
  assert.equal(restTarget("/rest/v1/x;drop table y"), null);
  assert.equal(restTarget("/rest/v1/../../etc"), null);
  assert.equal(restTarget("/rest/v1/t?select=" + "a,".repeat(10_000)), null);
  const nested = "a(".repeat(3000) + "x" + ")".repeat(3000);
  const t0 = performance.now();
  assert.ok(selectColumns(nested).length <= 1);
  // Embedded resources past four levels are not followed (their columns are not checked).
  assert.deepEqual(selectColumns("a(b(c(d(e(f(g))))))"), []);
  assert.deepEqual(selectColumns("id,a(x,b(y))"), [[null, ["id"]], ["a", ["x"]], ["b", ["y"]]]);
  assert.ok(performance.now() - t0 < 1000, "deep nesting is cut off, not followed");
  assert.deepEqual(schemaProperties("not json"), []);
  assert.deepEqual(schemaProperties(JSON.stringify({ properties: { "a b": {}, ok: {} } })), [
    ["ok", false],
  ]);
  assert.deepEqual(selectColumns("id,,*, a:b ,c->>d"), [[null, ["id", "b", "c"]]]);
  assert.deepEqual(indexSchema(["column:public.t.c", "function:public.f(integer)"]), {
    tables: new Map([["public.t", new Set(["c"])]]),
    functions: new Set(["public.f"]),
  });
});
