import { startWorker, type Logger, type RedisClient } from '@stepwise/shared/node';
import { runDeletionJob } from './deletion-job.js';
import type { OwnerDeletionDependencies } from './owner-deletion.js';

export interface DeletionWorkerOptions extends OwnerDeletionDependencies {
  logger: Logger;
  /** The runner's lock settings: a killed runner's deletion returns to the queue as its runs do. */
  lockMs: number;
}

/**
 * The runner's worker on the `deletions` queue; one deletion at a time per runner (a deletion is
 * many writes, and it should not crowd out the runs that are alive).
 */
export function startDeletionWorker(options: DeletionWorkerOptions & { redis: RedisClient }) {
  // A connection of its own (workers block on theirs), with the same settings.
  const connection = options.redis.duplicate();
  const worker = startWorker({
    kind: 'deletion',
    connection,
    prefix: options.queuePrefix,
    concurrency: 1,
    logger: options.logger,
    handler: (job, context) => runDeletionJob(options, job, context),
    workerOptions: {
      lockDuration: options.lockMs,
      stalledInterval: options.lockMs,
      // A deletion may be orphaned by several crashes in a row; keep handing it back.
      maxStalledCount: 100,
    },
  });
  return {
    stop: async () => {
      await worker.close();
      connection.disconnect();
    },
  };
}
