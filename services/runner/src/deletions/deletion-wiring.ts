import { setTimeout as sleep } from 'node:timers/promises';
import type { Connection } from 'mongoose';
import type { RetentionPolicy } from '@stepwise/shared';
import type { JobQueue, Models, RedisClient, RunnerEnv } from '@stepwise/shared/node';
import type { OwnerDeletionDependencies } from './owner-deletion.js';
import type { ExportRunToFile, RetentionDependencies } from './retention.js';

/** Most runs one retention pass deletes (or empties of artifacts) per user; the next goes on. */
const RETENTION_RUNS_PER_USER = 500;

/** What the deletion worker and the retention job share, from the runner's connections. */
export function createDeletionDependencies(input: {
  mongo: Connection;
  models: Models;
  redis: RedisClient;
  runQueue: JobQueue<'runCommand'>;
  webhookQueue: JobQueue<'webhookDelivery'>;
  config: Pick<RunnerEnv, 'QUEUE_PREFIX' | 'DELETION_BATCH_SIZE'>;
}): OwnerDeletionDependencies {
  return {
    mongo: input.mongo,
    models: input.models,
    redis: input.redis,
    runQueue: input.runQueue,
    webhookQueue: input.webhookQueue,
    queuePrefix: input.config.QUEUE_PREFIX,
    batchSize: input.config.DELETION_BATCH_SIZE,
    now: () => new Date(),
    sleep: (ms) => sleep(ms),
  };
}

/** The deployment's default policy (RETENTION_*). */
export function defaultRetentionPolicy(
  config: Pick<
    RunnerEnv,
    | 'RETENTION_DELETE_FINISHED_RUNS_AFTER_DAYS'
    | 'RETENTION_EXPORT_BEFORE_DELETE'
    | 'RETENTION_DELETE_ARTIFACTS_AFTER_DAYS'
  >,
): RetentionPolicy {
  return {
    delete_finished_runs_after_days: config.RETENTION_DELETE_FINISHED_RUNS_AFTER_DAYS ?? null,
    export_before_delete: config.RETENTION_EXPORT_BEFORE_DELETE,
    delete_artifacts_after_days: config.RETENTION_DELETE_ARTIFACTS_AFTER_DAYS ?? null,
  };
}

/**
 * Until run export is wired in, a policy that exports first keeps its runs (each reported as
 * skipped) rather than deleting them unexported.
 */
export const exportNotAvailable: ExportRunToFile = () =>
  Promise.reject(new Error('export not available'));

export function createRetentionDependencies(
  deletion: OwnerDeletionDependencies,
  defaults: RetentionPolicy,
  exportRunToFile: ExportRunToFile = exportNotAvailable,
): RetentionDependencies {
  return {
    ...deletion,
    defaults,
    exportRunToFile,
    perUserLimit: RETENTION_RUNS_PER_USER,
    batchSize: deletion.batchSize,
  };
}
