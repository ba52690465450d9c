import type { z } from 'zod';
import type { Connection } from 'mongoose';
import { ConfigError, parseEnv, type serviceEnvSchemas } from './config.js';
import { connectMongo, connectRedis } from './connections.js';
import { exitOnSignals, startHeartbeat } from './lifecycle.js';
import { createLogger, type Logger } from './logger.js';
import { createModels, ensureIndexes, type Models } from './models/index.js';
import type { RedisClient } from './connections.js';
import { startWorker, type JobHandler, type StartWorkerOptions } from './queue-runtime.js';
import type { JobKind } from './queues.js';

type WorkerServiceName = 'resolver' | 'runner';

export interface WorkerServiceDependencies<Env> {
  config: Env;
  logger: Logger;
  mongo: Connection;
  models: Models;
  /** A non-blocking Redis connection for the service's own commands (publishing, producing). */
  redis: RedisClient;
}

export interface WorkerServiceSetup<K extends JobKind> {
  handler: JobHandler<K>;
  workerOptions?: StartWorkerOptions<K>['workerOptions'];
  /** Runs once the worker has stopped taking jobs, before connections close. */
  onStop?: () => Promise<void>;
}

/**
 * The common life of a queue-driven service: parse config (exit 1 naming the bad variable), connect
 * to MongoDB and Redis, build indexes, process one queue, and on SIGTERM let jobs in progress
 * finish (or hand them back at the timeout; BullMQ's stalled-job check re-delivers them).
 */
export async function runWorkerService<
  S extends WorkerServiceName,
  Schema extends (typeof serviceEnvSchemas)[S],
  K extends JobKind,
>(options: {
  service: S;
  envSchema: Schema;
  kind: K;
  concurrency: (config: z.infer<Schema>) => number;
  setup: (deps: WorkerServiceDependencies<z.infer<Schema>>) => Promise<WorkerServiceSetup<K>>;
}): Promise<void> {
  let config: z.infer<Schema>;
  try {
    config = parseEnv(options.envSchema, process.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${options.service}: ${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
  const logger = createLogger({ service: options.service, level: config.LOG_LEVEL });
  const commandLog = config.MONGO_COMMAND_LOG;
  const mongo = await connectMongo(config.MONGO_URL, {
    retryForMs: 60_000,
    logger,
    commandLog: commandLog ? { file: commandLog, service: options.service } : undefined,
  });
  const models = createModels(mongo);
  await ensureIndexes(models);
  const redis = connectRedis(config.REDIS_URL, 'worker', { cluster: config.REDIS_CLUSTER, logger });
  const client = connectRedis(config.REDIS_URL, 'worker', {
    cluster: config.REDIS_CLUSTER,
    logger,
  });
  let setup: WorkerServiceSetup<K>;
  try {
    setup = await options.setup({ config, logger, mongo, models, redis: client });
  } catch (error) {
    process.stderr.write(`${options.service}: ${(error as Error).message}\n`);
    process.exit(1);
  }

  const worker = startWorker({
    kind: options.kind,
    connection: redis,
    prefix: config.QUEUE_PREFIX,
    concurrency: options.concurrency(config),
    logger,
    handler: setup.handler,
    ...(setup.workerOptions ? { workerOptions: setup.workerOptions } : {}),
  });
  await worker.waitUntilReady();
  logger.info(
    { queue: worker.name, prefix: config.QUEUE_PREFIX, concurrency: worker.concurrency },
    `${options.service} ready`,
  );

  const stopHeartbeat = config.HEARTBEAT_FILE
    ? startHeartbeat(config.HEARTBEAT_FILE, () => worker.isRunning())
    : () => undefined;

  exitOnSignals({
    logger,
    timeoutMs: config.SHUTDOWN_TIMEOUT_MS,
    async stop() {
      stopHeartbeat();
      await worker.close();
      await setup.onStop?.();
      await Promise.all([redis.quit(), client.quit()]);
      await mongo.close();
    },
  });
}
