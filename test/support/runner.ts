import type { Worker } from 'bullmq';
import { afterAll } from 'vitest';
import { pino } from 'pino';
import { connectRedis, loadPluginModules, startWorker } from '@stepwise/shared/node';
import { createRunJobHandler } from '../../services/runner/src/run-jobs.js';
import { createRunnerDependencies } from '../../services/runner/src/runner.js';
import type { LlmSettings } from '../../services/runner/src/modules/api-llm.js';
import type { TestDatabases } from './databases.js';
import { testPluginPath } from './gateway.js';

/** A runner worker in this process (with the test plugin), on the file's databases and prefix. */
export interface TestRunnerOptions {
  concurrency?: number;
  moduleTimeoutMs?: number;
  allowedHosts?: string[];
  llm?: Partial<LlmSettings>;
  maxArtifactBytes?: number;
  leaseMs?: number;
}

export async function startTestRunner(
  databases: TestDatabases,
  options: TestRunnerOptions = {},
): Promise<Worker> {
  const redis = connectRedis(databases.redisUrl, 'worker');
  const { deps, runQueue, fairShare } = createRunnerDependencies({
    mongo: databases.mongo,
    models: databases.models,
    redis,
    queuePrefix: databases.queuePrefix,
    plugins: await loadPluginModules([testPluginPath]),
    moduleTimeoutMs: options.moduleTimeoutMs ?? 30_000,
    fetch: {
      policy: { allowedHosts: options.allowedHosts ?? [] },
      maxResponseBytes: 5 * 1024 * 1024,
      defaultTimeoutMs: 5_000,
    },
    llm: { baseUrl: undefined, apiKey: undefined, prices: {}, timeoutMs: 5_000, ...options.llm },
    maxArtifactBytes: options.maxArtifactBytes ?? 64 * 1024 * 1024,
    leaseMs: options.leaseMs ?? 30_000,
  });
  const worker = startWorker({
    kind: 'runCommand',
    connection: connectRedis(databases.redisUrl, 'worker'),
    prefix: databases.queuePrefix,
    concurrency: options.concurrency ?? 8,
    logger: pino({ level: 'silent' }),
    handler: createRunJobHandler(databases.models, deps, fairShare),
  });
  afterAll(async () => {
    await worker.close();
    await runQueue.close();
    redis.disconnect();
  });
  return worker;
}
