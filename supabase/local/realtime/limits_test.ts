import assert from "node:assert/strict";
import {
  DEFAULT_REALTIME_LIMITS,
  FRAME_ENVELOPE_BYTES,
  REALTIME_LIMIT_ENV,
  RealtimeLimitsError,
  realtimeLimitsFromEnv,
  resolveRealtimeLimits,
} from "./limits.ts";

Deno.test("without variables the limits are Supabase's Free-plan quotas", () => {
  assert.deepEqual(realtimeLimitsFromEnv({}), DEFAULT_REALTIME_LIMITS);
  assert.deepEqual(DEFAULT_REALTIME_LIMITS, {
    maxChannelsPerClient: 100,
    maxJoinsPerSecond: 100,
    maxEventsPerSecond: 100,
    maxPayloadBytes: 262_144,
    maxFrameBytes: 262_144 + FRAME_ENVELOPE_BYTES,
  });
});

Deno.test("each BT_REALTIME_MAX_* variable sets its limit, and the frame cap follows the payload cap", () => {
  const limits = realtimeLimitsFromEnv({
    BT_REALTIME_MAX_CHANNELS_PER_CLIENT: "7",
    BT_REALTIME_MAX_JOINS_PER_SECOND: " 9 ",
    BT_REALTIME_MAX_EVENTS_PER_SECOND: "11",
    BT_REALTIME_MAX_PAYLOAD_BYTES: "1000",
    UNRELATED: "x",
  });
  assert.deepEqual(limits, {
    maxChannelsPerClient: 7,
    maxJoinsPerSecond: 9,
    maxEventsPerSecond: 11,
    maxPayloadBytes: 1000,
    maxFrameBytes: 1000 + FRAME_ENVELOPE_BYTES,
  });
  assert.equal(
    realtimeLimitsFromEnv({ BT_REALTIME_MAX_FRAME_BYTES: "5000" }).maxFrameBytes,
    5000,
  );
  assert.equal(realtimeLimitsFromEnv({ BT_REALTIME_MAX_FRAME_BYTES: "" }).maxFrameBytes, 327_680);
});

Deno.test("explicit overrides win over the environment; undefined ones do not erase it", () => {
  const env = { BT_REALTIME_MAX_CHANNELS_PER_CLIENT: "7", BT_REALTIME_MAX_JOINS_PER_SECOND: "9" };
  const limits = resolveRealtimeLimits(
    { maxChannelsPerClient: 3, maxJoinsPerSecond: undefined },
    env,
  );
  assert.equal(limits.maxChannelsPerClient, 3);
  assert.equal(limits.maxJoinsPerSecond, 9);
});

Deno.test("a malformed variable fails fast, naming it", () => {
  for (const bad of ["0", "-1", "1.5", "ten", "1e3", "99999999999999999999"]) {
    for (const name of Object.values(REALTIME_LIMIT_ENV)) {
      assert.throws(
        () => realtimeLimitsFromEnv({ [name]: bad }),
        (e: unknown) => e instanceof RealtimeLimitsError && e.message.includes(name),
        `${name}=${bad}`,
      );
    }
  }
  assert.throws(() => resolveRealtimeLimits({ maxFrameBytes: 0 }, {}), RealtimeLimitsError);
});
