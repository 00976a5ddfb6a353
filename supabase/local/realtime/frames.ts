/**
 * The wire format of the Phoenix channel protocol as `@supabase/realtime-js` speaks it, for both
 * serializer versions the client offers: `1.0.0` sends JSON objects (and the server's V1 serializer
 * leaves `join_ref` out), `2.0.0` sends JSON arrays `[join_ref, ref, topic, event, payload]` plus
 * two binary frames for broadcasts — kind 3, a client's `broadcast` push, and kind 4, a broadcast
 * the server delivers. Pure functions, so the codec is tested against the client's own serializer.
 *
 * @example
 * ```ts
 * const frame = decodeText("2.0.0", '["1","1","realtime:room:1","phx_join",{}]');
 * const reply = encodeText("2.0.0", { ...frame, event: "phx_reply", payload: { status: "ok" } });
 * ```
 */

/** A serializer version the server accepts (the `vsn` query parameter). */
export type Vsn = "1.0.0" | "2.0.0";

/** One Phoenix message, whichever way it travels. */
export interface Frame {
  joinRef: string | null;
  ref: string | null;
  topic: string;
  event: string;
  payload: unknown;
}

/** The body of a broadcast: JSON, or raw bytes (a client may send an `ArrayBuffer`). */
export type BroadcastBody =
  | { kind: "json"; value: unknown }
  | { kind: "binary"; bytes: Uint8Array };

/** A client's `broadcast` push, from a kind-3 binary frame or a JSON one. */
export interface BroadcastPush {
  joinRef: string | null;
  ref: string | null;
  topic: string;
  event: string;
  body: BroadcastBody;
}

/** A broadcast the server delivers on a channel topic (`realtime:<name>`). */
export interface OutgoingBroadcast {
  topic: string;
  event: string;
  body: BroadcastBody;
  meta?: Record<string, unknown>;
}

/** A frame the client sent that the server cannot read. */
export class FrameError extends Error {
  override name = "FrameError";
}

const KIND_USER_BROADCAST_PUSH = 3;
const KIND_USER_BROADCAST = 4;
const ENCODING_BINARY = 0;
const ENCODING_JSON = 1;
const MAX_FIELD_BYTES = 255;

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder("utf-8", { fatal: true });

/** The `vsn` query parameter as Phoenix reads it: absent means 1.0.0; other majors are refused. */
export function parseVsn(raw: string | null): Vsn | undefined {
  if (raw === null || raw === "") return "1.0.0";
  if (/^1\.\d+\.\d+$/.test(raw)) return "1.0.0";
  if (/^2\.\d+\.\d+$/.test(raw)) return "2.0.0";
  return undefined;
}

function refOf(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  if (typeof value === "string") return value;
  if (typeof value === "number") return String(value);
  throw new FrameError("refs must be strings");
}

/** Reads a text frame. */
export function decodeText(vsn: Vsn, text: string): Frame {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new FrameError("frame is not JSON");
  }
  if (vsn === "2.0.0") {
    if (!Array.isArray(raw) || raw.length !== 5) {
      throw new FrameError("a 2.0.0 frame is an array of five");
    }
    const [joinRef, ref, topic, event, payload] = raw;
    if (typeof topic !== "string" || typeof event !== "string") {
      throw new FrameError("topic and event must be strings");
    }
    return { joinRef: refOf(joinRef), ref: refOf(ref), topic, event, payload: payload ?? {} };
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    throw new FrameError("a 1.0.0 frame is an object");
  }
  const o = raw as Record<string, unknown>;
  if (typeof o.topic !== "string" || typeof o.event !== "string") {
    throw new FrameError("topic and event must be strings");
  }
  return {
    joinRef: refOf(o.join_ref),
    ref: refOf(o.ref),
    topic: o.topic,
    event: o.event,
    payload: o.payload ?? {},
  };
}

/** Writes a text frame; the V1 serializer, like Phoenix's, leaves `join_ref` out. */
export function encodeText(vsn: Vsn, frame: Frame): string {
  if (vsn === "2.0.0") {
    return JSON.stringify([frame.joinRef, frame.ref, frame.topic, frame.event, frame.payload]);
  }
  return JSON.stringify({
    topic: frame.topic,
    event: frame.event,
    payload: frame.payload,
    ref: frame.ref,
  });
}

/** Reads a binary frame; only kind 3 (a client's broadcast push) is defined client-to-server. */
export function decodeBinary(data: Uint8Array): BroadcastPush {
  if (data.byteLength < 7) throw new FrameError("binary frame too short");
  const kind = data[0];
  if (kind !== KIND_USER_BROADCAST_PUSH) throw new FrameError(`unknown binary frame kind ${kind}`);
  const lengths = [data[1], data[2], data[3], data[4], data[5]];
  const encoding = data[6];
  let offset = 7;
  const fields: string[] = [];
  for (const length of lengths) {
    if (offset + length > data.byteLength) throw new FrameError("binary frame truncated");
    try {
      fields.push(fromUtf8.decode(data.subarray(offset, offset + length)));
    } catch {
      throw new FrameError("binary frame header is not UTF-8");
    }
    offset += length;
  }
  const [joinRef, ref, topic, event] = fields;
  const rest = data.slice(offset);
  let body: BroadcastBody;
  if (encoding === ENCODING_JSON) {
    try {
      body = { kind: "json", value: JSON.parse(fromUtf8.decode(rest)) };
    } catch {
      throw new FrameError("broadcast body is not JSON");
    }
  } else if (encoding === ENCODING_BINARY) {
    body = { kind: "binary", bytes: rest };
  } else {
    throw new FrameError(`unknown payload encoding ${encoding}`);
  }
  return { joinRef: joinRef || null, ref: ref || null, topic, event, body };
}

/** Reads a JSON `broadcast` push (`{type: "broadcast", event, payload}`), as vsn 1.0.0 sends it. */
export function broadcastPushFromFrame(frame: Frame): BroadcastPush | undefined {
  const p = frame.payload;
  if (typeof p !== "object" || p === null) return undefined;
  const { event, payload } = p as Record<string, unknown>;
  if (typeof event !== "string") return undefined;
  return {
    joinRef: frame.joinRef,
    ref: frame.ref,
    topic: frame.topic,
    event,
    body: { kind: "json", value: payload },
  };
}

/**
 * Writes a broadcast as a kind-4 binary frame (what a 2.0.0 client decodes into
 * `{type: "broadcast", event, payload, meta?}`), or `undefined` when a header field is longer than
 * the frame's one-byte lengths allow.
 */
export function encodeBroadcastBinary(message: OutgoingBroadcast): Uint8Array | undefined {
  const topic = utf8.encode(message.topic);
  const event = utf8.encode(message.event);
  const meta = utf8.encode(message.meta ? JSON.stringify(message.meta) : "");
  if ([topic, event, meta].some((f) => f.byteLength > MAX_FIELD_BYTES)) return undefined;
  const body = message.body.kind === "json"
    ? utf8.encode(JSON.stringify(message.body.value ?? {}))
    : message.body.bytes;
  const out = new Uint8Array(
    5 + topic.byteLength + event.byteLength + meta.byteLength +
      body.byteLength,
  );
  out.set([
    KIND_USER_BROADCAST,
    topic.byteLength,
    event.byteLength,
    meta.byteLength,
    message.body.kind === "json" ? ENCODING_JSON : ENCODING_BINARY,
  ]);
  let offset = 5;
  for (const part of [topic, event, meta, body]) {
    out.set(part, offset);
    offset += part.byteLength;
  }
  return out;
}

/**
 * Writes a broadcast as the text frame Phoenix sends for a `%Broadcast{}`, or `undefined` for a
 * binary body, which JSON cannot carry (Supabase drops those for 1.0.0 sockets too).
 */
export function encodeBroadcastText(vsn: Vsn, message: OutgoingBroadcast): string | undefined {
  if (message.body.kind !== "json") return undefined;
  return encodeText(vsn, {
    joinRef: null,
    ref: null,
    topic: message.topic,
    event: "broadcast",
    payload: {
      type: "broadcast",
      event: message.event,
      payload: message.body.value,
      ...(message.meta ? { meta: message.meta } : {}),
    },
  });
}

/** The frame a socket of version `vsn` receives for a broadcast (kind 4 on 2.0.0 where it fits). */
export function encodeBroadcast(
  vsn: Vsn,
  message: OutgoingBroadcast,
): string | Uint8Array | undefined {
  if (vsn === "2.0.0") return encodeBroadcastBinary(message) ?? encodeBroadcastText(vsn, message);
  return encodeBroadcastText(vsn, message);
}

/**
 * Whether a message is longer than `max` bytes, without encoding or parsing it: a string has at
 * least one UTF-8 byte per UTF-16 unit and at most three, so only lengths in between are counted.
 */
export function exceedsBytes(data: string | ArrayBuffer, max: number): boolean {
  if (typeof data !== "string") return data.byteLength > max;
  if (data.length > max) return true;
  if (data.length * 3 <= max) return false;
  let bytes = 0;
  for (let i = 0; i < data.length; i++) {
    const unit = data.charCodeAt(i);
    if (unit < 0x80) bytes += 1;
    else if (unit < 0x800) bytes += 2;
    else if (unit >= 0xd800 && unit <= 0xdbff && i + 1 < data.length) {
      const next = data.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        bytes += 4;
        i++;
      } else bytes += 3;
    } else bytes += 3;
    if (bytes > max) return true;
  }
  return false;
}
