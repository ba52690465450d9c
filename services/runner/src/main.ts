import { sweeperLockKey } from '@stepwise/shared';
import {
  exportRunToFile,
  loadPluginModules,
  openConfiguredSecrets,
  runWorkerService,
  runnerEnvSchema,
} from '@stepwise/shared/node';
import { ArtifactStore } from './artifacts/artifact-store.js';
import { createRunJobHandler } from './run-jobs.js';
import { createRunnerDependencies } from './runner.js';
import { startMaintenance } from './maintenance.js';
import { startMigrationWorker } from './migrations/migration-worker.js';
import { startSweeper } from './sweeper.js';
import { startWebhookWorker } from './notifications/webhook-worker.js';
import { startDeletionWorker } from './deletions/deletion-worker.js';
import {
  createDeletionDependencies,
  createRetentionDependencies,
  defaultRetentionPolicy,
} from './deletions/deletion-wiring.js';

await runWorkerService({
  service: 'runner',
  envSchema: runnerEnvSchema,
  kind: 'runCommand',
  concurrency: (config) => config.RUNNER_CONCURRENCY,
  setup: async ({ config, mongo, models, redis, logger }) => {
    // Before taking jobs: a master key that is not the database's stops the runner here.
    const secrets = await openConfiguredSecrets('runner', models, config, logger);
    const plugins = await loadPluginModules(config.RUNNER_PLUGINS);
    if (plugins.length > 0) logger.info({ modules: plugins.map((m) => m.id) }, 'plugins loaded');
    const { deps, runQueue, webhookQueue, fairShare, timers } = createRunnerDependencies({
      mongo,
      models,
      redis,
      queuePrefix: config.QUEUE_PREFIX,
      plugins,
      moduleTimeoutMs: config.MODULE_TIMEOUT_MS,
      fetch: {
        policy: { allowedHosts: config.OUTBOUND_ALLOWED_HOSTS },
        maxResponseBytes: config.MAX_FETCH_BYTES,
        defaultTimeoutMs: config.FETCH_TIMEOUT_MS,
      },
      llm: {
        baseUrl: config.LLM_BASE_URL,
        apiKey: config.LLM_API_KEY,
        prices: config.LLM_PRICES,
        timeoutMs: config.LLM_TIMEOUT_MS,
        anthropicBaseUrl: config.ANTHROPIC_BASE_URL,
        defaultKeyPolicy: config.LLM_DEFAULT_KEY_POLICY,
      },
      maxArtifactBytes: config.MAX_ARTIFACT_BYTES,
      leaseMs: config.RUN_LEASE_MS,
      publicUrl: config.PUBLIC_URL,
    });
    deps.secrets = secrets;
    const failpoint = config.RUNNER_FAILPOINT?.split(':')[1];
    if (failpoint) {
      logger.warn({ failpoint }, 'fault injection: exiting after committing this event type');
      deps.afterCommit = (events) => {
        if (events.some((event) => event.event_type === failpoint))
          process.kill(process.pid, 'SIGKILL');
      };
    }
    const webhooks = startWebhookWorker({
      models,
      redis,
      queuePrefix: config.QUEUE_PREFIX,
      logger,
      concurrency: config.WEBHOOK_CONCURRENCY,
      lockMs: config.RUNNER_LOCK_MS,
      settings: {
        policy: { allowedHosts: config.OUTBOUND_ALLOWED_HOSTS },
        timeoutMs: config.WEBHOOK_TIMEOUT_MS,
        retryBaseMs: config.WEBHOOK_RETRY_BASE_MS,
        retryMaxMs: config.WEBHOOK_RETRY_MAX_MS,
        giveUpAfterMs: config.WEBHOOK_GIVE_UP_AFTER_MS,
        disableAfterMs: config.WEBHOOK_DISABLE_AFTER_MS,
      },
    });
    const deletionDeps = createDeletionDependencies({
      mongo,
      models,
      redis,
      runQueue,
      webhookQueue,
      config,
    });
    const deletions = startDeletionWorker({
      ...deletionDeps,
      logger,
      lockMs: config.RUNNER_LOCK_MS,
    });
    // Retention exports a run there before deleting it when its policy says so; without a
    // directory such runs are kept and reported.
    const exportDir = config.RETENTION_EXPORT_DIR;
    const maintenance = await startMaintenance({
      models,
      redis,
      queuePrefix: config.QUEUE_PREFIX,
      logger,
      everyMs: config.KEYWORD_CLEANUP_INTERVAL_MS,
      artifacts: new ArtifactStore(mongo, models),
      artifactGraceMs: config.ARTIFACT_ORPHAN_GRACE_MS,
      retention: {
        everyMs: config.RETENTION_INTERVAL_MS,
        deps: createRetentionDependencies(
          deletionDeps,
          defaultRetentionPolicy(config),
          exportDir === undefined
            ? undefined
            : (runId, userId) =>
                exportRunToFile({ mongo, models }, { runId, userId, dir: exportDir }),
        ),
      },
    });
    const migrations = startMigrationWorker({
      mongo,
      models,
      redis,
      runQueue,
      fairShare,
      queuePrefix: config.QUEUE_PREFIX,
      logger,
      lockMs: config.RUNNER_LOCK_MS,
      batchSize: config.MIGRATION_BATCH_SIZE,
      settlePollMs: 50,
    });
    const stopSweeper = startSweeper({
      fairShare,
      models,
      redis,
      runQueue,
      webhookQueue,
      timers,
      logger,
      lockKey: sweeperLockKey(config.QUEUE_PREFIX),
      intervalMs: config.RUNNER_SWEEP_INTERVAL_MS,
      staleAfterMs: config.RUNNER_STALE_AFTER_MS,
    });
    return {
      handler: createRunJobHandler(models, deps, fairShare, timers),
      workerOptions: {
        lockDuration: config.RUNNER_LOCK_MS,
        stalledInterval: config.RUNNER_LOCK_MS,
        // A job may be orphaned by several crashes in a row; keep handing it back.
        maxStalledCount: 100,
      },
      onStop: async () => {
        stopSweeper();
        await webhooks.stop();
        await migrations.stop();
        await deletions.stop();
        await maintenance.stop();
        await runQueue.close();
        await webhookQueue.close();
      },
    };
  },
});
