import type { BranchSnapshot, PendingInteraction, RunError, RunStatus } from '../records.js';
import type { FoldableEvent } from './events.js';

/**
 * The one fold from events to a branch's state. The runner uses it while deciding, the gateway
 * when a snapshot must be rolled forward, and tests when they replay a whole log: all three get
 * the same answer because there is only this one.
 */

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
  };
}

function position(value: unknown): { step_id: string; module_name: string } | null {
  const candidate = record(value);
  return typeof candidate['step_id'] === 'string' && typeof candidate['module_name'] === 'string'
    ? { step_id: candidate['step_id'], module_name: candidate['module_name'] }
    : null;
}

/** A feedback is read by its module once; it is spent when that module completes or is skipped. */
function spendFeedback(snapshot: BranchSnapshot, event: FoldableEvent): BranchSnapshot['feedback'] {
  const feedback = snapshot.feedback;
  return feedback &&
    feedback.step_id === event.step_id &&
    feedback.module_name === event.module_name
    ? null
    : feedback;
}

/** Failed, waiting or asking: after a resume or a version switch the module runs again. */
const rerunnable = new Set(['failed', 'awaiting_input', 'retry_wait']);

function record(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : {};
}

function at(event: FoldableEvent, phase: NonNullable<BranchSnapshot['cursor']>['phase']) {
  return { step_id: event.step_id ?? '', module_name: event.module_name ?? '', phase };
}

export function applyEvent(snapshot: BranchSnapshot, event: FoldableEvent): BranchSnapshot {
  const next: BranchSnapshot = { ...snapshot, as_of_seq: event.seq };
  const data = event.data;
  switch (event.event_type) {
    case 'run_created':
      return {
        ...next,
        state: { ...record(data['initial_state']) },
        status: 'running',
        cursor: null,
      };
    case 'step_started':
      return { ...next, open_step: event.step_id };
    case 'step_completed':
      return { ...next, open_step: null };
    case 'module_started':
      return {
        ...next,
        status: 'running',
        cursor: at(event, 'started'),
        attempt: typeof data['attempt'] === 'number' ? data['attempt'] : 1,
        retry_at: null,
        error: null,
      };
    case 'module_completed':
      return {
        ...next,
        state: { ...snapshot.state, ...record(data['state_changes']) },
        cursor: at(event, 'completed'),
        attempt: 0,
        pending_interaction: null,
        feedback: spendFeedback(snapshot, event),
      };
    case 'module_skipped':
      return {
        ...next,
        cursor: at(event, 'skipped'),
        attempt: 0,
        feedback: spendFeedback(snapshot, event),
      };
    case 'module_failed':
      return data['will_retry'] === true
        ? {
            ...next,
            cursor: at(event, 'retry_wait'),
            retry_at: typeof data['retry_at'] === 'string' ? data['retry_at'] : null,
          }
        : { ...next, cursor: at(event, 'failed'), error: record(data['error']) as RunError };
    case 'interaction_requested':
      return {
        ...next,
        status: 'awaiting_input',
        cursor: at(event, 'awaiting_input'),
        pending_interaction: {
          interaction_id: String(data['interaction_id']),
          module_id: String(data['module_id']),
          step_id: event.step_id ?? '',
          module_name: event.module_name ?? '',
          request: data['request'],
        } satisfies PendingInteraction,
      };
    case 'interaction_responded':
      return { ...next, status: 'running', pending_interaction: null };
    case 'run_completed':
      return { ...next, status: 'completed', pending_interaction: null };
    case 'run_failed':
      return { ...next, status: 'error', error: record(data['error']) as RunError };
    case 'run_cancelled':
      return { ...next, status: 'cancelled', pending_interaction: null };
    case 'run_resumed': {
      const cursor = snapshot.cursor;
      if (snapshot.status === 'error' && cursor?.phase === 'failed') {
        return { ...next, status: 'running', error: null, cursor: { ...cursor, phase: 'ready' } };
      }
      return { ...next, error: null };
    }
    case 'retry_requested': {
      const target = position(data['target']);
      if (!target) return next;
      const feedback = typeof data['feedback'] === 'string' ? data['feedback'] : null;
      return {
        ...next,
        status: 'running',
        cursor: { ...target, phase: 'ready' },
        attempt: 0,
        retry_at: null,
        open_step: null,
        pending_interaction: null,
        error: null,
        feedback: feedback === null ? null : { ...target, text: feedback },
      };
    }
    case 'branch_created':
      return {
        ...next,
        branch_id: typeof data['branch_id'] === 'string' ? data['branch_id'] : snapshot.branch_id,
      };
    case 'version_switched': {
      const switched = {
        ...next,
        version_id:
          typeof data['to_version_id'] === 'string' ? data['to_version_id'] : snapshot.version_id,
      };
      const restart = position(data['restart_at']);
      if (restart) {
        return {
          ...switched,
          status: 'running',
          cursor: { ...restart, phase: 'ready' },
          attempt: 0,
          retry_at: null,
          open_step: null,
          pending_interaction: null,
          error: null,
        };
      }
      const cursor = snapshot.cursor;
      if (cursor && rerunnable.has(cursor.phase)) {
        return {
          ...switched,
          status: 'running',
          cursor: { ...cursor, phase: 'ready' },
          attempt: 0,
          retry_at: null,
          pending_interaction: null,
          error: null,
        };
      }
      return switched;
    }
  }
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
