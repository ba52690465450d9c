import type { BranchSnapshot, PendingInteraction, RunError, RunStatus } from '../records.js';
import { isEventType } from './event-data.js';
import type { EventType, FoldableEvent } from './events.js';
import {
  eventHandlers,
  toFoldEvent,
  type EventHandler,
  type EventHandlers,
  type FoldEvent,
} from './reducers/index.js';

/**
 * The one fold from events to a branch's state. The runner uses it while deciding, the gateway
 * when a snapshot must be rolled forward, and tests when they replay a whole log: all three get
 * the same answer because there is only this one. One handler per event type lives in
 * `./reducers/`; golden histories (test/fixtures/golden-histories) pin what old logs fold to.
 */

export { eventHandlers, toFoldEvent };
export type { EventHandler, EventHandlers, FoldEvent };

export function emptySnapshot(branchId: string, versionId: string): BranchSnapshot {
  return {
    branch_id: branchId,
    version_id: versionId,
    as_of_seq: 0,
    state: {},
    status: 'running',
    cursor: null,
    attempt: 0,
    retry_at: null,
    open_step: null,
    pending_interaction: null,
    error: null,
    feedback: null,
    attempt_key: null,
  };
}

const handlers: EventHandlers = eventHandlers;

function dispatch<K extends EventType>(snapshot: BranchSnapshot, event: FoldEvent<K>) {
  const handler: EventHandler<K> = handlers[event.event_type];
  return handler(snapshot, event);
}

export function applyEvent(snapshot: BranchSnapshot, event: FoldableEvent): BranchSnapshot {
  const next: BranchSnapshot = { ...snapshot, as_of_seq: event.seq };
  // A type this version does not know (a migration may keep the old system's verbatim) moves
  // only the position in the log.
  if (!isEventType(event.event_type)) return next;
  return dispatch(next, toFoldEvent(event));
}

export function replayEvents(
  branchId: string,
  events: readonly FoldableEvent[],
  versionId = '',
): BranchSnapshot {
  return events.reduce(applyEvent, emptySnapshot(branchId, versionId));
}

/** The run document's user-facing fields, derived from the active branch's snapshot. */
export function runFieldsOf(snapshot: BranchSnapshot): {
  status: RunStatus;
  current_step: string | null;
  current_module: string | null;
  pending_interaction: PendingInteraction | null;
  error: RunError | null;
} {
  return {
    status: snapshot.status,
    current_step: snapshot.cursor?.step_id ?? null,
    current_module: snapshot.cursor?.module_name ?? null,
    pending_interaction: snapshot.pending_interaction,
    error: snapshot.status === 'error' ? snapshot.error : null,
  };
}
