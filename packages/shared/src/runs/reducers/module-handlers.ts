import type { BranchSnapshot, CursorPhase } from '../../records.js';
import type { EventHandlers } from './handler-types.js';
import type { FoldEvent } from './fold-data.js';
import type { EventType } from '../events.js';
import { withoutJob } from './job-handlers.js';

/** What steps, modules and interactions do to a branch. */

function at(
  event: FoldEvent<EventType>,
  phase: CursorPhase,
): NonNullable<BranchSnapshot['cursor']> {
  // A module event always names its module; old logs are folded as they always were if not.
  return { step_id: event.step_id ?? '', module_name: event.module_name ?? '', phase };
}

/** A feedback is read by its module once; it is spent when that module completes or is skipped. */
function spendFeedback(
  snapshot: BranchSnapshot,
  event: FoldEvent<EventType>,
): BranchSnapshot['feedback'] {
  const feedback = snapshot.feedback;
  return feedback &&
    feedback.step_id === event.step_id &&
    feedback.module_name === event.module_name
    ? null
    : feedback;
}

export const moduleHandlers: Pick<
  EventHandlers,
  | 'step_started'
  | 'step_completed'
  | 'module_started'
  | 'module_completed'
  | 'module_skipped'
  | 'module_failed'
  | 'module_interrupted'
  | 'interaction_requested'
  | 'interaction_responded'
  | 'interaction_timed_out'
  | 'reminder_sent'
> = {
  step_started: (snapshot, event) => ({ ...snapshot, open_step: event.step_id }),

  step_completed: (snapshot) => ({ ...snapshot, open_step: null }),

  module_started: (snapshot, event) => ({
    ...withoutJob(snapshot),
    status: 'running',
    cursor: at(event, 'started'),
    attempt: event.data.attempt ?? 1,
    retry_at: null,
    error: null,
    // Logs written before attempts had keys have none.
    attempt_key: event.data.idempotency_key ?? null,
  }),

  module_completed: (snapshot, event) => ({
    ...withoutJob(snapshot),
    state: {
      ...snapshot.state,
      ...(event.data.outputs_state_key === undefined
        ? {}
        : { [event.data.outputs_state_key]: event.data.outputs ?? {} }),
      ...event.data.state_changes,
    },
    cursor: at(event, 'completed'),
    attempt: 0,
    pending_interaction: null,
    feedback: spendFeedback(snapshot, event),
    attempt_key: null,
  }),

  module_skipped: (snapshot, event) => ({
    ...snapshot,
    cursor: at(event, 'skipped'),
    attempt: 0,
    feedback: spendFeedback(snapshot, event),
    attempt_key: null,
  }),

  module_failed: (snapshot, event) =>
    event.data.will_retry === true
      ? {
          ...withoutJob(snapshot),
          cursor: at(event, 'retry_wait'),
          retry_at: event.data.retry_at ?? null,
          attempt_key: null,
        }
      : {
          ...withoutJob(snapshot),
          cursor: at(event, 'failed'),
          error: event.data.error,
          attempt_key: null,
        },

  // The same attempt runs again with the same key: the branch stands where it stood.
  module_interrupted: (snapshot) => snapshot,

  interaction_requested: (snapshot, event) => ({
    ...snapshot,
    status: 'awaiting_input',
    cursor: at(event, 'awaiting_input'),
    pending_interaction: {
      interaction_id: event.data.interaction_id,
      module_id: event.data.module_id,
      step_id: event.step_id ?? '',
      module_name: event.module_name ?? '',
      request: event.data.request,
      // Only a question with a deadline has the key, so older snapshots stay as they were.
      ...(event.data.deadline ? { deadline: event.data.deadline } : {}),
    },
  }),

  // The question is closed: what follows (module_failed, or the default answer) moves the branch on.
  interaction_timed_out: (snapshot) => ({ ...snapshot, pending_interaction: null }),

  reminder_sent: (snapshot, event) => {
    const pending = snapshot.pending_interaction;
    if (!pending?.deadline || pending.interaction_id !== event.data.interaction_id) return snapshot;
    return {
      ...snapshot,
      pending_interaction: {
        ...pending,
        deadline: {
          ...pending.deadline,
          due_at: event.data.next_due_at ?? pending.deadline.due_at,
          reminders_sent: event.data.reminder ?? (pending.deadline.reminders_sent ?? 0) + 1,
        },
      },
    };
  },

  interaction_responded: (snapshot) => ({
    ...snapshot,
    status: 'running',
    pending_interaction: null,
  }),
};
