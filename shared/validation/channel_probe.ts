/**
 * Private Realtime channels, joined for real: the websocket agent's channels are joined on a
 * shadow Realtime server (connected to the validation's own shadow database, migrations applied)
 * as the owner (must join and receive), another user and anon (must be refused and receive
 * nothing). The joining itself is a port, {@link ChannelProbe}: shared/ must not depend on the
 * local stack, so the local stack and the tests provide the implementation (the real
 * `@supabase/realtime-js` client against `supabase/local/realtime`), and where none is given an
 * info finding says the channels were not joined.
 *
 * @example
 * ```ts
 * const findings = await probeChannels(session, [{ topic: "notes:{uid}", event: "changed" }], probe);
 * ```
 */
import { z } from "zod";
import { type Finding, finding } from "./finding.ts";
import type { ShadowSession } from "../shadow/mod.ts";

/** A private channel to join: `{uid}` in the topic stands for the owner's user id. */
export const ChannelCase = z.object({
  topic: z.string().min(1).max(255),
  /** The broadcast event sent on it (default `probe`). */
  event: z.string().min(1).max(100).default("probe"),
  /** Optional SQL, run as the owner user, whose trigger should broadcast on the topic. */
  write: z.string().max(8 * 1024).optional(),
});
export type ChannelCase = z.input<typeof ChannelCase>;

/** Who joins: a signed-in user (their id) or anon. */
export type Joiner = { kind: "user"; id: string; email: string } | { kind: "anon" };

/** What one joiner saw. */
export interface JoinOutcome {
  joined: boolean;
  received: boolean;
  /** The server's refusal or the client's error, when any. */
  error?: string;
}

/** The port: joins a topic privately as each joiner and sends one message on it. */
export interface ChannelProbe {
  join(input: {
    /** The shadow database's URL as its own login role (for the shadow Realtime server). */
    databaseUrl: string;
    topic: string;
    event: string;
    /** SQL that should broadcast (run committed, as the owner), else the probe sends itself. */
    write?: string;
    owner: Joiner & { kind: "user" };
    others: { label: string; joiner: Joiner }[];
    timeoutMs: number;
  }): Promise<{ owner: JoinOutcome; others: Record<string, JoinOutcome> }>;
}

/**
 * Joins each channel as owner, another user and anon; findings for what leaked or was refused.
 * Users are created committed in the shadow (a disposable database).
 */
export async function probeChannels(
  session: ShadowSession,
  channels: readonly ChannelCase[],
  probe: ChannelProbe | undefined,
  options: { timeoutMs?: number } = {},
): Promise<Finding[]> {
  if (channels.length === 0) return [];
  if (!probe || !session.connectionUrl) {
    return [finding(
      "realtime_probe_not_run",
      `${channels.length} private channel(s) were not joined: ${
        probe ? "this shadow has no server a Realtime server can connect to (PGlite)" : "no " +
          "shadow Realtime is available here"
      }; their policies were only linted`,
      {},
    )];
  }
  const users = ["owner", "other"].map((label) => {
    const id = crypto.randomUUID();
    return { kind: "user" as const, id, email: `realtime-${label}-${id.slice(0, 8)}@example.com` };
  });
  for (const u of users) {
    await session.query(
      "insert into auth.users (id, email, aud, role) values ($1, $2, 'authenticated', 'authenticated')",
      [u.id, u.email],
    );
  }
  const databaseUrl = await session.connectionUrl(8);
  const out: Finding[] = [];
  for (const raw of channels) {
    const c = ChannelCase.parse(raw);
    const topic = c.topic.replaceAll("{uid}", users[0].id);
    const where = { file: `channel ${c.topic}`, line: null, object: c.topic };
    let result;
    try {
      result = await probe.join({
        databaseUrl,
        topic,
        event: c.event,
        write: c.write,
        owner: users[0],
        others: [{ label: "another user", joiner: users[1] }, {
          label: "anon",
          joiner: { kind: "anon" },
        }],
        timeoutMs: options.timeoutMs ?? 5_000,
      });
    } catch (e) {
      out.push(finding(
        "realtime_probe_not_run",
        `channel ${c.topic} was not joined: ${(e as Error).message}`,
        where,
      ));
      continue;
    }
    if (!result.owner.joined || !result.owner.received) {
      out.push(finding(
        "realtime_owner_access",
        `the owner ${result.owner.joined ? "joined but did not receive on" : "could not join"} ` +
          `private channel ${c.topic}${result.owner.error ? `: ${result.owner.error}` : ""}`,
        where,
      ));
    }
    for (const [label, seen] of Object.entries(result.others)) {
      if (seen.joined || seen.received) {
        out.push(finding(
          "realtime_isolation_leak",
          `${label} ${seen.received ? "received a message sent on" : "joined"} the owner's ` +
            `private channel ${c.topic} (the realtime.messages policies do not tie the topic ` +
            "to the caller)",
          where,
        ));
      }
    }
  }
  return out;
}
