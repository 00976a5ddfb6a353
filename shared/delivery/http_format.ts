/**
 * The deliverable over HTTP in three forms, chosen by the request's `Accept` header (quality
 * values honoured, JSON by default): JSON, the Markdown document (`text/markdown`), or the
 * project folder as an archive (`application/gzip` for a .tar.gz, `application/x-tar` for a plain
 * tar). An `Accept` that names none of them is answered 406 by the caller.
 *
 * @example
 * ```ts
 * const format = negotiateDeliverableFormat(req.headers.get("accept"));
 * if (format && format !== "json") return await deliverableResponse(deliverable, format);
 * ```
 */
import type { Deliverable } from "../runs/mod.ts";
import { renderStoredDeliverable } from "./markdown.ts";
import { gzip, tarArchive, type TarEntry } from "./tar.ts";

/** A form the deliverable is served in. */
export type DeliverableFormat = "json" | "markdown" | "tar" | "tar.gz";

/** Media types per format, the first being what the response says. */
export const DELIVERABLE_MEDIA_TYPES: Record<DeliverableFormat, string[]> = {
  json: ["application/json"],
  markdown: ["text/markdown", "text/x-markdown"],
  "tar.gz": [
    "application/gzip",
    "application/x-gzip",
    "application/tar+gzip",
    "application/x-gtar",
  ],
  tar: ["application/x-tar", "application/tar"],
};

/** The format an `Accept` header asks for; JSON when absent; null when none is acceptable. */
export function negotiateDeliverableFormat(
  accept: string | null | undefined,
): DeliverableFormat | null {
  if (!accept || accept.trim() === "") return "json";
  const ranges = accept.split(",").map((part, order) => {
    const [type, ...params] = part.trim().toLowerCase().split(";").map((s) => s.trim());
    const q = params.find((p) => p.startsWith("q="));
    const quality = q ? Number(q.slice(2)) : 1;
    return { type, quality: Number.isFinite(quality) ? quality : 0, order };
  }).filter((r) => r.type !== "" && r.quality > 0);
  ranges.sort((a, b) =>
    b.quality - a.quality || specificity(b.type) - specificity(a.type) || a.order - b.order
  );
  for (const range of ranges) {
    const format = formatFor(range.type);
    if (format) return format;
  }
  return null;
}

function specificity(type: string): number {
  return type === "*/*" ? 0 : type.endsWith("/*") ? 1 : 2;
}

function formatFor(type: string): DeliverableFormat | null {
  if (type === "*/*" || type === "application/*") return "json";
  if (type === "text/*") return "markdown";
  for (const [format, types] of Object.entries(DELIVERABLE_MEDIA_TYPES)) {
    if (types.includes(type)) return format as DeliverableFormat;
  }
  return null;
}

/** The files an archive of the deliverable holds: the assembled project, else the artifacts. */
export function deliverableArchiveEntries(deliverable: Deliverable): TarEntry[] {
  const files = deliverable.files.length > 0 ? deliverable.files : deliverable.artifacts;
  return files.map((f) => ({ path: f.path, content: f.content }));
}

/** The Markdown or archive response for a deliverable (JSON is the framework's own). */
export async function deliverableResponse(
  deliverable: Deliverable,
  format: Exclude<DeliverableFormat, "json">,
): Promise<Response> {
  const headers = new Headers({ vary: "Accept" });
  if (format === "markdown") {
    headers.set("content-type", "text/markdown; charset=utf-8");
    return new Response(renderStoredDeliverable(deliverable), { status: 200, headers });
  }
  const tar = tarArchive(deliverableArchiveEntries(deliverable));
  const name = `deliverable-${deliverable.run_id}.${format}`;
  headers.set("content-disposition", `attachment; filename="${name}"`);
  headers.set("content-type", DELIVERABLE_MEDIA_TYPES[format][0]);
  const body = format === "tar.gz" ? await gzip(tar) : tar;
  return new Response(body as BodyInit, { status: 200, headers });
}
