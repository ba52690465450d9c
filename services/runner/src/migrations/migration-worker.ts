import type { RedisClient } from '@stepwise/shared/node';
import { startWorker, type Logger } from '@stepwise/shared/node';
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
  // A connection of its own (workers block on theirs), with the same settings.
  const connection = options.redis.duplicate();
  const worker = startWorker({
    kind: 'migration',
    connection,
    prefix: options.queuePrefix,
    concurrency: 1,
    logger: options.logger,
    handler: (job, context) => migrateRuns(options, job, context),
    workerOptions: {
      lockDuration: options.lockMs,
      stalledInterval: options.lockMs,
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
