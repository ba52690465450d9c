import type { BranchSnapshot, CursorPhase } from '../../records.js';
import type { EventHandlers } from './handler-types.js';
import { withoutJob } from './job-handlers.js';

/** What run-level events (lifecycle, retries, branches, versions) do to a branch. */

/** Failed, waiting or asking: after a version switch the module runs again. */
const rerunnable: ReadonlySet<CursorPhase> = new Set(['failed', 'awaiting_input', 'retry_wait']);

/** Everything a module left behind, cleared before it (or another) runs again from `ready`. */
const freshAttempt = {
  attempt: 0,
  retry_at: null,
  pending_interaction: null,
  error: null,
  attempt_key: null,
} as const satisfies Partial<BranchSnapshot>;

/**
 * The branch on another version, standing where it stood (`continue_with_new` without a restart):
 * a module that failed, waits out a backoff or asks runs again under the new version.
 */
function continuedOn(snapshot: BranchSnapshot, versionId: string): BranchSnapshot {
  const switched = { ...snapshot, version_id: versionId };
  const cursor = snapshot.cursor;
  if (cursor && rerunnable.has(cursor.phase)) {
    return {
      // A module that starts over leaves the job its earlier attempt waited on.
      ...withoutJob(switched),
      ...freshAttempt,
      status: 'running',
      cursor: { ...cursor, phase: 'ready' },
    };
  }
  return switched;
}

export const runHandlers: Pick<
  EventHandlers,
  | 'run_created'
  | 'run_completed'
  | 'run_failed'
  | 'run_cancelled'
  | 'run_resumed'
  | 'retry_requested'
  | 'branch_created'
  | 'version_switched'
> = {
  run_created: (snapshot, event) => ({
    ...snapshot,
    state: { ...event.data.initial_state },
    status: 'running',
    cursor: null,
  }),

  run_completed: (snapshot) => ({ ...snapshot, status: 'completed', pending_interaction: null }),

  run_failed: (snapshot, event) => ({ ...snapshot, status: 'error', error: event.data.error }),

  run_cancelled: (snapshot) => ({ ...snapshot, status: 'cancelled', pending_interaction: null }),

  run_resumed: (snapshot) => {
    const cursor = snapshot.cursor;
    if (snapshot.status === 'error' && cursor?.phase === 'failed') {
      return {
        ...snapshot,
        status: 'running',
        error: null,
        cursor: { ...cursor, phase: 'ready' },
        attempt_key: null,
      };
    }
    return { ...snapshot, error: null };
  },

  retry_requested: (snapshot, event) => {
    const target = event.data.target;
    // A retry with no target moves nothing (the untyped fold ignored it too).
    if (!target) return snapshot;
    const feedback = event.data.feedback ?? null;
    return {
      ...reusingAnswers(withoutJob(snapshot), event.data.reuse_answers === true),
      ...freshAttempt,
      status: 'running',
      cursor: { ...target, phase: 'ready' },
      open_step: null,
      feedback: feedback === null ? null : { ...target, text: feedback },
    };
  },

  branch_created: (snapshot, event) => {
    const renamed = reusingAnswers(
      { ...snapshot, branch_id: event.data.branch_id ?? snapshot.branch_id },
      event.data.reuse_answers === true,
    );
    const onto = event.data.workflow_version_id;
    // Logs written before branches could change version carry none: the branch keeps its own.
    return onto === undefined || onto === snapshot.version_id
      ? renamed
      : continuedOn(renamed, onto);
  },

  version_switched: (snapshot, event) => {
    const versionId = event.data.to_version_id ?? snapshot.version_id;
    const restart = event.data.restart_at;
    const reusing = reusingAnswers(snapshot, event.data.reuse_answers === true);
    if (!restart) return continuedOn(reusing, versionId);
    return {
      // A module that starts over leaves the job its earlier attempt waited on.
      ...withoutJob({ ...reusing, version_id: versionId }),
      ...freshAttempt,
      status: 'running',
      cursor: { ...restart, phase: 'ready' },
      open_step: null,
    };
  },
};

/**
 * The snapshot with answers reused from here on, or not: each retry, restart or branch says anew.
 * Without the flag the field is left out, so snapshots of logs that never ask for it stay as they were.
 */
function reusingAnswers(snapshot: BranchSnapshot, reuse: boolean): BranchSnapshot {
  const { reuse_answers: _previous, ...rest } = snapshot;
  return reuse ? { ...rest, reuse_answers: true } : rest;
}
