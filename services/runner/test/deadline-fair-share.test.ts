import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { fairShareKey, newId, type RunJob } from '@stepwise/shared';
import { FairShare, JobQueue, type JobContext } from '@stepwise/shared/node';
import {
  DEADLINE_PRIORITY,
  DeadlineTimers,
  deadlineJobId,
} from '../src/deadlines/deadline-timers.js';
import { createRunJobHandler } from '../src/run-jobs.js';
import { useTestDatabases } from '../../../test/support/databases.js';
import { loadTestPlugins, queuelessDrainDependencies } from '../../../test/support/runner.js';

/**
 * A deadline timer waits for hours or days on the `runs` queue. If it held a place in its owner's
 * fair-share line meanwhile, every other job of theirs (their answers included) would queue
 * behind it; so a timer takes no place, and firing gives none back.
 */
const db = await useTestDatabases('deadline_fair_share');
const runQueue = new JobQueue('runCommand', db.redis, db.queuePrefix);
const fairShare = new FairShare(db.redis, db.queuePrefix);
const timers = new DeadlineTimers(runQueue);
const handler = createRunJobHandler(
  db.models,
  queuelessDrainDependencies(db, await loadTestPlugins()),
  fairShare,
  timers,
);
const context: JobContext = {
  jobId: 'test',
  attemptsMade: 0,
  isFinalAttempt: true,
  logger: pino({ level: 'silent' }),
  reportProgress: async () => undefined,
};

async function placesHeld(userId: string): Promise<number> {
  return Number((await db.redis.get(fairShareKey(db.queuePrefix, userId))) ?? 0);
}

describe('deadline timers and fair shares', () => {
  it('sets a timer at the priority of a user with nothing queued, taking no place', async () => {
    const userId = newId('user');
    for (let i = 0; i < 3; i++) await fairShare.priorityFor(userId);
    const interactionId = newId('interaction');
    const dueAt = new Date(Date.now() + 3_600_000).toISOString();
    await timers.schedule({ runId: newId('run'), userId, interactionId, dueAt });

    const job = await runQueue.queue.getJob(deadlineJobId(interactionId, dueAt));
    expect(job?.opts.priority).toBe(DEADLINE_PRIORITY);
    expect(DEADLINE_PRIORITY).toBe(1);
    expect(job?.opts.delay).toBeGreaterThan(3_500_000);
    expect(await placesHeld(userId)).toBe(3);
  });

  it('gives no place back when a timer fires, while a finished command job does', async () => {
    const userId = newId('user');
    for (let i = 0; i < 3; i++) await fairShare.priorityFor(userId);
    const runId = newId('run');
    // No such run: the timer finds no question waiting and does nothing, done for good.
    const deadline: RunJob = {
      kind: 'deadline',
      workflow_run_id: runId,
      user_id: userId,
      interaction_id: newId('interaction'),
      due_at: new Date().toISOString(),
    };
    expect(await handler(deadline, context)).toEqual({ status: 'applied' });
    expect(await placesHeld(userId)).toBe(3);

    // The same handler gives a command job's place back once it is done for good.
    const drain: RunJob = {
      kind: 'drain',
      workflow_run_id: runId,
      user_id: userId,
      command_id: newId('command'),
    };
    await handler(drain, context).catch(() => undefined);
    expect(await placesHeld(userId)).toBe(2);
  });
});
