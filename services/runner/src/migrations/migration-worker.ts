import type { Logger, RedisClient } from '@stepwise/shared/node';
import { startLongJobWorker } from '../long-job-worker.js';
import { migrateRuns, type MigrationJobDependencies } from './migrate-runs.js';

export interface MigrationWorkerOptions extends MigrationJobDependencies {
  redis: RedisClient;
  queuePrefix: string;
  logger: Logger;
  /** The runner's lock settings: a killed runner's migration returns to the queue as soon as its runs do. */
  lockMs: number;
}

/** The runner's worker on the `migrations` queue; one migration at a time per runner. */
export function startMigrationWorker(options: MigrationWorkerOptions) {
  return startLongJobWorker({
    kind: 'migration',
    redis: options.redis,
    queuePrefix: options.queuePrefix,
    logger: options.logger,
    lockMs: options.lockMs,
    handler: (job, context) => migrateRuns(options, job, context),
  });
}
