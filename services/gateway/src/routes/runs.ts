import {
  changeRunQuerySchema,
  createRunBodySchema,
  eventPageSchema,
  getRunQuerySchema,
  interactionBodySchema,
  interactionParamsSchema,
  listRunsQuerySchema,
  newId,
  runIdParamsSchema,
  runListSchema,
  runViewSchema,
  stateQuerySchema,
  stateViewSchema,
  streamQuerySchema,
  eventsQuerySchema,
  retryBodySchema,
  createBranchBodySchema,
  createBranchResponseSchema,
  branchListSchema,
  resumeQuerySchema,
  confirmResumeBodySchema,
  runUsageSchema,
  jobAcceptedSchema,
  artifactViewSchema,
  type RunView,
  type Actor,
  type WorkflowRunRecord,
  workflowDefinitionSchema,
} from '@stepwise/shared';
import type { Connection } from 'mongoose';
import type { Models } from '@stepwise/shared/node';
import { defineRoute, type RouteDefinition } from '../http/route-builder.js';
import { empty, json, raw } from '../http/responses.js';
import type { RequestContext } from '../http/request-context.js';
import { createRun } from '../runs/create-run.js';
import { streamRunEvents } from '../runs/event-stream.js';
import {
  dispatchCommand,
  submitRunCommand,
  type RunCommandDependencies,
} from '../runs/run-commands.js';
import { ChangeSignal, type RunNotifications } from '../runs/run-notifications.js';
import { findRun, listEvents, listRuns, readState } from '../runs/run-queries.js';
import { runView } from '../runs/run-views.js';
import { createBranch, listBranches } from '../runs/branches.js';
import { confirmResume, resumeRun, type ResumeDependencies } from '../runs/resume.js';
import { listArtifacts, runUsage, sendArtifactContent } from '../artifacts/artifacts.js';
import { idSchema } from '@stepwise/shared';
import { z } from 'zod';

export interface RunRouteDependencies extends RunCommandDependencies, ResumeDependencies {
  mongo: Connection;
  models: Models;
  notifications: RunNotifications;
  sseHeartbeatMs: number;
  shutdown: AbortSignal;
  maxUploadBytes: number;
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

const workflowMediaTypes = ['application/zip', 'application/x-zip-compressed', 'application/json'];

const correlationOf = (context: RequestContext) => context.correlationId ?? newId('correlation');

/**
 * True when a run needs nothing more from the engine right now: it asks a question, has ended, or
 * waits out a retry backoff. A command's answer waits for this (effects.md, rule 1).
 */
function atRest(run: { status: string; snapshot?: { cursor: { phase: string } | null } }): boolean {
  return run.status !== 'running' || run.snapshot?.cursor?.phase === 'retry_wait';
}

/** Waits until `deadline` for the run to come to rest (see atRest), then answers it as it stands. */
async function awaitRest(
  deps: RunRouteDependencies,
  userId: string,
  runId: string,
  deadline: number,
  rest: (run: WorkflowRunRecord) => boolean = atRest,
) {
  const signal = new ChangeSignal();
  const unsubscribe = deps.notifications.subscribe(runId, signal.notify);
  try {
    for (;;) {
      const run = await findRun(deps.models, userId, runId);
      const left = deadline - Date.now();
      if (rest(run) || left <= 0) return run;
      // Re-read at least every second even without an announcement (a lost one only costs latency).
      await signal.wait(Math.min(left, 1_000), deps.shutdown);
    }
  } finally {
    unsubscribe();
  }
}

/** What answering a command's request needs of it. */
interface AnsweringRequest {
  caller: { user: { user_id: string } };
  context: RequestContext;
  query: { wait_ms: number };
}

/** The answers of a route that changes a run: the run at rest, or as accepted (api.md). */
const runAtRest = (
  description = 'The command is applied and the run is at rest (a question, the end, a retry wait)',
) => json(runViewSchema, description);
const runAccepted = json(
  runViewSchema,
  'Accepted, but the run is still moving when wait_ms ran out (or the command is not applied yet): the run as it stands',
);
/** Errors every command on a run can answer. */
const commandErrors = ['NOT_FOUND', 'RUN_FINISHED', 'CONFLICT'] as const;

/** Who sent a request, for the command record and the events it causes. */
function actorOf(caller: { user: { user_id: string }; keyId: string }): Actor {
  return { user_id: caller.user.user_id, key_id: caller.keyId };
}

export function runRoutes(deps: RunRouteDependencies): RouteDefinition[] {
  /**
   * Answers a command's request with its run: once the command is applied, after waiting (within
   * the request's `wait_ms`) for where it leads (a question, the end); 202 if it is not applied
   * yet, or the run is still moving when `wait_ms` runs out.
   */
  const answerRun = async <S extends 200 | 201>(
    request: AnsweringRequest,
    runId: string,
    state: 'applied' | 'pending',
    appliedStatus: S,
  ): Promise<{ status: S | 202; body: RunView }> => {
    const userId = request.caller.user.user_id;
    const deadline = request.context.receivedAt + request.query.wait_ms;
    const run =
      state === 'applied'
        ? await awaitRest(deps, userId, runId, deadline)
        : await findRun(deps.models, userId, runId);
    return { status: state === 'applied' && atRest(run) ? appliedStatus : 202, body: runView(run) };
  };
  const deadlineOf = (context: RequestContext, waitMs: number) => context.receivedAt + waitMs;

  return [
    defineRoute(
      {
        method: 'post',
        path: '/v1/runs',
        summary: 'Start a run of a version (or of a template’s newest version)',
        auth: 'user',
        query: changeRunQuerySchema,
        body: createRunBodySchema,
        responses: {
          201: runAtRest('Started, and the run came to rest (a question, the end)'),
          202: runAccepted,
        },
        errors: ['NOT_FOUND'],
      },
      async ({ caller, body, query, context }) => {
        const { run, command } = await createRun(deps.mongo, deps.models, {
          userId: caller.user.user_id,
          body,
          correlationId: correlationOf(context),
        });
        const state = await dispatchCommand(deps, command, query.wait_ms);
        // Not applied yet: the run as just created is the run as accepted (no need to read it back).
        if (state === 'pending') return { status: 202, body: runView(run) };
        return answerRun({ caller, context, query }, run.workflow_run_id, state, 201);
      },
    ),
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
              (run) => run.status !== 'running',
            )
          : await findRun(deps.models, caller.user.user_id, params.id);
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
        method: 'post',
        path: '/v1/runs/:id/interactions/:interaction_id',
        summary: 'Answer the pending interaction',
        auth: 'user',
        params: interactionParamsSchema,
        query: changeRunQuerySchema,
        body: interactionBodySchema,
        responses: { 200: runAtRest(), 202: runAccepted },
        errors: [...commandErrors, 'INTERACTION_NOT_PENDING', 'INTERACTION_INVALID'],
        idempotent: true,
      },
      async ({ caller, params, query, body, context, idempotencyKey }) => {
        const { state } = await submitRunCommand(deps, {
          runId: params.id,
          userId: caller.user.user_id,
          actor: actorOf(caller),
          idempotencyKey,
          type: 'respond',
          payload: { interaction_id: params.interaction_id, response: body.response ?? null },
          correlationId: correlationOf(context),
          waitMs: query.wait_ms,
        });
        return answerRun({ caller, context, query }, params.id, state, 200);
      },
    ),
    defineRoute(
      {
        method: 'post',
        path: '/v1/runs/:id/cancel',
        summary: 'Cancel the run',
        auth: 'user',
        params: runIdParamsSchema,
        query: changeRunQuerySchema,
        responses: { 200: runAtRest('Cancelled'), 202: runAccepted },
        errors: commandErrors,
        idempotent: true,
      },
      async ({ caller, params, query, context, idempotencyKey }) => {
        const { state } = await submitRunCommand(deps, {
          runId: params.id,
          userId: caller.user.user_id,
          actor: actorOf(caller),
          idempotencyKey,
          type: 'cancel',
          correlationId: correlationOf(context),
          waitMs: query.wait_ms,
        });
        return answerRun({ caller, context, query }, params.id, state, 200);
      },
    ),
    defineRoute(
      {
        method: 'post',
        path: '/v1/runs/:id/retry',
        summary: 'Re-run from a module at or before the current position, on the same branch',
        auth: 'user',
        params: runIdParamsSchema,
        query: changeRunQuerySchema,
        body: retryBodySchema,
        responses: { 200: runAtRest(), 202: runAccepted },
        errors: commandErrors,
        idempotent: true,
      },
      async ({ caller, params, query, body, context, idempotencyKey }) => {
        const { state } = await submitRunCommand(deps, {
          runId: params.id,
          userId: caller.user.user_id,
          actor: actorOf(caller),
          idempotencyKey,
          type: 'retry',
          payload: {
            step_id: body.step_id,
            ...(body.module_name ? { module_name: body.module_name } : {}),
            ...(body.feedback !== undefined ? { feedback: body.feedback } : {}),
          },
          correlationId: correlationOf(context),
          waitMs: query.wait_ms,
        });
        return answerRun({ caller, context, query }, params.id, state, 200);
      },
    ),
    defineRoute(
      {
        method: 'post',
        path: '/v1/runs/:id/branches',
        summary: 'Fork the run at any of its events; the new branch becomes the active one',
        auth: 'user',
        params: runIdParamsSchema,
        query: changeRunQuerySchema,
        body: createBranchBodySchema,
        responses: {
          201: json(createBranchResponseSchema, 'The branch is made and active'),
          202: json(createBranchResponseSchema, 'Accepted, not applied yet (branch is null)'),
        },
        errors: commandErrors,
        idempotent: true,
      },
      async ({ caller, params, query, body, context, idempotencyKey }) => {
        const { state, branch } = await createBranch(deps, {
          userId: caller.user.user_id,
          actor: actorOf(caller),
          idempotencyKey,
          runId: params.id,
          fromEventId: body.from_event_id,
          correlationId: correlationOf(context),
          waitMs: query.wait_ms,
        });
        const run = await findRun(deps.models, caller.user.user_id, params.id);
        return { status: state === 'applied' ? 201 : 202, body: { branch, run: runView(run) } };
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
        method: 'post',
        path: '/v1/runs/:id/resume',
        summary:
          'Continue the run; with a workflow that differs from its version, 409 VERSION_MISMATCH',
        auth: 'user',
        params: runIdParamsSchema,
        query: resumeQuerySchema,
        upload: {
          mediaTypes: workflowMediaTypes,
          maxBytes: deps.maxUploadBytes,
          optional: true,
          jsonSchema: workflowDefinitionSchema,
        },
        responses: {
          200: runAtRest('Resumed, and the run came to rest'),
          202: json(
            z.union([runViewSchema, jobAcceptedSchema]),
            'The run as it stands while still moving; or `{job_id}` while the uploaded workflow is still resolving',
          ),
        },
        errors: [...commandErrors, 'VERSION_MISMATCH', 'INVALID_ZIP', 'WORKFLOW_INVALID'],
      },
      async ({ caller, params, query, upload, context }) => {
        const outcome = await resumeRun(deps, {
          userId: caller.user.user_id,
          actor: actorOf(caller),
          runId: params.id,
          upload: upload
            ? {
                bytes: upload.bytes,
                sourceType: upload.mediaType === 'application/json' ? 'json' : 'zip',
              }
            : null,
          entryPoint: query.entry_point,
          correlationId: correlationOf(context),
          waitMs: query.wait_ms,
        });
        if (outcome.kind === 'submission_pending') {
          return { status: 202, body: { job_id: outcome.jobId } };
        }
        return answerRun({ caller, context, query }, params.id, outcome.state, 200);
      },
    ),
    defineRoute(
      {
        method: 'post',
        path: '/v1/runs/:id/resume/confirm',
        summary: 'Carry out a choice after VERSION_MISMATCH (201 with the new run for start_fresh)',
        auth: 'user',
        params: runIdParamsSchema,
        query: changeRunQuerySchema,
        body: confirmResumeBodySchema,
        responses: {
          200: runAtRest('Carried out, and the run came to rest'),
          201: runAtRest('start_fresh: the new run, come to rest'),
          202: runAccepted,
        },
        errors: [...commandErrors, 'POSITION_NOT_IN_VERSION'],
        idempotent: true,
      },
      async ({ caller, params, query, body, context, idempotencyKey }) => {
        const outcome = await confirmResume(deps, {
          userId: caller.user.user_id,
          actor: actorOf(caller),
          idempotencyKey,
          runId: params.id,
          choice: body.choice,
          submittedVersionId: body.submitted_version_id,
          restartAt: body.choice === 'continue_with_new' ? body.restart_at : undefined,
          correlationId: correlationOf(context),
          waitMs: query.wait_ms,
        });
        return answerRun(
          { caller, context, query },
          outcome.runId,
          outcome.state,
          outcome.created ? 201 : 200,
        );
      },
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
    defineRoute(
      {
        method: 'get',
        path: '/v1/artifacts/:artifact_id/content',
        summary: "An artifact's bytes (streamed; ETag is its sha256; honours If-None-Match)",
        auth: 'user',
        params: z.strictObject({ artifact_id: idSchema('artifact') }),
        headers: [
          {
            name: 'If-None-Match',
            description: 'ETags the client holds; a match answers 304 without the bytes',
            schema: z.string().max(4096),
          },
        ],
        responses: {
          200: raw(
            '*/*',
            { type: 'string', format: 'binary' },
            'The bytes, with the artifact’s content type',
            ['ETag', 'Cache-Control', 'Content-Length', 'Content-Disposition'],
          ),
          304: empty('The client’s copy is current (If-None-Match matched)', [
            'ETag',
            'Cache-Control',
          ]),
        },
        errors: ['NOT_FOUND'],
      },
      async ({ caller, params, req, res }) => {
        const status = await sendArtifactContent(
          deps.mongo,
          deps.models,
          caller.user.user_id,
          params.artifact_id,
          req,
          res,
        );
        return { status, sent: true };
      },
    ),
  ];
}
