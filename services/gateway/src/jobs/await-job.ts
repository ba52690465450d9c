import { setTimeout as sleep } from 'node:timers/promises';
import type { Job, QueueEvents } from 'bullmq';
import { UnavailableError } from '@stepwise/shared';

export type AwaitedJob = { finished: true; value: unknown } | { finished: false };

const TIMED_OUT = Symbol('timed out');

/**
 * Waits up to `waitMs` for a job's return value. A job that failed for good (its retries spent on
 * an infrastructure error) is reported as UNAVAILABLE; a job still going is `{finished: false}`.
 */
export async function awaitJob(job: Job, events: QueueEvents, waitMs: number): Promise<AwaitedJob> {
  if (waitMs <= 0) return { finished: false };
  const abort = new AbortController();
  const finished = job.waitUntilFinished(events, waitMs + 1_000);
  try {
    const outcome = await Promise.race([
      finished,
      sleep(waitMs, TIMED_OUT, { signal: abort.signal }),
    ]);
    if (outcome === TIMED_OUT) return { finished: false };
    return { finished: true, value: outcome };
  } catch (error) {
    if ((error as Error).name === 'AbortError') return { finished: false };
    throw new UnavailableError(`the job failed: ${(error as Error).message}`);
  } finally {
    abort.abort();
    finished.catch(() => undefined);
  }
}
