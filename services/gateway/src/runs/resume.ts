import {
  StepwiseError,
  assertEntryPointApplies,
  describeVersionChange,
  idPattern,
  newId,
  workflowDefinitionSchema,
  type Actor,
  type ResumeChoice,
  type RunView,
  type VersionChangeView,
  type WorkflowRunRecord,
  type WorkflowVersionRecord,
} from '@stepwise/shared';
import { findCommandByRequestKey, readResolvedWorkflow } from '@stepwise/shared/node';
import type { Connection } from 'mongoose';
import { submitWorkflow, type SubmissionDependencies } from '../workflows/submissions.js';
import { createRun } from './create-run.js';
import {
  dispatchCommand,
  submitRunCommand,
  type CommandState,
  type RunCommandDependencies,
} from './run-commands.js';
import { findRun } from './run-queries.js';

export interface ResumeDependencies extends RunCommandDependencies, SubmissionDependencies {
  mongo: Connection;
}

const finished = new Set(['completed', 'cancelled']);

function assertResumable(run: WorkflowRunRecord): void {
  if (finished.has(run.status)) {
    throw new StepwiseError(
      'RUN_FINISHED',
      `the run is ${run.status}; branch from an earlier event to reopen it`,
    );
  }
}

async function loadWorkflow(deps: ResumeDependencies, version: WorkflowVersionRecord) {
  return workflowDefinitionSchema.parse(await readResolvedWorkflow(deps.mongo, version));
}

async function ownVersion(deps: ResumeDependencies, userId: string, versionId: string) {
  const version = await deps.models.versions
    .findOne({ workflow_version_id: versionId, user_id: userId })
    .lean();
  if (!version) throw new StepwiseError('NOT_FOUND', `version '${versionId}' not found`);
  return version;
}

function sameTemplate(run: WorkflowRunRecord, version: WorkflowVersionRecord): void {
  if (version.workflow_template_id !== run.workflow_template_id) {
    throw new StepwiseError(
      'CONFLICT',
      `that workflow is another template than the run's (${run.workflow_template_name})`,
      [{ path: 'workflow_id', message: `must be '${run.workflow_template_name}'` }],
    );
  }
}

export type ResumeOutcome =
  { kind: 'command'; state: CommandState } | { kind: 'submission_pending'; jobId: string };

/**
 * `POST /runs/{id}/resume`. Without a workflow, or with one that resolves to the run's current
 * version, the run continues. With another version, nothing changes and the caller learns what
 * differs (409 VERSION_MISMATCH), to choose with `resume/confirm`.
 */
export async function resumeRun(
  deps: ResumeDependencies,
  input: {
    userId: string;
    runId: string;
    upload: { bytes: Buffer; sourceType: 'zip' | 'json' } | null;
    entryPoint?: string | undefined;
    correlationId: string;
    actor: Actor;
    waitMs: number;
  },
): Promise<ResumeOutcome> {
  // Checked before the run is looked up, as POST /v1/workflows checks it first: the same bad
  // entry_point gets the same answer from both routes.
  assertEntryPointApplies(input.upload?.sourceType ?? null, input.entryPoint);
  const run = await findRun(deps.models, input.userId, input.runId);
  assertResumable(run);
  const resume = async (): Promise<ResumeOutcome> => ({
    kind: 'command',
    state: (
      await submitRunCommand(deps, {
        runId: run.workflow_run_id,
        userId: input.userId,
        type: 'resume',
        correlationId: input.correlationId,
        actor: input.actor,
        waitMs: input.waitMs,
      })
    ).state,
  });
  if (!input.upload) return resume();

  const submitted = await submitWorkflow(deps, {
    userId: input.userId,
    bytes: input.upload.bytes,
    sourceType: input.upload.sourceType,
    entryPoint: input.entryPoint,
    // A workflow of another template is refused by the resolver before it stores anything.
    expectedTemplateName: run.workflow_template_name,
    // A resolve job carries one of our own correlation ids; a client's X-Correlation-Id (any
    // short token) stays with the run's command and events.
    correlationId: idPattern('correlation').test(input.correlationId)
      ? input.correlationId
      : newId('correlation'),
    waitMs: input.waitMs,
  });
  if (submitted.state === 'pending') return { kind: 'submission_pending', jobId: submitted.jobId };
  const version = await ownVersion(deps, input.userId, submitted.version.workflow_version_id);
  sameTemplate(run, version);
  if (version.workflow_version_id === run.current_version_id) return resume();

  const view = await compareWithVersion(deps, input.userId, run, version);
  throw new StepwiseError(
    'VERSION_MISMATCH',
    `the submitted workflow is version ${version.workflow_version_id}; the run is on ${run.current_version_id}` +
      (view.warning ? `. ${view.warning}` : ''),
    view,
  );
}

/** The run's version against another of its template, placed against the run's position. */
async function compareWithVersion(
  deps: ResumeDependencies,
  userId: string,
  run: WorkflowRunRecord,
  version: WorkflowVersionRecord,
): Promise<VersionChangeView> {
  const current = await ownVersion(deps, userId, run.current_version_id);
  return describeVersionChange({
    current: await loadWorkflow(deps, current),
    submitted: await loadWorkflow(deps, version),
    currentVersionId: run.current_version_id,
    submittedVersionId: version.workflow_version_id,
    position:
      run.current_step && run.current_module
        ? { step_id: run.current_step, module_name: run.current_module }
        : null,
    finished: finished.has(run.status),
  });
}

/** `GET /runs/{id}/version-changes`: what moving the run onto that version would change. */
export async function versionChangesFor(
  deps: ResumeDependencies,
  input: { userId: string; runId: string; versionId: string },
): Promise<VersionChangeView> {
  const run = await findRun(deps.models, input.userId, input.runId);
  const version = await ownVersion(deps, input.userId, input.versionId);
  sameTemplate(run, version);
  return compareWithVersion(deps, input.userId, run, version);
}

/**
 * The step a `restart_at` choice without one goes back to: the step holding the earliest change
 * behind the run's position. A repeat of the request (same Idempotency-Key) takes the step the
 * first one took: by then the run has moved and nothing may lie behind it any more.
 */
async function suggestedRestart(
  deps: ResumeDependencies,
  input: { userId: string; idempotencyKey: string | undefined },
  run: WorkflowRunRecord,
  version: WorkflowVersionRecord,
): Promise<string> {
  if (input.idempotencyKey !== undefined) {
    const first = await findCommandByRequestKey(deps.models, input.userId, input.idempotencyKey);
    const step = first?.payload?.['restart_at'];
    if (first?.workflow_run_id === run.workflow_run_id && typeof step === 'string') return step;
  }
  const suggested = (await compareWithVersion(deps, input.userId, run, version))
    .suggested_restart_at;
  if (suggested === null) {
    throw new StepwiseError(
      'CONFLICT',
      "no change lies behind the run's position, so there is no step to suggest: name one in restart_at",
      [{ path: 'body.restart_at', message: 'required here' }],
    );
  }
  return suggested;
}

/** `POST /runs/{id}/resume/confirm`: carries out the choice. `start_fresh` answers a new run. */
export async function confirmResume(
  deps: ResumeDependencies,
  input: {
    userId: string;
    runId: string;
    choice: ResumeChoice;
    submittedVersionId: string;
    restartAt?: string | undefined;
    reuseAnswers?: boolean;
    correlationId: string;
    actor: Actor;
    idempotencyKey: string | undefined;
    waitMs: number;
  },
): Promise<{ run: RunView | null; runId: string; state: CommandState; created: boolean }> {
  const run = await findRun(deps.models, input.userId, input.runId);
  const version = await ownVersion(deps, input.userId, input.submittedVersionId);
  sameTemplate(run, version);

  if (input.choice === 'start_fresh') {
    const fresh = await createRun(deps.mongo, deps.models, {
      userId: input.userId,
      body: { workflow_version_id: version.workflow_version_id, project_name: run.project_name },
      correlationId: input.correlationId,
    });
    const state = await dispatchCommand(deps, fresh.command, input.waitMs);
    return { run: null, runId: fresh.run.workflow_run_id, state, created: true };
  }
  assertResumable(run);
  const restartAt =
    input.choice === 'restart_at' && input.restartAt === undefined
      ? await suggestedRestart(deps, input, run, version)
      : input.restartAt;
  const switching =
    input.choice === 'restart_at' ||
    (input.choice === 'continue_with_new' &&
      (version.workflow_version_id !== run.current_version_id || restartAt !== undefined));
  const { state } = await submitRunCommand(deps, {
    runId: run.workflow_run_id,
    userId: input.userId,
    actor: input.actor,
    idempotencyKey: input.idempotencyKey,
    type: switching ? 'switch_version' : 'resume',
    payload: switching
      ? {
          to_version_id: version.workflow_version_id,
          ...(restartAt ? { restart_at: restartAt } : {}),
          ...(input.reuseAnswers === true ? { reuse_answers: true } : {}),
        }
      : {},
    correlationId: input.correlationId,
    waitMs: input.waitMs,
  });
  return { run: null, runId: run.workflow_run_id, state, created: false };
}
