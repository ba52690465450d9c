import type { Redis } from 'ioredis';
import { JobQueue, startWorker, type Logger, type Models } from '@stepwise/shared/node';
import { KeywordHistoryStore } from './history/keyword-history.js';

export interface MaintenanceOptions {
  models: Models;
  redis: Redis;
  queuePrefix: string;
  logger: Logger;
  everyMs: number;
}

/**
 * Scheduled housekeeping on the `maintenance` queue. The schedule is a BullMQ job scheduler with a
 * fixed id, so every runner may upsert it at start and there is still one schedule; whichever
 * runner is free takes each job. Expired keywords are deleted here, not by a TTL index.
 */
export async function startMaintenance(options: MaintenanceOptions) {
  const queue = new JobQueue('maintenance', options.redis, options.queuePrefix);
  await queue.queue.upsertJobScheduler(
    'expire-keywords',
    { every: options.everyMs },
    {
      name: 'maintenance',
      data: { kind: 'expire_keywords' },
      opts: { removeOnComplete: 100, removeOnFail: 100 },
    },
  );
  const keywords = new KeywordHistoryStore(options.models);
  // A connection of its own (workers block on theirs), with the same settings.
  const connection = options.redis.duplicate();
  const worker = startWorker({
    kind: 'maintenance',
    connection,
    prefix: options.queuePrefix,
    concurrency: 1,
    logger: options.logger,
    handler: async () => ({ deleted: await keywords.deleteExpired() }),
  });
  return {
    stop: async () => {
      await worker.close();
      await queue.close();
      connection.disconnect();
    },
  };
}
