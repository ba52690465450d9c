import { Job, type Queue } from 'bullmq';
import { NotFoundError, resolveJobResultSchema } from '@stepwise/shared';

type JobState = 'waiting' | 'active' | 'delayed' | 'completed' | 'failed';

function publicState(state: string): JobState | null {
  switch (state) {
    case 'waiting':
    case 'prioritized':
    case 'waiting-children':
      return 'waiting';
    case 'active':
    case 'delayed':
    case 'completed':
    case 'failed':
      return state;
    default:
      return null;
  }
}

/**
 * A job of the caller's, as api.md shows it. Another user's job is not found, as is one that
 * expired. A resolve job that refused its submission is `failed` with the refusal as `error`.
 */
export async function getJobView(queues: readonly Queue[], userId: string, jobId: string) {
  for (const queue of queues) {
    // State first, then the job: a job read after its state holds at least that state's result.
    const state = publicState(await queue.getJobState(jobId));
    if (!state) continue;
    const job = await Job.fromId(queue, jobId);
    if (!job || (job.data as { user_id?: unknown }).user_id !== userId) break;
    if (state === 'failed') {
      return {
        job_id: jobId,
        state,
        error: { code: 'UNAVAILABLE' as const, message: job.failedReason || 'the job failed' },
      };
    }
    if (state !== 'completed') return { job_id: jobId, state };
    const result = resolveJobResultSchema.safeParse(job.returnvalue);
    if (!result.success) return { job_id: jobId, state, result: job.returnvalue as unknown };
    if (!result.data.ok)
      return { job_id: jobId, state: 'failed' as const, error: result.data.error };
    return { job_id: jobId, state, result: result.data.version };
  }
  throw new NotFoundError('job', jobId);
}
