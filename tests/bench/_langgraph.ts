/**
 * The peer: LangGraph.js executing the same six-node DAG as our six-task run, with its Postgres
 * checkpointer on the same PostgreSQL server (in a database of its own, dropped afterwards). Each
 * node is an instant fake model call returning the very answer our scripted LLM gives that task,
 * so the checkpoints carry the same payloads. Joins wait for all their inputs (`addEdge([…], n)`),
 * as our dependencies do. Per-step overhead = invocation wall time (minus the fake model's time,
 * ~0) / 6, over `invocations` fresh threads after a warm-up, in LangGraph's default durability
 * (`async`: a step's checkpoint is written while the next step runs) and in `sync` (written
 * before the next step starts, as every step of ours is committed before the next is queued).
 *
 * Installed only for the benchmark: the `@langchain/*` entries in deno.json are imported by this
 * module alone, and it is loaded only when the benchmark reaches this phase.
 *
 * @example
 * ```ts
 * const result = await langGraphPerStep(adminUrl, 30);
 * ```
 */
import type { RunnableConfig } from "@langchain/core/runnables";
import { connect } from "../../shared/db/mod.ts";
import { withDatabase } from "../_support/db.ts";
import { benchAnswer, SIX_NODE_DAG } from "../fixtures/bench/mod.ts";
import { summarize, type Summary } from "./_stats.ts";

/** What LangGraph.js measured in one durability mode. */
export interface LangGraphMode {
  /** `async` (the default: a step's checkpoint is written while the next step runs) or `sync`. */
  durability: "async" | "sync";
  /** Wall time of one `invoke` (ms). */
  invoke: Summary;
  /** (Median invoke wall time − fake model time) / 6 nodes. */
  perStepMs: number;
  /** Time inside the fake model per invocation (ms). */
  modelMs: number;
}

/** What the LangGraph.js run measured. */
export interface LangGraphResult {
  version: string;
  invocations: number;
  modes: LangGraphMode[];
  /** Checkpoint rows written per invocation. */
  checkpointsPerInvoke: number;
}

/** Runs the six-node DAG `invocations` times on a Postgres checkpointer on `adminUrl`'s server. */
export async function langGraphPerStep(
  adminUrl: string,
  invocations: number,
): Promise<LangGraphResult> {
  const { Annotation, END, START, StateGraph } = await import("@langchain/langgraph");
  const { PostgresSaver } = await import("@langchain/langgraph-checkpoint-postgres");
  const name = `bench_langgraph_${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`;
  const admin = connect(adminUrl, { max: 1, applicationName: "bench langgraph" });
  await admin.unsafe(`create database ${name}`);
  const url = withDatabase(adminUrl, name);
  const checkpointer = PostgresSaver.fromConnString(url);
  try {
    await checkpointer.setup();
    const State = Annotation.Root({
      request: Annotation<string>,
      outputs: Annotation<Record<string, unknown>>({
        reducer: (a, b) => ({ ...a, ...b }),
        default: () => ({}),
      }),
    });
    let modelMs = 0;
    // The instant fake model: the answer our scripted LLM gives the same task.
    const fakeModel = (agent: (typeof SIX_NODE_DAG)[number]["agent"], key: string) => {
      const started = performance.now();
      const answer = benchAnswer(agent, key, "docs");
      modelMs += performance.now() - started;
      return Promise.resolve(answer);
    };
    // deno-lint-ignore no-explicit-any
    let builder: any = new StateGraph(State);
    for (const t of SIX_NODE_DAG) {
      builder = builder.addNode(t.key, async () => ({
        outputs: { [t.key]: await fakeModel(t.agent, t.key) },
      }));
    }
    for (const t of SIX_NODE_DAG) {
      if (t.depends_on.length === 0) builder = builder.addEdge(START, t.key);
      else {builder = builder.addEdge(
          t.depends_on.length === 1 ? t.depends_on[0] : t.depends_on,
          t.key,
        );}
    }
    const sinks = SIX_NODE_DAG.filter((t) =>
      !SIX_NODE_DAG.some((u) => u.depends_on.includes(t.key))
    );
    for (const t of sinks) builder = builder.addEdge(t.key, END);
    const graph = builder.compile({ checkpointer });

    const invoke = async (durability: LangGraphMode["durability"]) => {
      const config: RunnableConfig & { durability: string } = {
        configurable: { thread_id: crypto.randomUUID() },
        durability,
      };
      const started = performance.now();
      const state = await graph.invoke({ request: "six-node DAG" }, config);
      const ms = performance.now() - started;
      if (Object.keys(state.outputs).length !== SIX_NODE_DAG.length) {
        throw new Error(`LangGraph ran ${Object.keys(state.outputs).join(",")}, not six nodes`);
      }
      return ms;
    };
    const modes: LangGraphMode[] = [];
    for (const durability of ["async", "sync"] as const) {
      for (let i = 0; i < 5; i++) await invoke(durability);
      modelMs = 0;
      const samples: number[] = [];
      for (let i = 0; i < invocations; i++) samples.push(await invoke(durability));
      const invokeSummary = summarize(samples);
      const modelPerInvoke = modelMs / invocations;
      modes.push({
        durability,
        invoke: invokeSummary,
        perStepMs: Math.round(((invokeSummary.p50 - modelPerInvoke) / SIX_NODE_DAG.length) * 100) /
          100,
        modelMs: Math.round(modelPerInvoke * 1000) / 1000,
      });
    }
    const sql = connect(url, { max: 1 });
    const [{ n }] = await sql<{ n: number }[]>`select count(*)::int as n from checkpoints`;
    await sql.end();
    return {
      version: "1.7.3",
      invocations,
      modes,
      checkpointsPerInvoke: Math.round((n / (2 * (invocations + 5))) * 10) / 10,
    };
  } finally {
    await checkpointer.end();
    await dropWhenClosed(admin, name);
    await admin.end();
  }
}

// node-postgres closes its sockets after `end()` resolves; forcing the drop at once would kill
// them and surface as an uncaught error, so wait for them to go (force only as a last resort).
async function dropWhenClosed(admin: ReturnType<typeof connect>, name: string): Promise<void> {
  for (let attempt = 0; attempt < 20; attempt++) {
    try {
      await admin.unsafe(`drop database if exists ${name}`);
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  await admin.unsafe(`drop database if exists ${name} with (force)`);
}
