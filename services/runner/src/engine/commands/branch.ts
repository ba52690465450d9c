import { replayEvents } from '@stepwise/shared';
import { advance } from '../advance.js';
import type { Decision } from '../decision.js';
import { reject, type CommandContext } from './context.js';

/** Forks a new branch off the branch an event belongs to, at that event, and goes on from there. */
export async function decideBranch(
  { run, session, deps }: CommandContext,
  payload: { from_event_id: string; branch_id: string },
): Promise<Decision> {
  const eventId = payload.from_event_id;
  const event = await deps.history.findEvent(run.workflow_run_id, eventId);
  if (!event) return reject('NOT_FOUND', `event '${eventId}' not found in this run`);
  // The new branch forks off the branch the event belongs to, so two forks from one event are
  // siblings.
  const owner = await deps.history.readBranch(run.workflow_run_id, event.branch_id);
  if (!owner) throw new Error(`branch ${event.branch_id} of event ${eventId} is missing`);
  const past = await deps.history.visibleEvents(owner, event.seq);
  session.rebase(replayEvents(payload.branch_id, past, run.initial_version_id));
  session.emit('branch_created', null, {
    branch_id: payload.branch_id,
    parent_branch_id: owner.branch_id,
    branch_point_event_id: event.event_id,
    branch_point_seq: event.seq,
    lineage: [...owner.lineage, { branch_id: owner.branch_id, until_seq: event.seq }],
  });
  await advance(session, run, await deps.loadPlan(session.snapshot.version_id), deps);
  return session.toDecision();
}
