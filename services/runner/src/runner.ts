import type { RedisClient } from '@stepwise/shared/node';
import type { Connection } from 'mongoose';
import {
  encodeRunAnnouncement,
  eventsAppendedKey,
  newId,
  runChannel,
  userChannel,
  type StepwiseModule,
} from '@stepwise/shared';
import { FairShare, JobQueue, type Models } from '@stepwise/shared/node';
import type { DrainDependencies } from './engine/drain-run.js';
import { MongoRunRepository } from './engine/run-repository.js';
import { TemplateEngine } from './engine/templating.js';
import type { FetchSettings } from './modules/api-fetch.js';
import type { LlmSettings } from './modules/api-llm.js';
import { createBuiltInModules, createModuleRegistry } from './modules/registry.js';
import { createPlanLoader } from './plan-loader.js';
import { TokenLedger } from './history/token-ledger.js';
import { DeadlineFollower } from './deadlines/deadline-follower.js';
import { DeadlineTimers } from './deadlines/deadline-timers.js';
import { RunFactsCache } from './engine/run-facts.js';
import { NotificationOutbox } from './notifications/notification-outbox.js';

export interface RunnerOptions {
  mongo: Connection;
  models: Models;
  redis: RedisClient;
  queuePrefix: string;
  plugins: readonly StepwiseModule[];
  moduleTimeoutMs: number;
  fetch: FetchSettings;
  llm: LlmSettings;
  maxArtifactBytes: number;
  /** How long a drain's lease on a run lasts without renewal. */
  leaseMs: number;
  /** PUBLIC_URL: notifications link to the app only with it. */
  publicUrl: string | undefined;
}

/** Everything the drain needs, wired to MongoDB and Redis. */
export function createRunnerDependencies(options: RunnerOptions): {
  deps: DrainDependencies;
  runQueue: JobQueue<'runCommand'>;
  webhookQueue: JobQueue<'webhookDelivery'>;
  fairShare: FairShare;
  timers: DeadlineTimers;
} {
  const fairShare = new FairShare(options.redis, options.queuePrefix);
  const runQueue = new JobQueue('runCommand', options.redis, options.queuePrefix);
  const webhookQueue = new JobQueue('webhookDelivery', options.redis, options.queuePrefix);
  const timers = new DeadlineTimers(runQueue);
  const facts = new RunFactsCache(options.models);
  const repository = new MongoRunRepository(
    options.models,
    async ({ workflow_run_id: runId, user_id: userId }, lastSeq, events) => {
      // A commit's events ride along (when small enough): streams send them without a log read.
      // The owner's stream (GET /v1/me/stream) looks again too; it reads the runs themselves.
      // Both at once: neither waits for the other, and the drain goes on one round trip sooner.
      await Promise.all([
        options.redis.publish(
          runChannel(options.queuePrefix, runId),
          encodeRunAnnouncement(lastSeq, events),
        ),
        options.redis.publish(userChannel(options.queuePrefix, userId), runId),
      ]);
    },
    options.leaseMs,
    undefined,
    [
      new NotificationOutbox(options.models, facts, webhookQueue, options.publicUrl),
      new DeadlineFollower(timers, facts),
    ],
    (run) => facts.remember(run.workflow_run_id, run),
  );
  const tokenLedger = new TokenLedger(options.models);
  const deps: DrainDependencies = {
    repository,
    registry: createModuleRegistry(
      createBuiltInModules({
        mongo: options.mongo,
        models: options.models,
        fetch: options.fetch,
        llm: options.llm,
        tokens: tokenLedger,
        maxArtifactBytes: options.maxArtifactBytes,
      }),
      options.plugins,
    ),
    templates: new TemplateEngine(),
    loadPlan: createPlanLoader(options.mongo, options.models),
    history: repository,
    now: () => new Date(),
    newInteractionId: () => newId('interaction'),
    moduleTimeoutMs: options.moduleTimeoutMs,
    leaseMs: options.leaseMs,
    closeAttempt: (runId, key, recovered) => tokenLedger.closeAttempt(runId, key, recovered),
    scheduleRecovery: async (runId, userId, at) => {
      // One look per run and moment is enough however many drains found the lease held.
      const slot = Math.ceil(at.getTime() / 1_000);
      await runQueue.enqueue(
        { kind: 'recover', workflow_run_id: runId, user_id: userId },
        {
          delay: Math.max(0, at.getTime() - Date.now()),
          jobId: `recover-${runId}-${slot}`,
          priority: await fairShare.priorityFor(userId),
        },
      );
    },
    countCommitted: (count) => {
      void options.redis.incrby(eventsAppendedKey(options.queuePrefix), count).catch(() => 0);
    },
    scheduleWake: async (runId, userId, expectedLastSeq, at) => {
      // The timer is noted on the run (while it still stands at that seq), so that a check on an
      // outside job that recorded no event still has a durable next time, and the sweeper leaves
      // a run whose timer is ahead alone (effects.md, rule 8).
      await options.models.runs.collection.updateOne(
        { workflow_run_id: runId, user_id: userId, last_seq: expectedLastSeq },
        { $set: { wake_at: at, wake_seq: expectedLastSeq } },
      );
      await runQueue.enqueue(
        {
          kind: 'wake',
          workflow_run_id: runId,
          user_id: userId,
          expected_last_seq: expectedLastSeq,
        },
        {
          delay: Math.max(0, at.getTime() - Date.now()),
          // One wake per seq and time: a job checked without news sets a later one at the same
          // seq, and a repeated request for the same moment is still one job.
          jobId: `wake-${runId}-${expectedLastSeq}-${at.getTime()}`,
          priority: await fairShare.priorityFor(userId),
        },
      );
    },
  };
  return { deps, runQueue, webhookQueue, fairShare, timers };
}
