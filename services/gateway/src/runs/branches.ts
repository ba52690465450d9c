import {
  NotFoundError,
  StepwiseError,
  newId,
  type Actor,
  type BranchRecord,
  type BranchView,
} from '@stepwise/shared';
import type { Models } from '@stepwise/shared/node';
import {
  submitRunCommand,
  type CommandState,
  type RunCommandDependencies,
} from './run-commands.js';
import { findRun } from './run-queries.js';

export function branchView(branch: BranchRecord): BranchView {
  return {
    branch_id: branch.branch_id,
    workflow_run_id: branch.workflow_run_id,
    parent_branch_id: branch.parent_branch_id,
    branch_point_event_id: branch.branch_point_event_id,
    lineage: branch.lineage.map((ancestor) => ({
      branch_id: ancestor.branch_id,
      until_seq: ancestor.until_seq,
    })),
    status: branch.status,
    created_at: branch.created_at.toISOString(),
  };
}

export async function listBranches(models: Models, userId: string, runId: string) {
  const run = await findRun(models, userId, runId);
  const branches = await models.branches
    .find({ workflow_run_id: run.workflow_run_id })
    .sort({ created_at: 1, branch_id: 1 })
    .lean();
  // The run document says which branch is active; branch records follow it.
  return {
    items: branches.map((branch) =>
      branchView({
        ...branch,
        status: branch.branch_id === run.active_branch_id ? 'active' : 'inactive',
      }),
    ),
  };
}

/**
 * A version to fork onto must be the caller's (another user's is as unknown as a made-up id) and
 * one of the run's template; whether the fork position exists in it is the runner's to tell.
 */
async function assertVersionOfRun(
  models: Models,
  userId: string,
  run: { workflow_template_id: string; workflow_template_name: string },
  versionId: string,
): Promise<void> {
  const version = await models.versions
    .findOne({ workflow_version_id: versionId, user_id: userId })
    .select({ workflow_template_id: 1 })
    .lean();
  if (!version) throw new NotFoundError('version', versionId);
  if (version.workflow_template_id !== run.workflow_template_id) {
    throw new StepwiseError(
      'CONFLICT',
      `version '${versionId}' is of another template than the run's (${run.workflow_template_name})`,
      [
        {
          path: 'body.workflow_version_id',
          message: `must be a version of '${run.workflow_template_name}'`,
        },
      ],
    );
  }
}

/**
 * Forks the run at an event of any of its branches; the new branch becomes the active one. With a
 * version, the branch goes on with that version of the run's template.
 */
export async function createBranch(
  deps: RunCommandDependencies,
  input: {
    userId: string;
    runId: string;
    fromEventId: string;
    workflowVersionId: string | undefined;
    reuseAnswers: boolean;
    correlationId: string;
    actor: Actor;
    idempotencyKey: string | undefined;
    waitMs: number;
  },
): Promise<{ state: CommandState; branch: BranchView | null }> {
  const run = await findRun(deps.models, input.userId, input.runId);
  if (
    !(await deps.models.events.exists({
      workflow_run_id: run.workflow_run_id,
      event_id: input.fromEventId,
    }))
  ) {
    throw new NotFoundError('event', input.fromEventId);
  }
  if (input.workflowVersionId !== undefined) {
    await assertVersionOfRun(deps.models, input.userId, run, input.workflowVersionId);
  }
  const { state, command } = await submitRunCommand(deps, {
    runId: run.workflow_run_id,
    userId: input.userId,
    type: 'branch',
    payload: {
      from_event_id: input.fromEventId,
      branch_id: newId('branch'),
      ...(input.workflowVersionId === undefined
        ? {}
        : { workflow_version_id: input.workflowVersionId }),
      ...(input.reuseAnswers ? { reuse_answers: true } : {}),
    },
    correlationId: input.correlationId,
    actor: input.actor,
    idempotencyKey: input.idempotencyKey,
    waitMs: input.waitMs,
  });
  // A repeated Idempotency-Key answers the first request's branch.
  const branchId = String(command.payload['branch_id']);
  const branch = await deps.models.branches
    .findOne({ workflow_run_id: run.workflow_run_id, branch_id: branchId })
    .lean();
  return { state, branch: branch ? branchView({ ...branch, status: 'active' }) : null };
}
