import {
  branchListSchema,
  eventPageSchema,
  eventsQuerySchema,
  getRunQuerySchema,
  listRunsQuerySchema,
  runIdParamsSchema,
  runListSchema,
  runUsageSchema,
  runViewSchema,
  stateQuerySchema,
  stateViewSchema,
  streamQuerySchema,
  artifactViewSchema,
  versionChangeViewSchema,
  versionChangesQuerySchema,
  type WorkflowRunRecord,
} from '@stepwise/shared';
import type { Connection } from 'mongoose';
import type { Models } from '@stepwise/shared/node';
import { z } from 'zod';
import { defineRoute, type RouteDefinition } from '../http/route-builder.js';
import { json, raw } from '../http/responses.js';
import type { RequestContext } from '../http/request-context.js';
import { streamRunEvents } from '../runs/event-stream.js';
import type { RunCommandDependencies } from '../runs/run-commands.js';
import type { RunNotifications } from '../runs/run-notifications.js';
import { findRun, listEvents, listRuns, readState } from '../runs/run-queries.js';
import { runView, runViewProjection } from '../runs/run-views.js';
import { listBranches } from '../runs/branches.js';
import { versionChangesFor, type ResumeDependencies } from '../runs/resume.js';
import { listArtifacts, runUsage } from '../artifacts/artifacts.js';
import { mediaRoutes } from './media.js';
import { awaitRest, runChangeRoutes } from './run-changes.js';

export interface RunRouteDependencies extends RunCommandDependencies, ResumeDependencies {
  mongo: Connection;
  models: Models;
  notifications: RunNotifications;
  sseHeartbeatMs: number;
  shutdown: AbortSignal;
  maxUploadBytes: number;
  /** MAX_FILE_UPLOAD_BYTES: the largest file a `user.file_input` upload may be. */
  maxFileUploadBytes: number;
}

/** One event of the stream, as an SSE parser hands it over (`data` is an Event, as JSON). */
const sseEventJsonSchema = {
  type: 'object',
  properties: {
    id: { type: 'string', description: "The event's seq" },
    event: { type: 'string', description: "The event's event_type" },
    data: {
      type: 'string',
      contentMediaType: 'application/json',
      contentSchema: { $ref: '#/components/schemas/Event' },
    },
  },
  required: ['data'],
};

/** The SSE resume header: a seq from an earlier `id:` line; anything else is ignored (SSE rule). */
const lastEventIdSchema = z.string().max(1024);

const deadlineOf = (context: RequestContext, waitMs: number) => context.receivedAt + waitMs;

export function runRoutes(deps: RunRouteDependencies): RouteDefinition[] {
  return [
    ...runChangeRoutes(deps),
    defineRoute(
      {
        method: 'get',
        path: '/v1/runs',
        summary: 'Your runs, newest first (filters and cursor)',
        auth: 'user',
        query: listRunsQuerySchema,
        responses: { 200: json(runListSchema, 'A page of runs') },
      },
      async ({ caller, query }) => ({
        status: 200,
        body: await listRuns(deps.models, caller.user.user_id, query),
      }),
    ),
    defineRoute(
      {
        method: 'get',
        path: '/v1/runs/:id',
        summary: 'A run; with wait=true, once it is no longer running (or at wait_ms)',
        auth: 'user',
        params: runIdParamsSchema,
        query: getRunQuerySchema,
        responses: { 200: json(runViewSchema, 'The run (with wait, once it is not running)') },
        errors: ['NOT_FOUND'],
      },
      async ({ caller, params, query, context }) => {
        const run = query.wait
          ? await awaitRest(
              deps,
              caller.user.user_id,
              params.id,
              deadlineOf(context, query.wait_ms),
              (run: WorkflowRunRecord) => run.status !== 'running',
            )
          : await findRun(deps.models, caller.user.user_id, params.id, runViewProjection);
        return { status: 200, body: runView(run) };
      },
    ),
    defineRoute(
      {
        method: 'get',
        path: '/v1/runs/:id/state',
        summary: 'The state of a branch (default: the active one)',
        auth: 'user',
        params: runIdParamsSchema,
        query: stateQuerySchema,
        responses: { 200: json(stateViewSchema, 'The state and the event it stands at') },
        errors: ['NOT_FOUND'],
      },
      async ({ caller, params, query }) => ({
        status: 200,
        body: await readState(deps.models, caller.user.user_id, params.id, query.branch_id),
      }),
    ),
    defineRoute(
      {
        method: 'get',
        path: '/v1/runs/:id/events',
        summary: "A page of a branch's visible events (default: the active branch)",
        auth: 'user',
        params: runIdParamsSchema,
        query: eventsQuerySchema,
        responses: { 200: json(eventPageSchema, 'A page of events, oldest first') },
        errors: ['NOT_FOUND'],
      },
      async ({ caller, params, query }) => ({
        status: 200,
        body: await listEvents(deps.models, caller.user.user_id, params.id, query),
      }),
    ),
    defineRoute(
      {
        method: 'get',
        path: '/v1/runs/:id/stream',
        summary: "The run's events as Server-Sent Events (resumable with Last-Event-ID)",
        auth: 'user',
        params: runIdParamsSchema,
        query: streamQuerySchema,
        headers: [
          {
            name: 'Last-Event-ID',
            description: 'The seq of the last event received; the stream resumes after it',
            schema: lastEventIdSchema,
          },
        ],
        responses: {
          200: raw(
            'text/event-stream',
            sseEventJsonSchema,
            'Server-Sent Events: `id:` is the event seq, `event:` its type, `data:` the event as in /events; a comment line every SSE_HEARTBEAT_MS',
            ['Cache-Control'],
          ),
        },
        errors: ['NOT_FOUND'],
      },
      async ({ caller, params, query, req, res }) => {
        await findRun(deps.models, caller.user.user_id, params.id);
        await streamRunEvents(req, res, params.id, query.after_seq, {
          models: deps.models,
          notifications: deps.notifications,
          heartbeatMs: deps.sseHeartbeatMs,
          shutdown: deps.shutdown,
        });
        return { status: 200, sent: true };
      },
    ),
    defineRoute(
      {
        method: 'get',
        path: '/v1/runs/:id/branches',
        summary: "The run's branches with their parents, fork points and lineage",
        auth: 'user',
        params: runIdParamsSchema,
        responses: { 200: json(branchListSchema, "The run's branches") },
        errors: ['NOT_FOUND'],
      },
      async ({ caller, params }) => ({
        status: 200,
        body: await listBranches(deps.models, caller.user.user_id, params.id),
      }),
    ),
    defineRoute(
      {
        method: 'get',
        path: '/v1/runs/:id/version-changes',
        summary:
          "What moving the run onto another version of its template would change, with the changed text, placed against the run's position",
        auth: 'user',
        params: runIdParamsSchema,
        query: versionChangesQuerySchema,
        responses: {
          200: json(
            versionChangeViewSchema,
            'The changes, what continue_with_new would not apply, and the choices in the order to offer them (the same as the details of VERSION_MISMATCH)',
          ),
        },
        errors: ['NOT_FOUND', 'CONFLICT'],
      },
      async ({ caller, params, query }) => ({
        status: 200,
        body: await versionChangesFor(deps, {
          userId: caller.user.user_id,
          runId: params.id,
          versionId: query.version_id,
        }),
      }),
    ),
    defineRoute(
      {
        method: 'get',
        path: '/v1/runs/:id/artifacts',
        summary: 'The files the run produced',
        auth: 'user',
        params: runIdParamsSchema,
        responses: {
          200: json(
            z.object({ items: z.array(artifactViewSchema) }),
            'The artifacts, oldest first',
          ),
        },
        errors: ['NOT_FOUND'],
      },
      async ({ caller, params }) => ({
        status: 200,
        body: await listArtifacts(deps.models, caller.user.user_id, params.id),
      }),
    ),
    defineRoute(
      {
        method: 'get',
        path: '/v1/runs/:id/usage',
        summary: 'LLM tokens and cost the run spent, per call and in total',
        auth: 'user',
        params: runIdParamsSchema,
        responses: { 200: json(runUsageSchema, 'Provider calls and their totals') },
        errors: ['NOT_FOUND'],
      },
      async ({ caller, params }) => ({
        status: 200,
        body: await runUsage(deps.models, caller.user.user_id, params.id),
      }),
    ),
    ...mediaRoutes(deps),
  ];
}
