import type { Connection } from 'mongoose';
import {
  NotFoundError,
  emptySnapshot,
  newId,
  workflowDefinitionSchema,
  type Actor,
  type CreateRunBody,
  type RunCommandRecord,
  type WorkflowRunRecord,
  type WorkflowVersionRecord,
} from '@stepwise/shared';
import { newCommandRecord, readResolvedWorkflow, type Models } from '@stepwise/shared/node';

/** What a run needs of the version it starts on. */
interface StartingPoint {
  user_id: string;
  workflow_version_id: string;
  workflow_template_id: string;
  workflow_template_name: string;
  initial_state: Record<string, unknown>;
}

const MAX_KEPT_STARTING_POINTS = 1_000;
const keptStartingPoints = new WeakMap<Models, Map<string, StartingPoint>>();

/**
 * A version's starting point, read once per process: versions never change once stored, nor do a
 * template's id and name, so the kept copy cannot go stale (least recently used out first).
 */
async function startingPointOf(
  mongo: Connection,
  models: Models,
  version: WorkflowVersionRecord,
): Promise<StartingPoint> {
  let kept = keptStartingPoints.get(models);
  if (!kept) {
    kept = new Map();
    keptStartingPoints.set(models, kept);
  }
  const hit = kept.get(version.workflow_version_id);
  if (hit) return hit;
  const template = await models.templates
    .findOne({ user_id: version.user_id, workflow_template_id: version.workflow_template_id })
    .lean();
  if (!template) throw new NotFoundError('template', version.workflow_template_id);
  const workflow = workflowDefinitionSchema.parse(await readResolvedWorkflow(mongo, version));
  const point = {
    user_id: version.user_id,
    workflow_version_id: version.workflow_version_id,
    workflow_template_id: template.workflow_template_id,
    workflow_template_name: template.workflow_template_name,
    initial_state: workflow.initial_state,
  };
  kept.set(version.workflow_version_id, point);
  if (kept.size > MAX_KEPT_STARTING_POINTS) kept.delete(kept.keys().next().value as string);
  return point;
}

/** The version a new run starts on: the one named, or the template's newest. */
async function chooseVersion(
  mongo: Connection,
  models: Models,
  userId: string,
  body: CreateRunBody,
): Promise<StartingPoint> {
  if (body.workflow_version_id) {
    const kept = keptStartingPoints.get(models)?.get(body.workflow_version_id);
    if (kept) {
      if (kept.user_id !== userId) throw new NotFoundError('version', body.workflow_version_id);
      return kept;
    }
    const version = await models.versions
      .findOne({ workflow_version_id: body.workflow_version_id, user_id: userId })
      .lean();
    if (!version) throw new NotFoundError('version', body.workflow_version_id);
    return startingPointOf(mongo, models, version);
  }
  const name = body.workflow_template_name ?? '';
  const template = await models.templates
    .findOne({ user_id: userId, workflow_template_name: name })
    .lean();
  if (!template) throw new NotFoundError('template', name);
  // The newest by creation time: migrated ids need not sort by it (legacy.md). The id breaks a
  // tie within a millisecond (UUIDv7s of one process do sort by time).
  const version = await models.versions
    .findOne({ user_id: userId, workflow_template_id: template.workflow_template_id })
    .sort({ created_at: -1, workflow_version_id: -1 })
    .lean();
  if (!version) throw new NotFoundError('template', name);
  return startingPointOf(mongo, models, version);
}

/**
 * Creates a run and its start command. The writes are ordered so that an interruption leaves a
 * run the runners' sweep can start (a running run with no events), never a command without a run.
 */
export async function createRun(
  mongo: Connection,
  models: Models,
  input: {
    userId: string;
    body: CreateRunBody;
    correlationId: string;
    actor?: Actor | null;
    now?: Date;
  },
): Promise<{ run: WorkflowRunRecord; command: RunCommandRecord }> {
  const start = await chooseVersion(mongo, models, input.userId, input.body);
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
    workflow_template_id: start.workflow_template_id,
    workflow_template_name: start.workflow_template_name,
    user_id: input.userId,
    initial_version_id: start.workflow_version_id,
    current_version_id: start.workflow_version_id,
    project_name: input.body.project_name,
    initial_state: { ...start.initial_state, ...input.body.initial_state },
    status: 'running',
    current_step: null,
    current_module: null,
    pending_interaction: null,
    error: null,
    active_branch_id: branchId,
    last_seq: 0,
    command_seq: 1,
    applied_command_seq: 0,
    command_accepted_at: now,
    last_rejection: null,
    snapshot: emptySnapshot(branchId, start.workflow_version_id),
    outbox: [],
    created_at: now,
    updated_at: now,
  };
  await models.runs.collection.insertOne({ ...run });
  const command = newCommandRecord(
    {
      runId,
      userId: input.userId,
      type: 'start',
      correlationId: input.correlationId,
      actor: input.actor ?? null,
      now,
    },
    1,
  );
  await models.runCommands.collection.insertOne({ ...command });
  return { run, command };
}
