/**
 * The local Realtime server's caps, read from the environment in this one place. The defaults are
 * Supabase Realtime's documented Free-plan quotas (https://supabase.com/docs/guides/realtime/limits:
 * 100 channels per connection, 100 channel joins and 100 messages per second, 256 KB broadcast
 * payloads), applied per socket where Supabase counts per project, since locally one socket is
 * the unit an attacker controls. A frame may carry a full payload plus its envelope (topic, event,
 * refs, a token), hence the headroom. Refusals use Supabase's reasons (`ChannelRateLimitReached`,
 * `ClientJoinRateLimitReached`, `MessagePerSecondRateLimitReached`) so clients read the same
 * words locally as on the platform.
 *
 * | Variable | Default | Caps |
 * |---|---|---|
 * | `BT_REALTIME_MAX_CHANNELS_PER_CLIENT` | 100 | channels joined at once on one socket |
 * | `BT_REALTIME_MAX_JOINS_PER_SECOND` | 100 | `phx_join`s one socket may send per second |
 * | `BT_REALTIME_MAX_EVENTS_PER_SECOND` | 100 | client broadcasts per socket per second; messages per REST batch |
 * | `BT_REALTIME_MAX_PAYLOAD_BYTES` | 262144 | REST broadcast body |
 * | `BT_REALTIME_MAX_FRAME_BYTES` | payload + 65536 | one WebSocket message (closed with 1009 above it) |
 *
 * @example
 * ```ts
 * const limits = realtimeLimitsFromEnv(Deno.env.toObject());
 * const tight = resolveRealtimeLimits({ maxChannelsPerClient: 3 }, {});
 * ```
 */
import { z } from "zod";

/** Room a frame has beyond its payload: topic, event, refs, a join's token and config. */
export const FRAME_ENVELOPE_BYTES = 64 * 1024;

const count = z.number().int().positive();

/** The caps the server enforces. */
export const RealtimeLimits = z.object({
  /** Channels one socket may have joined at once. */
  maxChannelsPerClient: count,
  /** `phx_join` frames one socket may send in any one-second window. */
  maxJoinsPerSecond: count,
  /** Client broadcasts one socket may send per second; also the most messages a REST batch carries. */
  maxEventsPerSecond: count,
  /** Largest REST broadcast body, in bytes. */
  maxPayloadBytes: count,
  /** Largest WebSocket message, in bytes. */
  maxFrameBytes: count,
});
export type RealtimeLimits = z.infer<typeof RealtimeLimits>;

/** Supabase's Free-plan quotas (see the module doc). */
export const DEFAULT_REALTIME_LIMITS: RealtimeLimits = {
  maxChannelsPerClient: 100,
  maxJoinsPerSecond: 100,
  maxEventsPerSecond: 100,
  maxPayloadBytes: 256 * 1024,
  maxFrameBytes: 256 * 1024 + FRAME_ENVELOPE_BYTES,
};

/** The environment variable of each limit. */
export const REALTIME_LIMIT_ENV: Record<keyof RealtimeLimits, string> = {
  maxChannelsPerClient: "BT_REALTIME_MAX_CHANNELS_PER_CLIENT",
  maxJoinsPerSecond: "BT_REALTIME_MAX_JOINS_PER_SECOND",
  maxEventsPerSecond: "BT_REALTIME_MAX_EVENTS_PER_SECOND",
  maxPayloadBytes: "BT_REALTIME_MAX_PAYLOAD_BYTES",
  maxFrameBytes: "BT_REALTIME_MAX_FRAME_BYTES",
};

/** A limit variable that is set but is not a positive integer. */
export class RealtimeLimitsError extends Error {
  override name = "RealtimeLimitsError";
}

function fromEnv(env: Record<string, string | undefined>): Partial<RealtimeLimits> {
  const out: Partial<RealtimeLimits> = {};
  for (const key of Object.keys(REALTIME_LIMIT_ENV) as (keyof RealtimeLimits)[]) {
    const name = REALTIME_LIMIT_ENV[key];
    const raw = env[name]?.trim();
    if (raw === undefined || raw === "") continue;
    const value = /^\d+$/.test(raw) ? Number(raw) : NaN;
    if (!count.safeParse(value).success) {
      throw new RealtimeLimitsError(`${name} must be a positive integer, got "${raw}"`);
    }
    out[key] = value;
  }
  return out;
}

/**
 * The limits in force: `overrides` first, then the environment, then the defaults. An unset frame
 * cap follows the payload cap (payload + {@link FRAME_ENVELOPE_BYTES}). Throws
 * {@link RealtimeLimitsError} naming the variable when one is malformed.
 */
export function resolveRealtimeLimits(
  overrides: Partial<RealtimeLimits>,
  env: Record<string, string | undefined>,
): RealtimeLimits {
  const chosen = { ...fromEnv(env), ...withoutUndefined(overrides) };
  const maxPayloadBytes = chosen.maxPayloadBytes ?? DEFAULT_REALTIME_LIMITS.maxPayloadBytes;
  const parsed = RealtimeLimits.safeParse({
    ...DEFAULT_REALTIME_LIMITS,
    maxFrameBytes: maxPayloadBytes + FRAME_ENVELOPE_BYTES,
    ...chosen,
  });
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new RealtimeLimitsError(`realtime limit ${issue.path.join(".")}: ${issue.message}`);
  }
  return parsed.data;
}

/** The limits the environment sets, over the defaults. */
export function realtimeLimitsFromEnv(env: Record<string, string | undefined>): RealtimeLimits {
  return resolveRealtimeLimits({}, env);
}

function withoutUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
