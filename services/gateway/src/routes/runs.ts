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

export interface RunRouteDependencies extends RunCommandDependencies {
  mongo: Connection;
  models: Models;
  notifications: RunNotifications;
  sseHeartbeatMs: number;
  shutdown: AbortSignal;
}

const correlationOf = (context: RequestContext) => context.correlationId ?? newId('correlation');

/** Waits (up to `waitMs`) until the run is no longer `running`, then answers it as it stands. */
async function awaitSettled(
  deps: RunRouteDependencies,
  userId: string,
  runId: string,
  waitMs: number,
) {
  const signal = new ChangeSignal();
  const unsubscribe = deps.notifications.subscribe(runId, signal.notify);
  try {
    const deadline = Date.now() + waitMs;
    for (;;) {
      const run = await findRun(deps.models, userId, runId);
      const left = deadline - Date.now();
      if (run.status !== 'running' || left <= 0) return run;
      // Re-read at least every second even without an announcement (a lost one only costs latency).
      await signal.wait(Math.min(left, 1_000), deps.shutdown);
    }
  } finally {
    unsubscribe();
  }
}

export function runRoutes(deps: RunRouteDependencies): RouteDefinition[] {
  const answerRun = async (
    userId: string,
    runId: string,
    res: Response,
    state: 'applied' | 'pending',
    appliedStatus = 200,
  ) => {
    const run = await findRun(deps.models, userId, runId);
    res.status(state === 'applied' ? appliedStatus : 202).json(runView(run));
    return undefined;
  };

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
        return answerRun(caller.user.user_id, run.workflow_run_id, res, state, 201);
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
      async ({ caller, params, query }) => {
        const run = query.wait
          ? await awaitSettled(deps, caller.user.user_id, params.id, query.wait_ms)
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
      },
      async ({ caller, params, query, body, context, res }) => {
        const state = await submitRunCommand(deps, {
          runId: params.id,
          userId: caller.user.user_id,
          type: 'respond',
          payload: { interaction_id: params.interaction_id, response: body.response ?? null },
          correlationId: correlationOf(context),
          waitMs: query.wait_ms,
        });
        return answerRun(caller.user.user_id, params.id, res, state);
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
      },
      async ({ caller, params, query, context, res }) => {
        const state = await submitRunCommand(deps, {
          runId: params.id,
          userId: caller.user.user_id,
          type: 'cancel',
          correlationId: correlationOf(context),
          waitMs: query.wait_ms,
        });
        return answerRun(caller.user.user_id, params.id, res, state);
      },
    ),
  ];
}
