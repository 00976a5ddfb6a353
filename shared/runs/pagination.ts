/**
 * Paging through runs and events. Runs are listed newest first with an opaque keyset cursor (the
 * last row's `created_at` to the microsecond, and its id as tie-breaker), so pages stay stable while
 * new runs arrive; events are read after a sequence number. The query schemas validate what
 * arrives in the URL: every value there is a string, so numbers are checked as digits first.
 *
 * @example
 * ```ts
 * const cursor = encodeCursor({ at: "2026-11-25T05:19:00.123456Z", id });
 * decodeCursor(cursor); // { at: "2026-11-25T05:19:00.123456Z", id }
 * ```
 */
import { z } from "zod";
import { AppError } from "../errors/mod.ts";
import { Id } from "./scalars.ts";

/** A whole number given in a query string, between `min` and `max`. */
export function QueryInt(min: number, max: number) {
  return z.string()
    .regex(/^[0-9]{1,15}$/, "must be a whole number")
    .transform(Number)
    .pipe(z.number().int().min(min).max(max));
}

/** Where a page of runs starts: after the run created at `at` (UTC, microseconds) with `id`. */
export interface RunCursor {
  at: string;
  id: string;
}

const CURSOR_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;

/** Whether `at` names a real instant: Date.parse rolls "02-30" over, so compare the round trip. */
function isRealTime(at: string): boolean {
  const ms = Date.parse(`${at.slice(0, 23)}Z`);
  return !Number.isNaN(ms) && new Date(ms).toISOString().slice(0, 23) === at.slice(0, 23);
}

const CursorPayload = z.tuple([z.string().regex(CURSOR_TIME).refine(isRealTime), Id]);

/** The opaque string clients pass back as `?cursor=`. */
export function encodeCursor(cursor: RunCursor): string {
  const json = JSON.stringify([cursor.at, cursor.id]);
  return btoa(json).replaceAll("+", "-").replaceAll("/", "_").replaceAll("=", "");
}

/** Reads a cursor made by {@link encodeCursor}; anything else is a 400 naming `cursor`. */
export function decodeCursor(text: string): RunCursor {
  try {
    if (!/^[A-Za-z0-9_-]{1,512}$/.test(text)) throw new Error("not base64url");
    const json = atob(text.replaceAll("-", "+").replaceAll("_", "/"));
    const [at, id] = CursorPayload.parse(JSON.parse(json));
    return { at, id };
  } catch (e) {
    throw new AppError("validation_failed", "invalid cursor", [
      { location: "query", path: ["cursor"], message: "is not a cursor this API returned" },
    ], { cause: e });
  }
}

/** Query of `GET /runs`. */
export const ListRunsQuery = z.object({
  cursor: z.string().max(512).optional().meta({
    description: "The `next_cursor` of the previous page; omit for the newest runs.",
  }),
  limit: QueryInt(1, 100).default(20).meta({ description: "Runs per page (1-100, default 20)." }),
});
export type ListRunsQuery = z.infer<typeof ListRunsQuery>;

/** Query of `GET /runs/{id}/events`. */
export const ListEventsQuery = z.object({
  after: QueryInt(0, Number.MAX_SAFE_INTEGER).default(0).meta({
    description: "Return events with `seq` greater than this (default 0: from the start).",
  }),
  limit: QueryInt(1, 1000).default(200).meta({
    description: "Events per page (1-1000, default 200).",
  }),
});
export type ListEventsQuery = z.infer<typeof ListEventsQuery>;

/** Path parameters of `/runs/{id}...`. */
export const RunIdParams = z.object({
  id: Id.meta({ description: "The run's id (a UUID)." }),
});
export type RunIdParams = z.infer<typeof RunIdParams>;
