import { replayEvents, type BranchSnapshot, type WorkflowPlan } from '@stepwise/shared';
import { advance } from '../advance.js';
import type { Decision } from '../decision.js';
import { reject, type CommandContext } from './context.js';

/**
 * Forks a new branch off the branch an event belongs to, at that event, and goes on from there:
 * on the version in force at the fork point, or on the one the command names.
 */
export async function decideBranch(
  { run, session, deps }: CommandContext,
  payload: {
    from_event_id: string;
    branch_id: string;
    workflow_version_id?: string | undefined;
    reuse_answers?: boolean | undefined;
  },
): Promise<Decision> {
  const eventId = payload.from_event_id;
  const event = await deps.history.findEvent(run.workflow_run_id, eventId);
  if (!event) return reject('NOT_FOUND', `event '${eventId}' not found in this run`);
  // The new branch forks off the branch the event belongs to, so two forks from one event are
  // siblings.
  const owner = await deps.history.readBranch(run.workflow_run_id, event.branch_id);
  if (!owner) throw new Error(`branch ${event.branch_id} of event ${eventId} is missing`);
  const past = await deps.history.visibleEvents(owner, event.seq);
  const forked = replayEvents(payload.branch_id, past, run.initial_version_id);
  // The gateway checked that the version is one of the run's template and the caller's; the
  // same version as at the fork point is no change at all, so the event does not name it.
  const ontoVersionId =
    payload.workflow_version_id === forked.version_id ? undefined : payload.workflow_version_id;
  if (ontoVersionId !== undefined) {
    const refusal = refuseIfPositionMissing(
      forked,
      ontoVersionId,
      await deps.loadPlan(run.user_id, ontoVersionId),
    );
    if (refusal) return refusal;
  }
  session.rebase(forked);
  session.emit('branch_created', null, {
    branch_id: payload.branch_id,
    parent_branch_id: owner.branch_id,
    branch_point_event_id: event.event_id,
    branch_point_seq: event.seq,
    lineage: [...owner.lineage, { branch_id: owner.branch_id, until_seq: event.seq }],
    ...(ontoVersionId === undefined ? {} : { workflow_version_id: ontoVersionId }),
    ...(payload.reuse_answers === true ? { reuse_answers: true as const } : {}),
  });
  await advance(session, run, await deps.loadPlan(run.user_id, session.snapshot.version_id), deps);
  return session.toDecision();
}

/** A branch goes on from its fork position, so that position must be one the version has. */
function refuseIfPositionMissing(
  forked: BranchSnapshot,
  versionId: string,
  plan: WorkflowPlan,
): Decision | null {
  const cursor = forked.cursor;
  if (!cursor || plan.indexOf(cursor.step_id, cursor.module_name) >= 0) return null;
  return reject(
    'POSITION_NOT_IN_VERSION',
    `at that event the run stands at ${cursor.step_id}.${cursor.module_name}, which version ${versionId} does not have; fork at an event the version has a position for, or without workflow_version_id`,
    { position: { step_id: cursor.step_id, module_name: cursor.module_name } },
  );
}
