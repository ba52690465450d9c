import {
  acceptRunCommand,
  DuplicateRequestKeyError,
  type JobQueue,
  type Models,
} from '@stepwise/shared/node';
import { NotFoundError, newId, type CommandOutcome, type RunJob } from '@stepwise/shared';

/**
 * Deadline timers (people.md, "Notifications and deadlines"): a durable delayed job on the `runs`
 * queue per question and due time. A timer only ever adds a `timeout` command, and only while its
 * question is still pending with that deadline, so nothing cancels timers: a question answered in
 * time finds its timer doing nothing. A lost timer (Redis lost its job) is re-created from the run
 * document, which the log's `interaction_requested` and `reminder_sent` events keep up to date.
 */
export class DeadlineTimers {
  constructor(private readonly runQueue: JobQueue<'runCommand'>) {}

  /** Sets the timer for one question's deadline; setting it again is the same job. */
  async schedule(
    timer: { runId: string; userId: string; interactionId: string; dueAt: string },
    jobId = deadlineJobId(timer.interactionId, timer.dueAt),
  ): Promise<void> {
    await this.runQueue.enqueue(
      {
        kind: 'deadline',
        workflow_run_id: timer.runId,
        user_id: timer.userId,
        interaction_id: timer.interactionId,
        due_at: timer.dueAt,
      },
      {
        delay: Math.max(0, Date.parse(timer.dueAt) - Date.now()),
        jobId,
        // Not a place in the owner's fair-share line: a timer waits for hours or days, and a
        // place held that long would put every other job of theirs, answers included, behind
        // it. Firing is short (a read, perhaps a command), so it goes as a user with no backlog.
        priority: DEADLINE_PRIORITY,
      },
    );
  }
}

/** The priority of a timer's job: that of a user with nothing else queued. */
export const DEADLINE_PRIORITY = 1;

export function deadlineJobId(interactionId: string, dueAt: string): string {
  return `deadline-${interactionId}-${Date.parse(dueAt)}`;
}

/** The idempotency key of a deadline's command: one `timeout` per question and due time. */
export function deadlineCommandKey(interactionId: string, dueAt: string): string {
  return `stepwise-deadline:${interactionId}:${dueAt}`;
}

type DeadlineJob = Extract<RunJob, { kind: 'deadline' }>;

/**
 * A due timer: if its question still waits with that deadline, a `timeout` command is put in the
 * run's inbox (once, by its key) and the run is drained. A run answered in time is not touched.
 */
export async function fireDeadline(
  models: Models,
  timers: DeadlineTimers,
  job: DeadlineJob,
  drain: (run: { workflow_run_id: string; user_id: string }) => Promise<unknown>,
): Promise<CommandOutcome> {
  const owned = { workflow_run_id: job.workflow_run_id, user_id: job.user_id };
  const run = await models.runs.findOne(owned).select({ status: 1, pending_interaction: 1 }).lean();
  const pending = run?.pending_interaction;
  if (
    run?.status !== 'awaiting_input' ||
    pending?.interaction_id !== job.interaction_id ||
    pending.deadline?.due_at !== job.due_at
  )
    return { status: 'applied' };
  // Fired early (clocks of two machines disagree): set again for the remaining time.
  if (Date.parse(job.due_at) > Date.now() + 50) {
    await timers.schedule(
      {
        runId: job.workflow_run_id,
        userId: job.user_id,
        interactionId: job.interaction_id,
        dueAt: job.due_at,
      },
      `${deadlineJobId(job.interaction_id, job.due_at)}-again-${Date.now()}`,
    );
    return { status: 'applied' };
  }
  const command = {
    runId: job.workflow_run_id,
    userId: job.user_id,
    type: 'timeout' as const,
    payload: { interaction_id: job.interaction_id, due_at: job.due_at },
    correlationId: newId('correlation'),
    actor: null,
  };
  try {
    await acceptRunCommand(models, {
      ...command,
      idempotencyKey: deadlineCommandKey(job.interaction_id, job.due_at),
    });
  } catch (error) {
    if (error instanceof NotFoundError) return { status: 'applied' };
    if (!(error instanceof DuplicateRequestKeyError)) throw error;
    // Accepted before (a timer set twice, or a sweep): the drain below applies it if need be.
    // But keys share one space per user, so the owner's own request may have carried this key
    // (it is made of values the API shows): that is not the deadline's command, which then goes
    // in without a key rather than never.
    const existing = error.existing;
    if (existing.type !== 'timeout' || existing.workflow_run_id !== job.workflow_run_id)
      await acceptRunCommand(models, command);
  }
  await drain(owned);
  return { status: 'applied' };
}
