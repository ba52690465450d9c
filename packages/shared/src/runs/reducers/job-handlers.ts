import type { BranchSnapshot } from '../../records.js';
import type { EventHandlers } from './handler-types.js';

/**
 * What an outside job (`api.job`) does to a branch. Everything a poll needs (the job's id, when it
 * was submitted, its deadline, the next check) is folded from these events, so a runner that
 * starts cold resumes polling from the log alone and never submits again.
 */

/** The snapshot without its job: the attempt ended (old snapshots never had the key). */
export function withoutJob(snapshot: BranchSnapshot): BranchSnapshot {
  if (!('job' in snapshot)) return snapshot;
  const { job: _ended, ...rest } = snapshot;
  return rest;
}

export const jobHandlers: Pick<
  EventHandlers,
  'job_submitted' | 'job_polled' | 'job_completed' | 'job_failed'
> = {
  job_submitted: (snapshot, event) => ({
    ...snapshot,
    cursor: {
      step_id: event.step_id ?? '',
      module_name: event.module_name ?? '',
      phase: 'job_wait',
    },
    retry_at: event.data.poll_at ?? null,
    job: {
      job_id: event.data.job_id ?? '',
      status: event.data.status ?? null,
      submitted_at: event.data.submitted_at ?? '',
      deadline_at: event.data.deadline_at ?? '',
    },
  }),

  job_polled: (snapshot, event) => ({
    ...snapshot,
    retry_at: event.data.poll_at ?? snapshot.retry_at,
    ...(snapshot.job ? { job: { ...snapshot.job, status: event.data.status ?? null } } : {}),
  }),

  // The module's own end (`module_completed` / `module_failed`) follows in the same commit and
  // moves the cursor; these two only close the job.
  job_completed: (snapshot) => ({ ...withoutJob(snapshot), retry_at: null }),

  job_failed: (snapshot) => ({ ...withoutJob(snapshot), retry_at: null }),
};
