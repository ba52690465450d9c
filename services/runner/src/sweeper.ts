import type { RedisClient } from '@stepwise/shared/node';
import type { FairShare, JobQueue, Logger, Models } from '@stepwise/shared/node';
import { scatterGather } from '@stepwise/shared/node';
import type { DeadlineTimers } from './deadlines/deadline-timers.js';

export interface SweeperOptions {
  fairShare: FairShare;
  models: Models;
  redis: RedisClient;
  runQueue: JobQueue<'runCommand'>;
  webhookQueue: JobQueue<'webhookDelivery'>;
  timers: DeadlineTimers;
  logger: Logger;
  lockKey: string;
  intervalMs: number;
  staleAfterMs: number;
}

/**
 * A safety net for work that no job carries any more: a command accepted while Redis lost its job,
 * a retry whose wake was never scheduled because its runner died right after the commit, a run
 * whose start was never enqueued. It re-enqueues them; the commands' idempotency makes a duplicate
 * harmless. One runner sweeps at a time (a Redis lock), so a fleet does not multiply the work.
 */
export async function sweepOnce(
  options: SweeperOptions,
  now = new Date(),
): Promise<{ commands: number; runs: number; deadlines: number; deliveries: number }> {
  const locked = await options.redis.set(options.lockKey, '1', 'PX', options.intervalMs, 'NX');
  if (locked !== 'OK') return { commands: 0, runs: 0, deadlines: 0, deliveries: 0 };
  const before = new Date(now.getTime() - options.staleAfterMs);
  const minute = Math.floor(now.getTime() / 60_000);

  const commands = await options.models.runCommands
    .find({ status: 'pending', accepted_at: { $lt: before } })
    .comment(scatterGather('sweep:stale-commands'))
    .sort({ accepted_at: 1 })
    .limit(500)
    .lean();
  for (const command of commands) {
    await options.runQueue.enqueue(
      {
        kind: 'drain',
        workflow_run_id: command.workflow_run_id,
        user_id: command.user_id,
        command_id: command.command_id,
        command_seq: command.seq,
      },
      {
        jobId: `sweep-${command.command_id}-${minute}`,
        priority: await options.fairShare.priorityFor(command.user_id),
      },
    );
  }

  // A run whose lease is live has a drain working on it (a long module renews the lease); one
  // whose timer is ahead (a retry's backoff, an outside job's next check) is waiting, not stuck.
  const runs = await options.models.runs
    .find({
      status: 'running',
      updated_at: { $lt: before },
      $and: [
        { $or: [{ lease_expires_at: null }, { lease_expires_at: { $lte: now } }] },
        { $or: [{ wake_at: null }, { wake_at: { $lt: before } }] },
      ],
    })
    .comment(scatterGather('sweep:stale-runs'))
    .select({ workflow_run_id: 1, user_id: 1, last_seq: 1 })
    .limit(500)
    .lean();
  for (const run of runs) {
    await options.runQueue.enqueue(
      {
        kind: 'wake',
        workflow_run_id: run.workflow_run_id,
        user_id: run.user_id,
        expected_last_seq: run.last_seq,
      },
      {
        jobId: `sweep-wake-${run.workflow_run_id}-${run.last_seq}-${minute}`,
        priority: await options.fairShare.priorityFor(run.user_id),
      },
    );
  }
  const deadlines = await sweepDeadlines(options, before, minute);
  const deliveries = await sweepDeliveries(options, now, before, minute);
  const counts = { commands: commands.length, runs: runs.length, deadlines, deliveries };
  if (commands.length + runs.length + deadlines + deliveries > 0) {
    options.logger.info(counts, 'sweep re-enqueued work');
  }
  return counts;
}

/**
 * Questions whose deadline passed a while ago and still wait: their timer was lost (Redis lost
 * the job) or never set (the commit's outbox is not written yet). The run document says when each
 * is due, from the log's `interaction_requested` and `reminder_sent`; the timer is set again.
 */
async function sweepDeadlines(options: SweeperOptions, before: Date, minute: number) {
  const waiting = await options.models.runs
    .find({
      status: 'awaiting_input',
      'pending_interaction.deadline.due_at': { $lt: before.toISOString() },
    })
    .comment(scatterGather('sweep:lost-deadlines'))
    .select({ workflow_run_id: 1, user_id: 1, pending_interaction: 1 })
    .limit(500)
    .lean();
  let count = 0;
  for (const run of waiting) {
    const pending = run.pending_interaction;
    const dueAt = pending?.deadline?.due_at;
    if (!pending || !dueAt) continue;
    await options.timers.schedule(
      {
        runId: run.workflow_run_id,
        userId: run.user_id,
        interactionId: pending.interaction_id,
        dueAt,
      },
      `sweep-deadline-${pending.interaction_id}-${Date.parse(dueAt)}-${minute}`,
    );
    count++;
  }
  return count;
}

/**
 * Deliveries that should have been tried a while ago and are not being sent: their job was lost,
 * or their dispatcher died before it queued the next attempt.
 */
async function sweepDeliveries(options: SweeperOptions, now: Date, before: Date, minute: number) {
  const stuck = await options.models.webhookDeliveries
    .find({
      status: 'pending',
      next_attempt_at: { $lt: before },
      $or: [{ sending_until: null }, { sending_until: { $lte: now } }],
    })
    .comment(scatterGather('sweep:stuck-deliveries'))
    .select({ delivery_id: 1, user_id: 1 })
    .limit(500)
    .lean();
  for (const delivery of stuck) {
    await options.webhookQueue.enqueue(
      { delivery_id: delivery.delivery_id, user_id: delivery.user_id },
      { jobId: `sweep-${delivery.delivery_id}-${minute}` },
    );
  }
  return stuck.length;
}

export function startSweeper(options: SweeperOptions): () => void {
  const tick = () =>
    void sweepOnce(options).catch((error: unknown) =>
      options.logger.warn({ err: error }, 'sweep failed'),
    );
  const first = setTimeout(tick, Math.min(5_000, options.intervalMs));
  const timer = setInterval(tick, options.intervalMs);
  first.unref();
  timer.unref();
  return () => {
    clearTimeout(first);
    clearInterval(timer);
  };
}
