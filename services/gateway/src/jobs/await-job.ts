import { Job, type Queue, type QueueEvents } from 'bullmq';
import { UnavailableError } from '@stepwise/shared';

export type AwaitedJob = { finished: true; value: unknown } | { finished: false };

type Settled = AwaitedJob | UnavailableError;

function parsedReturnValue(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  try {
    return JSON.parse(value) as unknown;
  } catch {
    return value;
  }
}

/**
 * Waits up to `waitMs` for a job's return value. A job that failed for good (its retries spent on
 * an infrastructure error) is reported as UNAVAILABLE; a job still going is `{finished: false}`.
 *
 * Written on QueueEvents directly rather than with BullMQ's `Job.waitUntilFinished`: that one reads
 * the job's state inside an async promise executor, so a Redis connection reset at that moment
 * becomes an unhandled rejection, which ends the process (found by the soak harness). Here every
 * Redis failure while waiting only means "not finished yet".
 */
export async function awaitJob(
  queue: Queue,
  job: Job,
  events: QueueEvents,
  waitMs: number,
): Promise<AwaitedJob> {
  if (waitMs <= 0 || !job.id) return { finished: false };
  const jobId = job.id;
  let settle: (outcome: Settled) => void = () => undefined;
  const settled = new Promise<Settled>((resolve) => (settle = resolve));
  const onCompleted = ({ returnvalue }: { returnvalue: unknown }) =>
    settle({ finished: true, value: parsedReturnValue(returnvalue) });
  const onFailed = ({ failedReason }: { failedReason: string }) =>
    settle(new UnavailableError(`the job failed: ${failedReason}`));
  events.on(`completed:${jobId}` as 'completed', onCompleted);
  events.on(`failed:${jobId}` as 'failed', onFailed);
  const timer = setTimeout(() => settle({ finished: false }), waitMs);
  try {
    // The job may have finished before the listeners were in place.
    void job
      .getState()
      .then(async (state) => {
        if (state === 'completed') {
          const done = await Job.fromId(queue, jobId);
          if (done) settle({ finished: true, value: done.returnvalue as unknown });
        } else if (state === 'failed') {
          const failed = await Job.fromId(queue, jobId);
          settle(new UnavailableError(`the job failed: ${failed?.failedReason ?? 'unknown'}`));
        }
      })
      .catch(() => undefined);
    const outcome = await settled;
    if (outcome instanceof UnavailableError) throw outcome;
    return outcome;
  } finally {
    clearTimeout(timer);
    events.off(`completed:${jobId}` as 'completed', onCompleted);
    events.off(`failed:${jobId}` as 'failed', onFailed);
  }
}
