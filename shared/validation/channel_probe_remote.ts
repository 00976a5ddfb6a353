/**
 * The {@link ChannelProbe} port across a process boundary. Agent workers run as edge functions
 * (one process each) and must not import the local stack, yet on the local stack their channels
 * should be joined for real: the stack serves its local probe behind {@link channelProbeHandler}
 * on a loopback port, guarded by the worker secret, and tells the functions where
 * (`BT_CHANNEL_PROBE_URL`); a worker builds {@link remoteChannelProbe} from it. Hosted projects
 * have no such service, so the variable is unset there and the validator says the channels were
 * not joined.
 *
 * @example
 * ```ts
 * const probe = remoteChannelProbe({ url: env.BT_CHANNEL_PROBE_URL, secret: env.BT_WORKER_SECRET });
 * Deno.serve({ port: 0 }, channelProbeHandler(localChannelProbe(), [secret]));
 * ```
 */
import { z } from "zod";
import { isWorkerCaller } from "../dispatch/mod.ts";
import type { ChannelProbe, JoinOutcome } from "./channel_probe.ts";

type JoinInput = Parameters<ChannelProbe["join"]>[0];

const User = z.object({ kind: z.literal("user"), id: z.uuid(), email: z.string().max(320) });
const JoinRequest = z.object({
  databaseUrl: z.string().min(1).max(2048),
  topic: z.string().min(1).max(255),
  event: z.string().min(1).max(100),
  write: z.string().max(8 * 1024).optional(),
  owner: User,
  others: z.array(z.object({
    label: z.string().max(100),
    joiner: z.union([User, z.object({ kind: z.literal("anon") })]),
  })).max(5),
  timeoutMs: z.int().min(100).max(30_000),
}).strict();

const Outcome = z.object({
  joined: z.boolean(),
  received: z.boolean(),
  error: z.string().max(2000).optional(),
});
const JoinAnswer = z.object({ owner: Outcome, others: z.record(z.string(), Outcome) });

/** A probe that asks the service at `url` (see the module doc) to join. */
export function remoteChannelProbe(options: { url: string; secret: string }): ChannelProbe {
  return {
    async join(input: JoinInput) {
      const res = await fetch(options.url, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          authorization: `Bearer ${options.secret}`,
        },
        body: JSON.stringify(input),
        // The joins wait up to `timeoutMs`, then listen briefly after the write.
        signal: AbortSignal.timeout(input.timeoutMs * 3 + 10_000),
      });
      const body = await res.json().catch(() => null);
      if (!res.ok) {
        const message = (body as { error?: { message?: unknown } } | null)?.error?.message;
        throw new Error(
          `the channel probe service answered ${res.status}${
            typeof message === "string" ? `: ${message.slice(0, 300)}` : ""
          }`,
        );
      }
      const parsed = JoinAnswer.safeParse(body);
      if (!parsed.success) throw new Error("the channel probe service gave an unreadable answer");
      return parsed.data as { owner: JoinOutcome; others: Record<string, JoinOutcome> };
    },
  };
}

/**
 * Serves `probe` to callers holding one of `secrets` (`POST` with a join input as JSON). Errors
 * are JSON `{ error: { code, message } }`: 401 without a secret, 400 for a bad body, 502 when the
 * probe itself failed.
 */
export function channelProbeHandler(
  probe: ChannelProbe,
  secrets: readonly string[],
): (req: Request) => Promise<Response> {
  const fail = (status: number, code: string, message: string) =>
    Response.json({ error: { code, message } }, { status });
  return async (req) => {
    if (!isWorkerCaller(req, secrets)) {
      return fail(401, "unauthorized", "a worker secret is required");
    }
    if (req.method !== "POST") return fail(405, "method_not_allowed", "use POST");
    let body: unknown;
    try {
      body = await req.json();
    } catch {
      return fail(400, "validation_failed", "the body is not JSON");
    }
    const parsed = JoinRequest.safeParse(body);
    if (!parsed.success) return fail(400, "validation_failed", "the body is not a join input");
    try {
      return Response.json(await probe.join(parsed.data));
    } catch (e) {
      console.error("[channel probe]", e);
      return fail(502, "probe_failed", "the channel probe failed");
    }
  };
}

/**
 * The probe a function's environment points to (`BT_CHANNEL_PROBE_URL`, authorized with
 * `BT_WORKER_SECRET`), or undefined where there is none (hosted projects).
 */
export function channelProbeFromEnv(
  env: Record<string, string | undefined>,
): ChannelProbe | undefined {
  const url = env.BT_CHANNEL_PROBE_URL;
  const secret = env.BT_WORKER_SECRET;
  return url && secret ? remoteChannelProbe({ url, secret }) : undefined;
}
