import { loadPluginModules, runWorkerService, runnerEnvSchema } from '@stepwise/shared/node';
import { createRunJobHandler } from './run-jobs.js';
import { createRunnerDependencies } from './runner.js';
import { startSweeper } from './sweeper.js';

await runWorkerService({
  service: 'runner',
  envSchema: runnerEnvSchema,
  kind: 'runCommand',
  concurrency: (config) => config.RUNNER_CONCURRENCY,
  setup: async ({ config, mongo, models, redis, logger }) => {
    const plugins = await loadPluginModules(config.RUNNER_PLUGINS);
    if (plugins.length > 0) logger.info({ modules: plugins.map((m) => m.id) }, 'plugins loaded');
    const { deps, runQueue } = createRunnerDependencies({
      mongo,
      models,
      redis,
      queuePrefix: config.QUEUE_PREFIX,
      plugins,
      moduleTimeoutMs: config.MODULE_TIMEOUT_MS,
    });
    const stopSweeper = startSweeper({
      models,
      redis,
      runQueue,
      logger,
      lockKey: `${config.QUEUE_PREFIX}:sweeper`,
      intervalMs: config.RUNNER_SWEEP_INTERVAL_MS,
      staleAfterMs: config.RUNNER_STALE_AFTER_MS,
    });
    return {
      handler: createRunJobHandler(models, deps),
      workerOptions: {
        lockDuration: config.RUNNER_LOCK_MS,
        stalledInterval: config.RUNNER_LOCK_MS,
        // A job may be orphaned by several crashes in a row; keep handing it back.
        maxStalledCount: 100,
      },
      onStop: async () => {
        stopSweeper();
        await runQueue.close();
      },
    };
  },
});
