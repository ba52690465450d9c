import type { RedisClient } from '@stepwise/shared/node';
import { JobQueue, startWorker, type Logger, type Models } from '@stepwise/shared/node';
import { deliverWebhook, type WebhookSettings } from './deliver-webhook.js';

export interface WebhookWorkerOptions {
  models: Models;
  redis: RedisClient;
  queuePrefix: string;
  logger: Logger;
  settings: WebhookSettings;
  concurrency: number;
  /** The runner's lock settings: a killed runner's deliveries return to the queue as its runs do. */
  lockMs: number;
}

/** The runner's dispatcher on the `webhooks` queue. */
export function startWebhookWorker(options: WebhookWorkerOptions) {
  // A connection of its own (workers block on theirs), with the same settings.
  const connection = options.redis.duplicate();
  const queue = new JobQueue('webhookDelivery', options.redis, options.queuePrefix);
  const worker = startWorker({
    kind: 'webhookDelivery',
    connection,
    prefix: options.queuePrefix,
    concurrency: options.concurrency,
    logger: options.logger,
    handler: (job) =>
      deliverWebhook(
        {
          models: options.models,
          redis: options.redis,
          queuePrefix: options.queuePrefix,
          queue,
          settings: options.settings,
          logger: options.logger,
        },
        job,
      ),
    workerOptions: {
      lockDuration: options.lockMs,
      stalledInterval: options.lockMs,
      maxStalledCount: 100,
    },
  });
  return {
    stop: async () => {
      await worker.close();
      await queue.close();
      connection.disconnect();
    },
  };
}
