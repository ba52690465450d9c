import type { Logger, RedisClient } from '@stepwise/shared/node';
import { startLongJobWorker } from '../long-job-worker.js';
import { runDeletionJob } from './deletion-job.js';
import type { OwnerDeletionDependencies } from './owner-deletion.js';

export interface DeletionWorkerOptions extends OwnerDeletionDependencies {
  logger: Logger;
  /** The runner's lock settings: a killed runner's deletion returns to the queue as its runs do. */
  lockMs: number;
}

/** The runner's worker on the `deletions` queue; one deletion at a time per runner. */
export function startDeletionWorker(options: DeletionWorkerOptions & { redis: RedisClient }) {
  return startLongJobWorker({
    kind: 'deletion',
    redis: options.redis,
    queuePrefix: options.queuePrefix,
    logger: options.logger,
    lockMs: options.lockMs,
    handler: (job, context) => runDeletionJob(options, job, context),
  });
}
