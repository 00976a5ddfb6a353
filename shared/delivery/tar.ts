/**
 * Writes a POSIX (ustar) tar archive in memory, gzip-compressed on request with the platform's
 * `CompressionStream` — enough to hand over a project folder: regular files and their folders, a
 * fixed mode and time, and PAX extended headers for paths longer than ustar's 100+155 bytes.
 *
 * @example
 * ```ts
 * const tgz = await gzip(tarArchive([{ path: "README.md", content: "# Hello\n" }]));
 * ```
 */

/** A file to put in the archive. */
export interface TarEntry {
  path: string;
  content: string | Uint8Array;
}

/** Archive-wide settings. */
export interface TarOptions {
  /** Modification time of every entry (default: 1 January 2000, for reproducible archives). */
  mtime?: Date;
}

const BLOCK = 512;
const encoder = new TextEncoder();

/** The tar archive of `entries` (folders are added before their first file). */
export function tarArchive(entries: TarEntry[], options: TarOptions = {}): Uint8Array {
  const mtime = Math.floor((options.mtime ?? new Date("2000-01-01T00:00:00Z")).getTime() / 1000);
  const chunks: Uint8Array[] = [];
  const folders = new Set<string>();
  for (const entry of entries) {
    const parts = entry.path.split("/");
    for (let i = 1; i < parts.length; i++) {
      const folder = `${parts.slice(0, i).join("/")}/`;
      if (folders.has(folder)) continue;
      folders.add(folder);
      chunks.push(...headerBlocks(folder, 0, mtime, "5", 0o755));
    }
    const data = typeof entry.content === "string" ? encoder.encode(entry.content) : entry.content;
    chunks.push(...headerBlocks(entry.path, data.length, mtime, "0", 0o644), padded(data));
  }
  chunks.push(new Uint8Array(BLOCK * 2));
  return concat(chunks);
}

/** `bytes` gzip-compressed. */
export async function gzip(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([bytes as BlobPart]).stream().pipeThrough(new CompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** The header block(s) of one entry: a PAX header first when the path does not fit ustar. */
function headerBlocks(
  path: string,
  size: number,
  mtime: number,
  type: "0" | "5",
  mode: number,
): Uint8Array[] {
  const split = splitPath(path);
  if (split) return [header({ name: split.name, prefix: split.prefix, size, mtime, type, mode })];
  const record = paxRecord("path", path);
  const shortName = encoder.encode(path).length > 100
    ? path.slice(-90).replace(/^[^/]*\//, "")
    : path;
  return [
    header({
      name: `PaxHeader/${shortName}`.slice(0, 100),
      prefix: "",
      size: record.length,
      mtime,
      type: "x",
      mode: 0o644,
    }),
    padded(record),
    header({ name: shortName.slice(0, 100), prefix: "", size, mtime, type, mode }),
  ];
}

/** Splits a path into ustar's prefix (≤155 bytes) and name (≤100 bytes), or null if it cannot. */
function splitPath(path: string): { name: string; prefix: string } | null {
  if (encoder.encode(path).length <= 100) return { name: path, prefix: "" };
  for (let i = path.indexOf("/"); i !== -1; i = path.indexOf("/", i + 1)) {
    const prefix = path.slice(0, i);
    const name = path.slice(i + 1);
    if (encoder.encode(prefix).length <= 155 && encoder.encode(name).length <= 100 && name !== "") {
      return { name, prefix };
    }
  }
  return null;
}

/** A PAX record `"<len> key=value\n"`, whose length counts its own digits. */
function paxRecord(key: string, value: string): Uint8Array {
  const body = ` ${key}=${value}\n`;
  const bodyLength = encoder.encode(body).length;
  let length = bodyLength;
  while (String(length).length + bodyLength !== length) length = String(length).length + bodyLength;
  return encoder.encode(`${length}${body}`);
}

function header(h: {
  name: string;
  prefix: string;
  size: number;
  mtime: number;
  type: string;
  mode: number;
}): Uint8Array {
  const block = new Uint8Array(BLOCK);
  const put = (offset: number, length: number, value: string) =>
    block.set(encoder.encode(value).slice(0, length), offset);
  const octal = (value: number, length: number) => value.toString(8).padStart(length - 1, "0");
  put(0, 100, h.name);
  put(100, 8, octal(h.mode, 8));
  put(108, 8, octal(0, 8));
  put(116, 8, octal(0, 8));
  put(124, 12, octal(h.size, 12));
  put(136, 12, octal(h.mtime, 12));
  put(148, 8, "        ");
  put(156, 1, h.type);
  put(257, 6, "ustar\0");
  put(263, 2, "00");
  put(265, 32, "root");
  put(297, 32, "root");
  put(345, 155, h.prefix);
  const sum = block.reduce((n, b) => n + b, 0);
  put(148, 8, `${sum.toString(8).padStart(6, "0")}\0 `);
  return block;
}

function padded(data: Uint8Array): Uint8Array {
  const size = Math.ceil(data.length / BLOCK) * BLOCK;
  const out = new Uint8Array(size);
  out.set(data);
  return out;
}

function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let offset = 0;
  for (const c of chunks) {
    out.set(c, offset);
    offset += c.length;
  }
  return out;
}
