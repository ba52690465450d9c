import type { JobKind } from '@stepwise/shared';
import { startWorker, type JobHandler, type Logger, type RedisClient } from '@stepwise/shared/node';

export interface LongJobWorkerOptions<K extends JobKind> {
  kind: K;
  redis: RedisClient;
  queuePrefix: string;
  logger: Logger;
  /** The runner's lock settings: a killed runner's job returns to the queue as its runs do. */
  lockMs: number;
  handler: JobHandler<K>;
}

/**
 * A worker for the runner's long jobs (batch migrations, deletions): one at a time per runner, as
 * they are many writes and should not crowd out the runs that are alive. Each is resumable, so a
 * job orphaned by several crashes in a row is handed back however often that happens.
 */
export function startLongJobWorker<K extends JobKind>(options: LongJobWorkerOptions<K>) {
  // A connection of its own (workers block on theirs), with the same settings.
  const connection = options.redis.duplicate();
  const worker = startWorker({
    kind: options.kind,
    connection,
    prefix: options.queuePrefix,
    concurrency: 1,
    logger: options.logger,
    handler: options.handler,
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
