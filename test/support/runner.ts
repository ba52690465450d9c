import type { Worker } from 'bullmq';
import { afterAll } from 'vitest';
import { pino } from 'pino';
import { connectRedis, loadPluginModules, startWorker } from '@stepwise/shared/node';
import { createRunJobHandler } from '../../services/runner/src/run-jobs.js';
import { createRunnerDependencies } from '../../services/runner/src/runner.js';
import type { TestDatabases } from './databases.js';
import { testPluginPath } from './gateway.js';

/** A runner worker in this process (with the test plugin), on the file's databases and prefix. */
export async function startTestRunner(
  databases: TestDatabases,
  options: { concurrency?: number; moduleTimeoutMs?: number } = {},
): Promise<Worker> {
  const redis = connectRedis(databases.redisUrl, 'worker');
  const { deps, runQueue } = createRunnerDependencies({
    mongo: databases.mongo,
    models: databases.models,
    redis,
    queuePrefix: databases.queuePrefix,
    plugins: await loadPluginModules([testPluginPath]),
    moduleTimeoutMs: options.moduleTimeoutMs ?? 30_000,
  });
  const worker = startWorker({
    kind: 'runCommand',
    connection: connectRedis(databases.redisUrl, 'worker'),
    prefix: databases.queuePrefix,
    concurrency: options.concurrency ?? 8,
    logger: pino({ level: 'silent' }),
    handler: createRunJobHandler(databases.models, deps),
  });
  afterAll(async () => {
    await worker.close();
    await runQueue.close();
    redis.disconnect();
  });
  return worker;
}
