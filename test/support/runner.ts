import type { Worker } from 'bullmq';
import { afterAll } from 'vitest';
import { pino } from 'pino';
import { connectRedis, loadPluginModules, startWorker, type Models } from '@stepwise/shared/node';
import { createRunJobHandler } from '../../services/runner/src/run-jobs.js';
import { createRunnerDependencies } from '../../services/runner/src/runner.js';
import { startMigrationWorker } from '../../services/runner/src/migrations/migration-worker.js';
import { startWebhookWorker } from '../../services/runner/src/notifications/webhook-worker.js';
import { startDeletionWorker } from '../../services/runner/src/deletions/deletion-worker.js';
import { createDeletionDependencies } from '../../services/runner/src/deletions/deletion-wiring.js';
import type { WebhookSettings } from '../../services/runner/src/notifications/deliver-webhook.js';
import type { LlmSettings } from '../../services/runner/src/modules/api-llm.js';
import { newId, type StepwiseModule, type WorkflowDefinition } from '@stepwise/shared';
import type { DrainDependencies } from '../../services/runner/src/engine/drain-run.js';
import type { TestDatabases } from './databases.js';
import { testPluginPath } from './gateway.js';
import { testSecretStore } from './secrets.js';
import type { SecretReader } from '../../services/runner/src/engine/credentials.js';

/** A runner worker in this process (with the test plugin), on the file's databases and prefix. */
export interface TestRunnerOptions {
  concurrency?: number;
  moduleTimeoutMs?: number;
  allowedHosts?: string[];
  llm?: Partial<LlmSettings>;
  maxArtifactBytes?: number;
  leaseMs?: number;
  /** Plugin modules to add to the test plugin's (a test's own interactive module, say). */
  extraPlugins?: readonly StepwiseModule[];
  /** PUBLIC_URL, for the links notifications carry. */
  publicUrl?: string;
  /** Webhook dispatch settings (fast retries by default; the policy is allowedHosts'). */
  webhooks?: Partial<WebhookSettings>;
  /**
   * false: notifications stay queued, nothing is sent. For tests that judge every write to the
   * database against the request that caused it, where a delivery finishing in the background
   * would be a write no request made.
   */
  deliverWebhooks?: boolean;
  /**
   * How far behind the real clock the runner's commands are decided (its timers still fire by the
   * real clock): as when the runner holding a run's lease runs behind the one whose timer fired.
   */
  clockBehindMs?: number;
  /** The secrets modules' credentials are read from: the test master key's store by default; null for none. */
  secrets?: SecretReader | null;
}

export async function startTestRunner(
  databases: TestDatabases,
  options: TestRunnerOptions = {},
): Promise<Worker> {
  const redis = connectRedis(databases.redisUrl, 'worker');
  const { deps, runQueue, webhookQueue, fairShare, timers } = createRunnerDependencies({
    mongo: databases.mongo,
    models: databases.models,
    redis,
    queuePrefix: databases.queuePrefix,
    plugins: [...(await loadPluginModules([testPluginPath])), ...(options.extraPlugins ?? [])],
    moduleTimeoutMs: options.moduleTimeoutMs ?? 30_000,
    fetch: {
      policy: { allowedHosts: options.allowedHosts ?? [] },
      maxResponseBytes: 5 * 1024 * 1024,
      defaultTimeoutMs: 5_000,
    },
    llm: { baseUrl: undefined, apiKey: undefined, prices: {}, timeoutMs: 5_000, ...options.llm },
    maxArtifactBytes: options.maxArtifactBytes ?? 64 * 1024 * 1024,
    leaseMs: options.leaseMs ?? 30_000,
    publicUrl: options.publicUrl,
  });
  deps.secrets =
    options.secrets === undefined ? await testSecretStore(databases.models) : options.secrets;
  const worker = startWorker({
    kind: 'runCommand',
    connection: connectRedis(databases.redisUrl, 'worker'),
    prefix: databases.queuePrefix,
    concurrency: options.concurrency ?? 8,
    logger: pino({ level: 'silent' }),
    handler: createRunJobHandler(
      databases.models,
      options.clockBehindMs === undefined
        ? deps
        : { ...deps, now: () => new Date(Date.now() - (options.clockBehindMs ?? 0)) },
      fairShare,
      timers,
    ),
  });
  // Webhook deliveries too: a test's runner dispatches notifications as one would.
  const webhooks =
    options.deliverWebhooks === false
      ? null
      : startWebhookWorker({
          models: databases.models,
          redis,
          queuePrefix: databases.queuePrefix,
          logger: pino({ level: 'silent' }),
          concurrency: 16,
          lockMs: 30_000,
          settings: {
            policy: { allowedHosts: options.allowedHosts ?? [] },
            timeoutMs: 5_000,
            retryBaseMs: 200,
            retryMaxMs: 2_000,
            giveUpAfterMs: 24 * 3_600_000,
            disableAfterMs: 3 * 24 * 3_600_000,
            ...options.webhooks,
          },
        });
  // Batch migrations are the runner's too (versions.md): a test's runner takes them as one would.
  const migrations = startMigrationWorker({
    mongo: databases.mongo,
    models: databases.models,
    redis,
    runQueue,
    fairShare,
    queuePrefix: databases.queuePrefix,
    logger: pino({ level: 'silent' }),
    lockMs: 30_000,
    batchSize: 16,
    settlePollMs: 20,
  });
  // Deletions too (docs/deletion-and-retention.md).
  const deletions = startDeletionWorker({
    ...createDeletionDependencies({
      mongo: databases.mongo,
      models: databases.models,
      redis,
      runQueue,
      webhookQueue,
      config: { QUEUE_PREFIX: databases.queuePrefix, DELETION_BATCH_SIZE: 50 },
    }),
    logger: pino({ level: 'silent' }),
    lockMs: 30_000,
  });
  afterAll(async () => {
    await deletions.stop();
    await migrations.stop();
    await webhooks?.stop();
    await worker.close();
    await runQueue.close();
    await webhookQueue.close();
    redis.disconnect();
  });
  return worker;
}

/**
 * The runner's dependencies for tests that drive `drainRun` directly, without a queue: small
 * limits, no outbound hosts, and no wake-ups or recovery jobs (waking is the queue's business).
 */
export function queuelessDrainDependencies(
  databases: TestDatabases,
  plugins: readonly StepwiseModule[],
): DrainDependencies {
  const { deps } = createRunnerDependencies({
    mongo: databases.mongo,
    models: databases.models,
    redis: databases.redis,
    queuePrefix: databases.queuePrefix,
    plugins: [...plugins],
    moduleTimeoutMs: 10_000,
    fetch: { policy: { allowedHosts: [] }, maxResponseBytes: 1024, defaultTimeoutMs: 1_000 },
    llm: { baseUrl: undefined, apiKey: undefined, prices: {}, timeoutMs: 1_000 },
    maxArtifactBytes: 1024,
    leaseMs: 30_000,
    publicUrl: undefined,
  });
  return { ...deps, scheduleWake: async () => undefined, scheduleRecovery: async () => undefined };
}

/** A run and its start command, stored as the gateway stores them (the runner's tests use it). */
export { createRun as storeNewRun } from '../../services/gateway/src/runs/create-run.js';

/** The plugins of the test plugin package, loaded. */
export const loadTestPlugins = () => loadPluginModules([testPluginPath]);

/**
 * Stores `workflow` as the only version of a new template of the user's, as the resolver would
 * have stored it (without the resolver's checks: a test may store what the resolver would refuse),
 * and returns the version's id.
 */
export async function storeTestVersion(
  models: Models,
  userId: string,
  workflow: WorkflowDefinition,
): Promise<string> {
  const templateId = newId('template');
  const versionId = newId('version');
  const now = new Date();
  await models.templates.create({
    workflow_template_id: templateId,
    user_id: userId,
    workflow_template_name: `${workflow.workflow_id}_${templateId.slice(-8)}`,
    display_name: null,
    created_at: now,
    updated_at: now,
  });
  await models.versions.create({
    workflow_version_id: versionId,
    workflow_template_id: templateId,
    user_id: userId,
    content_hash: `sha256:${versionId}`,
    raw_sha256: versionId,
    source_type: 'json',
    size: 1,
    source_file_id: null,
    created_at: now,
    resolved_workflow: workflow,
  });
  return versionId;
}
