import {
  changeRunQuerySchema,
  confirmResumeBodySchema,
  createBranchBodySchema,
  createBranchResponseSchema,
  createRunBodySchema,
  interactionBodySchema,
  interactionParamsSchema,
  jobAcceptedSchema,
  newId,
  resumeQuerySchema,
  retryBodySchema,
  runIdParamsSchema,
  runViewSchema,
  workflowDefinitionSchema,
  type Actor,
  type RunView,
  type WorkflowRunRecord,
} from '@stepwise/shared';
import { z } from 'zod';
import { defineRoute, type RouteDefinition } from '../http/route-builder.js';
import { json } from '../http/responses.js';
import type { RequestContext, UserCaller } from '../http/request-context.js';
import { createRun } from '../runs/create-run.js';
import { dispatchCommand, submitRunCommand } from '../runs/run-commands.js';
import { ChangeSignal } from '../runs/run-notifications.js';
import { findRun } from '../runs/run-queries.js';
import { runView, runViewProjection } from '../runs/run-views.js';
import { createBranch } from '../runs/branches.js';
import { confirmResume, resumeRun } from '../runs/resume.js';
import type { RunRouteDependencies } from './runs.js';

const workflowMediaTypes = ['application/zip', 'application/x-zip-compressed', 'application/json'];

/** The routes that change a run: each sends a command and answers the run it leads to (api.md). */

const correlationOf = (context: RequestContext) => context.correlationId ?? newId('correlation');

/**
 * True when a run needs nothing more from the engine right now: it asks a question, has ended,
 * waits out a retry backoff, or waits on an outside job (`api.job`). A command's answer waits for this (effects.md, rule 1).
 */
function atRest(run: { status: string; snapshot?: { cursor: { phase: string } | null } }): boolean {
  const phase = run.snapshot?.cursor?.phase;
  return run.status !== 'running' || phase === 'retry_wait' || phase === 'job_wait';
}

/**
 * What telling rest and answering need of a run: its view's fields and its cursor's phase (a retry
 * or job wait is rest); the snapshot's state and request, which can be large, stay behind.
 */
const restProjection = { ...runViewProjection, 'snapshot.cursor': 1 } as const;

/** Waits until `deadline` for the run to come to rest (see atRest), then answers it as it stands. */
export async function awaitRest(
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
      const run = await findRun(deps.models, userId, runId, restProjection);
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
/** A run as POST /v1/runs answers it, waiting at its first question (for the document). */
const startedRunExample: RunView = {
  workflow_run_id: 'run_5f0c2a9e8b7d6c5b4a392817',
  workflow_template_id: 'tpl_1a2b3c4d5e6f7a8b9c0d1e2f',
  workflow_template_name: 'pet_clips',
  user_id: 'usr_0f1e2d3c4b5a69788796a5b4',
  initial_version_id: 'ver_01a22a50-b929-72e4-9413-c3163b656a55',
  current_version_id: 'ver_01a22a50-b929-72e4-9413-c3163b656a55',
  project_name: 'spring-campaign',
  status: 'awaiting_input',
  current_step: 'ideas',
  current_module: 'choose_idea',
  active_branch_id: 'br_362e9ec531172a7b5e147724',
  pending_interaction: {
    interaction_id: 'int_b17e7e6c3c9d49a5e2911e0f',
    module_id: 'user.select',
    step_id: 'ideas',
    module_name: 'choose_idea',
    request: {
      prompt: 'Which idea should we film?',
      options: [
        {
          index: 0,
          value: 'kittens asleep in a sunbeam',
          key: 'idea:kittens asleep in a sunbeam',
          last_used: null,
        },
        {
          index: 1,
          value: 'kittens versus a cucumber',
          key: 'idea:kittens versus a cucumber',
          last_used: '2026-11-28T17:02:11.000Z',
        },
      ],
      multi: false,
      min: 1,
      max: 1,
    },
  },
  error: null,
  last_seq: 6,
  created_at: '2026-11-30T09:00:00.000Z',
  updated_at: '2026-11-30T09:00:00.412Z',
};

const runAccepted = json(
  runViewSchema,
  'Accepted, but the run is still moving when wait_ms ran out (or the command is not applied yet): the run as it stands',
);
/** Errors every command on a run can answer. */
const commandErrors = ['NOT_FOUND', 'RUN_FINISHED', 'CONFLICT'] as const;

/** Who sent a request, for the command record and the events it causes. */
export function actorOf(caller: UserCaller): Actor {
  return {
    user_id: caller.user.user_id,
    key_id: caller.keyId,
    ...(caller.sessionId === null ? {} : { session_id: caller.sessionId }),
  };
}

export function runChangeRoutes(deps: RunRouteDependencies): RouteDefinition[] {
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
        : await findRun(deps.models, userId, runId, runViewProjection);
    return { status: state === 'applied' && atRest(run) ? appliedStatus : 202, body: runView(run) };
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
        bodyExample: {
          workflow_template_name: 'pet_clips',
          project_name: 'spring-campaign',
          initial_state: { topic: 'kittens' },
        },
        responses: {
          201: json(runViewSchema, 'Started, and the run came to rest (a question, the end)', {
            example: startedRunExample,
          }),
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
        method: 'post',
        path: '/v1/runs/:id/interactions/:interaction_id',
        summary: 'Answer the pending interaction',
        auth: 'user',
        params: interactionParamsSchema,
        query: changeRunQuerySchema,
        body: interactionBodySchema,
        bodyExample: { response: { selected_indices: [0] } },
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
        bodyExample: { step_id: 'ideas', feedback: 'Shorter and funnier, please' },
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
            ...(body.reuse_answers === true ? { reuse_answers: true } : {}),
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
        summary:
          'Fork the run at any of its events, optionally onto another version of its template; the new branch becomes the active one',
        auth: 'user',
        params: runIdParamsSchema,
        query: changeRunQuerySchema,
        body: createBranchBodySchema,
        responses: {
          201: json(createBranchResponseSchema, 'The branch is made and active'),
          202: json(createBranchResponseSchema, 'Accepted, not applied yet (branch is null)'),
        },
        errors: [...commandErrors, 'POSITION_NOT_IN_VERSION'],
        idempotent: true,
      },
      async ({ caller, params, query, body, context, idempotencyKey }) => {
        const { state, branch } = await createBranch(deps, {
          userId: caller.user.user_id,
          actor: actorOf(caller),
          idempotencyKey,
          runId: params.id,
          fromEventId: body.from_event_id,
          workflowVersionId: body.workflow_version_id,
          reuseAnswers: body.reuse_answers === true,
          correlationId: correlationOf(context),
          waitMs: query.wait_ms,
        });
        const run = await findRun(deps.models, caller.user.user_id, params.id);
        return { status: state === 'applied' ? 201 : 202, body: { branch, run: runView(run) } };
      },
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
          restartAt: 'restart_at' in body ? body.restart_at : undefined,
          reuseAnswers: 'reuse_answers' in body && body.reuse_answers === true,
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
  ];
}
