/**
 * The {@link ChannelProbe} the local stack and the tests give the validator: for each probe it
 * starts a shadow Realtime server (this folder's server) on the validation's own shadow database,
 * served on a loopback port with a JWT secret made for this probe alone, and joins the private
 * topic with the real `@supabase/realtime-js` client as the owner, another user and anon. Then one
 * message is committed on the topic — by the delivered `write` run as the owner (the trigger that
 * claims to broadcast must fire), else by `realtime.send` — and each joiner reports whether it
 * joined and whether the message reached it. Everything it starts is stopped before it returns.
 *
 * @example
 * ```ts
 * const report = await validateMigrations({ shadow, files, channels, channelProbe: localChannelProbe() });
 * ```
 */
import { RealtimeClient } from "@supabase/realtime-js";
import { apiKeys, mintUserToken } from "../../../shared/auth/mod.ts";
import { connect } from "../../../shared/db/mod.ts";
import type { ChannelProbe, Joiner, JoinOutcome } from "../../../shared/validation/mod.ts";
import { createRealtimeServer } from "./server.ts";

type JoinInput = Parameters<ChannelProbe["join"]>[0];

interface Watcher {
  client: RealtimeClient;
  outcome: JoinOutcome;
  settled: Promise<void>;
}

const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));

function randomSecret(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Joins `topic` privately as `joiner`; `settled` resolves once the join is answered or times out. */
async function watch(
  endpoint: string,
  keys: { anon: string },
  secret: string,
  joiner: Joiner,
  input: JoinInput,
  nonce: string,
): Promise<Watcher> {
  const token = joiner.kind === "user"
    ? await mintUserToken(secret, { sub: joiner.id, email: joiner.email })
    : keys.anon;
  const client = new RealtimeClient(endpoint, {
    params: { apikey: keys.anon },
    accessToken: () => Promise.resolve(token),
    logger: () => {},
  });
  await client.setAuth();
  const outcome: JoinOutcome = { joined: false, received: false };
  let answered!: () => void;
  const settled = new Promise<void>((r) => answered = r);
  client.channel(input.topic, { config: { private: true } })
    .on("broadcast", { event: input.event }, (m: { payload?: Record<string, unknown> }) => {
      // A delivered trigger chooses its own payload, so any message on the event counts then.
      if (input.write !== undefined || m.payload?.probe === nonce) outcome.received = true;
    })
    .subscribe((status: string, err?: Error) => {
      if (status === "SUBSCRIBED") outcome.joined = true;
      else if (err) outcome.error = err.message;
      else if (status !== "CLOSED") outcome.error = status;
      answered();
    });
  return { client, outcome, settled };
}

/** Runs the delivered write committed as the owner, with the claims PostgREST would set. */
async function commitWrite(databaseUrl: string, input: JoinInput, nonce: string): Promise<void> {
  const sql = connect(databaseUrl, { max: 1, applicationName: "shadow realtime probe" });
  try {
    if (input.write === undefined) {
      await sql`select realtime.send(${
        sql.json({ probe: nonce })
      }, ${input.event}, ${input.topic}, true)`;
      return;
    }
    const claims = {
      sub: input.owner.id,
      email: input.owner.email,
      role: "authenticated",
      aud: "authenticated",
    };
    await sql.begin(async (tx) => {
      await tx`select set_config('role', 'authenticated', true),
                      set_config('request.jwt.claims', ${JSON.stringify(claims)}, true),
                      set_config('request.jwt.claim.sub', ${input.owner.id}, true),
                      set_config('statement_timeout', ${String(input.timeoutMs)}, true)`;
      await tx.unsafe(input.write!);
    });
  } finally {
    await sql.end({ timeout: 1 });
  }
}

/**
 * A probe that runs a Realtime server of this folder per join, on the shadow database it is given.
 * `settleMs` is how long joiners listen after the write commits (default 500 ms).
 */
export function localChannelProbe(options: { settleMs?: number } = {}): ChannelProbe {
  return {
    async join(input) {
      const secret = randomSecret();
      const keys = await apiKeys(secret);
      const realtime = await createRealtimeServer({
        databaseUrl: input.databaseUrl,
        jwtSecret: secret,
        log: () => {},
        idleTimeoutMs: Math.max(5_000, input.timeoutMs * 2),
      });
      const abort = new AbortController();
      const server = Deno.serve(
        { port: 0, hostname: "127.0.0.1", signal: abort.signal, onListen() {} },
        (req) => realtime.fetch(req),
      );
      const endpoint = `ws://127.0.0.1:${server.addr.port}/realtime/v1`;
      const nonce = crypto.randomUUID();
      const watchers: Watcher[] = [];
      try {
        const joiners = [input.owner, ...input.others.map((o) => o.joiner)];
        for (const j of joiners) {
          watchers.push(await watch(endpoint, keys, secret, j, input, nonce));
        }
        const timeout = delay(input.timeoutMs);
        await Promise.race([Promise.all(watchers.map((w) => w.settled)), timeout]);
        for (const w of watchers) {
          if (!w.outcome.joined && !w.outcome.error) w.outcome.error = "no answer to the join";
        }
        await commitWrite(input.databaseUrl, input, nonce);
        // Everyone gets the same time to receive: a leak arrives as fast as the owner's copy.
        await delay(options.settleMs ?? 500);
        return {
          owner: watchers[0].outcome,
          others: Object.fromEntries(
            input.others.map((o, i) => [o.label, watchers[i + 1].outcome]),
          ),
        };
      } finally {
        for (const w of watchers) {
          await w.client.removeAllChannels().catch(() => {});
          w.client.disconnect();
        }
        await realtime.close();
        abort.abort();
        await server.finished;
      }
    },
  };
}
