import type { Response } from 'express';
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
  type Actor,
  type WorkflowRunRecord,
} from '@stepwise/shared';
import type { Connection } from 'mongoose';
import type { Models } from '@stepwise/shared/node';
import { defineRoute, type RouteDefinition } from '../http/route-builder.js';
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
  res: Response;
  query: { wait_ms: number };
}

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
  const answerRun = async (
    request: AnsweringRequest,
    runId: string,
    state: 'applied' | 'pending',
    appliedStatus = 200,
  ) => {
    const userId = request.caller.user.user_id;
    const deadline = request.context.receivedAt + request.query.wait_ms;
    const run =
      state === 'applied'
        ? await awaitRest(deps, userId, runId, deadline)
        : await findRun(deps.models, userId, runId);
    request.res.status(state === 'applied' && atRest(run) ? appliedStatus : 202).json(runView(run));
    return undefined;
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
        success: { status: 201, body: runViewSchema },
      },
      async ({ caller, body, query, context, res }) => {
        const { run, command } = await createRun(deps.mongo, deps.models, {
          userId: caller.user.user_id,
          body,
          correlationId: correlationOf(context),
        });
        const state = await dispatchCommand(deps, command, query.wait_ms);
        // Not applied yet: the run as just created is the run as accepted (no need to read it back).
        if (state === 'pending') {
          res.status(202).json(runView(run));
          return undefined;
        }
        return answerRun({ caller, context, res, query }, run.workflow_run_id, state, 201);
      },
    ),
    defineRoute(
      {
        method: 'get',
        path: '/v1/runs',
        summary: 'Your runs, newest first (filters and cursor)',
        auth: 'user',
        query: listRunsQuerySchema,
        success: { status: 200, body: runListSchema },
      },
      ({ caller, query }) => listRuns(deps.models, caller.user.user_id, query),
    ),
    defineRoute(
      {
        method: 'get',
        path: '/v1/runs/:id',
        summary: 'A run; with wait=true, once it is no longer running (or at wait_ms)',
        auth: 'user',
        params: runIdParamsSchema,
        query: getRunQuerySchema,
        success: { status: 200, body: runViewSchema },
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
        return runView(run);
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
        success: { status: 200, body: stateViewSchema },
      },
      ({ caller, params, query }) =>
        readState(deps.models, caller.user.user_id, params.id, query.branch_id),
    ),
    defineRoute(
      {
        method: 'get',
        path: '/v1/runs/:id/events',
        summary: "A page of a branch's visible events (default: the active branch)",
        auth: 'user',
        params: runIdParamsSchema,
        query: eventsQuerySchema,
        success: { status: 200, body: eventPageSchema },
      },
      ({ caller, params, query }) => listEvents(deps.models, caller.user.user_id, params.id, query),
    ),
    defineRoute(
      {
        method: 'get',
        path: '/v1/runs/:id/stream',
        summary: "The run's events as Server-Sent Events (resumable with Last-Event-ID)",
        auth: 'user',
        params: runIdParamsSchema,
        query: streamQuerySchema,
        success: { status: 200 },
      },
      async ({ caller, params, query, req, res }) => {
        await findRun(deps.models, caller.user.user_id, params.id);
        await streamRunEvents(req, res, params.id, query.after_seq, {
          models: deps.models,
          notifications: deps.notifications,
          heartbeatMs: deps.sseHeartbeatMs,
          shutdown: deps.shutdown,
        });
        return undefined;
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
        success: { status: 200, body: runViewSchema },
        idempotent: true,
      },
      async ({ caller, params, query, body, context, idempotencyKey, res }) => {
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
        return answerRun({ caller, context, res, query }, params.id, state);
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
        success: { status: 200, body: runViewSchema },
        idempotent: true,
      },
      async ({ caller, params, query, context, idempotencyKey, res }) => {
        const { state } = await submitRunCommand(deps, {
          runId: params.id,
          userId: caller.user.user_id,
          actor: actorOf(caller),
          idempotencyKey,
          type: 'cancel',
          correlationId: correlationOf(context),
          waitMs: query.wait_ms,
        });
        return answerRun({ caller, context, res, query }, params.id, state);
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
        success: { status: 200, body: runViewSchema },
        idempotent: true,
      },
      async ({ caller, params, query, body, context, idempotencyKey, res }) => {
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
        return answerRun({ caller, context, res, query }, params.id, state);
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
        success: { status: 201, body: createBranchResponseSchema },
        idempotent: true,
      },
      async ({ caller, params, query, body, context, idempotencyKey, res }) => {
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
        res.status(state === 'applied' ? 201 : 202).json({ branch, run: runView(run) });
        return undefined;
      },
    ),
    defineRoute(
      {
        method: 'get',
        path: '/v1/runs/:id/branches',
        summary: "The run's branches with their parents, fork points and lineage",
        auth: 'user',
        params: runIdParamsSchema,
        success: { status: 200, body: branchListSchema },
      },
      ({ caller, params }) => listBranches(deps.models, caller.user.user_id, params.id),
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
        upload: { mediaTypes: workflowMediaTypes, maxBytes: deps.maxUploadBytes, optional: true },
        success: { status: 200, body: runViewSchema },
      },
      async ({ caller, params, query, upload, context, res }) => {
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
          res.status(202).json({ job_id: outcome.jobId });
          return undefined;
        }
        return answerRun({ caller, context, res, query }, params.id, outcome.state);
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
        success: { status: 200, body: runViewSchema },
        idempotent: true,
      },
      async ({ caller, params, query, body, context, idempotencyKey, res }) => {
        const outcome = await confirmResume(deps, {
          userId: caller.user.user_id,
          actor: actorOf(caller),
          idempotencyKey,
          runId: params.id,
          choice: body.choice,
          submittedVersionId: body.submitted_version_id,
          restartAt: body.restart_at,
          correlationId: correlationOf(context),
          waitMs: query.wait_ms,
        });
        return answerRun(
          { caller, context, res, query },
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
        success: {
          status: 200,
          body: z.object({ items: z.array(z.record(z.string(), z.unknown())) }),
        },
      },
      ({ caller, params }) => listArtifacts(deps.models, caller.user.user_id, params.id),
    ),
    defineRoute(
      {
        method: 'get',
        path: '/v1/runs/:id/usage',
        summary: 'LLM tokens and cost the run spent, per call and in total',
        auth: 'user',
        params: runIdParamsSchema,
        success: {
          status: 200,
          body: runUsageSchema,
        },
      },
      ({ caller, params }) => runUsage(deps.models, caller.user.user_id, params.id),
    ),
    defineRoute(
      {
        method: 'get',
        path: '/v1/artifacts/:artifact_id/content',
        summary: "An artifact's bytes (streamed; ETag is its sha256; honours If-None-Match)",
        auth: 'user',
        params: z.strictObject({ artifact_id: idSchema('artifact') }),
        success: { status: 200 },
      },
      async ({ caller, params, req, res }) => {
        await sendArtifactContent(
          deps.mongo,
          deps.models,
          caller.user.user_id,
          params.artifact_id,
          req,
          res,
        );
        return undefined;
      },
    ),
  ];
}
