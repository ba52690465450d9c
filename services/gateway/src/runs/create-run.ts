import type { Connection } from 'mongoose';
import {
  NotFoundError,
  emptySnapshot,
  newId,
  workflowDefinitionSchema,
  type CreateRunBody,
  type RunCommandRecord,
  type WorkflowRunRecord,
} from '@stepwise/shared';
import { readResolvedWorkflow, type Models } from '@stepwise/shared/node';

/** The version a new run starts on: the one named, or the template's newest. */
async function chooseVersion(models: Models, userId: string, body: CreateRunBody) {
  if (body.workflow_version_id) {
    const version = await models.versions
      .findOne({ workflow_version_id: body.workflow_version_id, user_id: userId })
      .lean();
    if (!version) throw new NotFoundError('version', body.workflow_version_id);
    return version;
  }
  const name = body.workflow_template_name ?? '';
  const template = await models.templates
    .findOne({ user_id: userId, workflow_template_name: name })
    .lean();
  if (!template) throw new NotFoundError('template', name);
  // Version ids are UUIDv7: the greatest is the newest.
  const version = await models.versions
    .findOne({ workflow_template_id: template.workflow_template_id })
    .sort({ workflow_version_id: -1 })
    .lean();
  if (!version) throw new NotFoundError('template', name);
  return version;
}

/**
 * Creates a run and its start command. The writes are ordered so that an interruption leaves a
 * run the runners' sweep can start (a running run with no events), never a command without a run.
 */
export async function createRun(
  mongo: Connection,
  models: Models,
  input: { userId: string; body: CreateRunBody; correlationId: string; now?: Date },
): Promise<{ run: WorkflowRunRecord; command: RunCommandRecord }> {
  const version = await chooseVersion(models, input.userId, input.body);
  const template = await models.templates
    .findOne({ workflow_template_id: version.workflow_template_id })
    .lean();
  if (!template) throw new NotFoundError('template', version.workflow_template_id);
  const workflow = workflowDefinitionSchema.parse(await readResolvedWorkflow(mongo, version));
  const now = input.now ?? new Date();
  const runId = newId('run');
  const branchId = newId('branch');

  // Records are inserted as built (typed and complete already): on this hot path mongoose's
  // document machinery cost more CPU than the writes themselves (see docs/performance.md).
  await models.branches.collection.insertOne({
    branch_id: branchId,
    workflow_run_id: runId,
    parent_branch_id: null,
    branch_point_event_id: null,
    lineage: [],
    status: 'active',
    created_at: now,
  });
  const run: WorkflowRunRecord = {
    workflow_run_id: runId,
    workflow_template_id: template.workflow_template_id,
    workflow_template_name: template.workflow_template_name,
    user_id: input.userId,
    initial_version_id: version.workflow_version_id,
    current_version_id: version.workflow_version_id,
    project_name: input.body.project_name,
    initial_state: { ...workflow.initial_state, ...input.body.initial_state },
    status: 'running',
    current_step: null,
    current_module: null,
    pending_interaction: null,
    error: null,
    active_branch_id: branchId,
    last_seq: 0,
    command_seq: 1,
    applied_command_seq: 0,
    last_rejection: null,
    snapshot: emptySnapshot(branchId, version.workflow_version_id),
    outbox: [],
    created_at: now,
    updated_at: now,
  };
  await models.runs.collection.insertOne({ ...run });
  const command: RunCommandRecord = {
    command_id: newId('command'),
    workflow_run_id: runId,
    user_id: input.userId,
    seq: 1,
    type: 'start',
    payload: {},
    correlation_id: input.correlationId,
    status: 'pending',
    error: null,
    accepted_at: now,
    finished_at: null,
  };
  await models.runCommands.collection.insertOne({ ...command });
  return { run, command };
}
