import type { RedisClient } from '@stepwise/shared/node';
import { JobQueue, startWorker, type Logger, type Models } from '@stepwise/shared/node';
import type { ArtifactStore } from './artifacts/artifact-store.js';
import { KeywordHistoryStore } from './history/keyword-history.js';
import { applyRetention, type RetentionDependencies } from './deletions/retention.js';

export interface MaintenanceOptions {
  models: Models;
  redis: RedisClient;
  queuePrefix: string;
  logger: Logger;
  everyMs: number;
  artifacts: ArtifactStore;
  /** Age after which an unlinked artifact counts as an orphan. */
  artifactGraceMs: number;
  /**
   * The retention policies' dependencies, and how often they are applied (RETENTION_INTERVAL_MS);
   * without them no retention is scheduled.
   */
  retention?: { deps: RetentionDependencies; everyMs: number };
}

/**
 * Scheduled housekeeping on the `maintenance` queue. The schedule is a BullMQ job scheduler with a
 * fixed id, so every runner may upsert it at start and there is still one schedule; whichever
 * runner is free takes each job. Expired keywords are deleted here, not by a TTL index, and so are
 * artifacts of attempts that never committed; the retention policies are applied here too.
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
  // Orphans are looked for several times per grace period, so none outlives it by much.
  await queue.queue.upsertJobScheduler(
    'sweep-artifacts',
    { every: Math.max(1_000, Math.floor(options.artifactGraceMs / 4)) },
    {
      name: 'maintenance',
      data: { kind: 'sweep_artifacts' },
      opts: { removeOnComplete: 100, removeOnFail: 100 },
    },
  );
  const retention = options.retention;
  if (retention)
    await queue.queue.upsertJobScheduler(
      'apply-retention',
      { every: retention.everyMs },
      {
        name: 'maintenance',
        data: { kind: 'apply_retention' },
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
    handler: async (job) => {
      switch (job.kind) {
        case 'expire_keywords':
          return { deleted: await keywords.deleteExpired() };
        case 'sweep_artifacts':
          return { deleted: await options.artifacts.sweepOrphans(options.artifactGraceMs) };
        case 'apply_retention': {
          if (!retention) return { reports: [] };
          const reports = await applyRetention(retention.deps, new Date());
          return { reports: reports.map((report) => report.report_id) };
        }
      }
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
