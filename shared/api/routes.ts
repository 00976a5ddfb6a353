/**
 * The orchestrator's routes as OpenAPI route definitions: method, path, what each validates
 * (path, query, body — the runs domain's zod schemas) and what it answers, errors included. The
 * handlers live in `app.ts`; this file is the API's contract and the source of `/openapi.json`.
 *
 * @example
 * ```ts
 * app.openapi(createRunRoute, handler);
 * ```
 */
import { createRoute, z } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import { ErrorBody } from "../http/mod.ts";
import {
  AnswerRequest,
  CreateRunRequest,
  Deliverable,
  EventPage,
  ListEventsQuery,
  ListRunsQuery,
  RunDetail,
  RunEnvelope,
  RunIdParams,
  RunPage,
} from "../runs/mod.ts";

/** Name of the bearer security scheme in the OpenAPI document. */
export const BEARER_SCHEME = "bearerAuth";

const security = [{ [BEARER_SCHEME]: [] }];

const ERROR_DESCRIPTIONS: Record<number, string> = {
  400: "Invalid input (`validation_failed`, `invalid_json`), including a path id that is not " +
    "a UUID; `details` lists each issue as { location, path, message }.",
  401: "No valid signed-in user's token (`unauthorized`).",
  403: "The token is valid but its user does not exist in this project (`user_not_found`): " +
    "deleted, or not yet signed up.",
  404: "No such run for this user (`not_found`); another user's run is also a 404.",
  406: "None of the media types in `Accept` is offered (`not_acceptable`).",
  409: "The run is not in a state that allows this (`illegal_transition`, `conflict`).",
  413: "The body is larger than the limit (`payload_too_large`).",
  415: "The body is not `application/json` (`unsupported_media_type`).",
  429: "Over a per-user limit: the rate of POSTs (`rate_limited`), the runs in flight " +
    "(`too_many_runs_in_flight`) or a budget (`budget_exceeded`). `Retry-After` says how many " +
    "seconds to wait when the wait is known.",
  500: "Server error (`internal`); details are only in the server log.",
  503: "No language model is configured (`llm_not_configured`: the message names the variables " +
    "to set), or a service this one depends on is unavailable.",
};

function errors(...statuses: number[]) {
  return Object.fromEntries(statuses.map((status) => [status, {
    description: ERROR_DESCRIPTIONS[status],
    content: { "application/json": { schema: ErrorBody } },
  }]));
}

function json<S extends z.ZodType>(schema: S, description: string) {
  return { description, content: { "application/json": { schema } } };
}

/** Body of `POST /runs/{id}/cancel`: nothing, or an empty object. */
export const CancelRunRequest = z.strictObject({}).meta({ id: "CancelRunRequest" });

/** Route definitions; `bodyMiddleware` is the JSON body reader the POST routes run first. */
export function orchestratorRoutes(bodyMiddleware: {
  required: MiddlewareHandler;
  optional: MiddlewareHandler;
}) {
  return {
    createRun: createRoute({
      method: "post",
      path: "/runs",
      summary: "Submit a run",
      description: "Creates a run in status `received`; the orchestrator works on it afterwards.",
      tags: ["runs"],
      security,
      middleware: [bodyMiddleware.required] as const,
      request: {
        body: {
          required: true,
          content: { "application/json": { schema: CreateRunRequest } },
        },
      },
      responses: {
        202: json(RunEnvelope, "The run was accepted."),
        ...errors(400, 401, 403, 413, 415, 429, 500, 503),
      },
    }),
    listRuns: createRoute({
      method: "get",
      path: "/runs",
      summary: "List your runs",
      description: "Newest first; follow `next_cursor` for older runs.",
      tags: ["runs"],
      security,
      request: { query: ListRunsQuery },
      responses: {
        200: json(RunPage, "A page of runs."),
        ...errors(400, 401, 500),
      },
    }),
    getRun: createRoute({
      method: "get",
      path: "/runs/{id}",
      summary: "Get a run with its tasks",
      tags: ["runs"],
      security,
      request: { params: RunIdParams },
      responses: {
        200: json(RunDetail, "The run and its tasks."),
        ...errors(400, 401, 404, 500),
      },
    }),
    listEvents: createRoute({
      method: "get",
      path: "/runs/{id}/events",
      summary: "Read a run's events",
      description:
        "The run's progress log in `seq` order, after `after` (for clients without Realtime).",
      tags: ["runs"],
      security,
      request: { params: RunIdParams, query: ListEventsQuery },
      responses: {
        200: json(EventPage, "A page of events."),
        ...errors(400, 401, 404, 500),
      },
    }),
    answerRun: createRoute({
      method: "post",
      path: "/runs/{id}/answers",
      summary: "Answer a run's clarifying questions",
      description: "Only while the run is `awaiting_clarification`; the run then continues.",
      tags: ["runs"],
      security,
      middleware: [bodyMiddleware.required] as const,
      request: {
        params: RunIdParams,
        body: { required: true, content: { "application/json": { schema: AnswerRequest } } },
      },
      responses: {
        200: json(RunEnvelope, "The run, continuing."),
        ...errors(400, 401, 404, 409, 413, 415, 429, 500),
      },
    }),
    cancelRun: createRoute({
      method: "post",
      path: "/runs/{id}/cancel",
      summary: "Cancel a run",
      description: "Cancels the run and its unfinished tasks. A finished run cannot be cancelled.",
      tags: ["runs"],
      security,
      middleware: [bodyMiddleware.optional] as const,
      request: {
        params: RunIdParams,
        body: { required: false, content: { "application/json": { schema: CancelRunRequest } } },
      },
      responses: {
        200: json(RunEnvelope, "The cancelled run."),
        ...errors(400, 401, 404, 409, 413, 415, 429, 500),
      },
    }),
    getDeliverable: createRoute({
      method: "get",
      path: "/runs/{id}/deliverable",
      summary: "Get a completed run's deliverable",
      description: "Chosen by `Accept`: JSON (the default) with the result, the delivered " +
        "project's files and the tasks' artifacts; `text/markdown` for the document (summary, " +
        "migrations with their RLS, indexes, edge functions, API docs, deployment, setup, notes, " +
        "tests, validation); `application/gzip` or `application/x-tar` for the Supabase project " +
        "folder as a .tar.gz or .tar.",
      tags: ["runs"],
      security,
      request: { params: RunIdParams },
      responses: {
        200: {
          description: "The deliverable in the requested form.",
          content: {
            "application/json": { schema: Deliverable },
            "text/markdown": {
              schema: z.string().meta({ description: "The deliverable as one Markdown document." }),
            },
            "application/gzip": {
              schema: z.string().meta({
                format: "binary",
                description: "The project folder as a gzip-compressed tar archive.",
              }),
            },
            "application/x-tar": {
              schema: z.string().meta({
                format: "binary",
                description: "The project folder as a tar archive.",
              }),
            },
          },
        },
        ...errors(400, 401, 404, 406, 409, 500),
      },
    }),
    openapi: createRoute({
      method: "get",
      path: "/openapi.json",
      summary: "This API's OpenAPI document",
      tags: ["meta"],
      security: [],
      responses: {
        200: json(z.looseObject({ openapi: z.string() }), "OpenAPI 3.1 document."),
      },
    }),
  };
}
