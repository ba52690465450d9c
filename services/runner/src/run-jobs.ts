import { NotFoundError, newId, type CommandOutcome, type RunJob } from '@stepwise/shared';
import {
  acceptRunCommand,
  lateCommandError,
  settleCommand,
  type FairShare,
  type JobContext,
  type Models,
} from '@stepwise/shared/node';
import { drainRun, type DrainDependencies } from './engine/drain-run.js';
import { fireDeadline, type DeadlineTimers } from './deadlines/deadline-timers.js';

/**
 * The `runs` queue's processor. A `drain` applies the run's pending commands and answers for its
 * own; a `wake` puts a `continue` in the run's inbox (so it takes its turn like any command) and
 * drains; a `deadline` does the same with a `timeout` if its question still waits (see
 * DeadlineTimers). A redelivered job finds its command already applied and answers the same. A job gives
 * its user's place in line back when it is done for good (see FairShare).
 */
export function createRunJobHandler(
  models: Models,
  deps: DrainDependencies,
  fairShare: FairShare,
  timers: DeadlineTimers,
) {
  return async (job: RunJob, context: JobContext): Promise<CommandOutcome> => {
    let done = context.isFinalAttempt;
    try {
      const outcome =
        job.kind === 'deadline'
          ? await fireDeadline(models, timers, job, (run) => drainRun(run, deps))
          : await handleRunJob(models, deps, job, context);
      done = true;
      return outcome;
    } finally {
      // A timer took no place in its owner's line (DeadlineTimers.schedule): none to give back.
      if (done && job.kind !== 'deadline')
        await fairShare.release(job.user_id).catch(() => undefined);
    }
  };
}

async function handleRunJob(
  models: Models,
  deps: DrainDependencies,
  job: Exclude<RunJob, { kind: 'deadline' }>,
  context: JobContext,
): Promise<CommandOutcome> {
  const run = { workflow_run_id: job.workflow_run_id, user_id: job.user_id };
  if (job.kind === 'recover') {
    await drainRun(run, deps);
    return { status: 'applied' };
  }
  if (job.kind === 'wake') {
    try {
      await acceptRunCommand(models, {
        runId: job.workflow_run_id,
        userId: job.user_id,
        type: 'continue',
        payload: { expected_last_seq: job.expected_last_seq },
        correlationId: newId('correlation'),
      });
    } catch (error) {
      if (error instanceof NotFoundError) return { status: 'applied' };
      throw error;
    }
    await drainRun(run, deps);
    return { status: 'applied' };
  }

  const drained = await drainRun(run, deps, { commandSeq: job.command_seq });
  // Usually this drain applied the job's command itself and knows how that went.
  const known = drained.outcomes.get(job.command_id);
  if (known) return known;
  // The run's lease holder applies it; the gateway waits for the command's settlement instead.
  if (drained.deferred) return { status: 'deferred' };
  const commandKey = { workflow_run_id: job.workflow_run_id, command_id: job.command_id };
  let command = await models.runCommands.findOne(commandKey).lean();
  if (!command)
    return {
      status: 'rejected',
      error: { code: 'NOT_FOUND', message: `command ${job.command_id} not found` },
    };
  if (command.status === 'pending') {
    const current = await models.runs
      .findOne(run)
      .select({ applied_command_seq: 1 })
      .lean<{ applied_command_seq: number }>();
    // Its run vanished; retrying cannot help, so answer plainly.
    if (!current)
      return {
        status: 'rejected',
        error: { code: 'NOT_FOUND', message: `run ${job.workflow_run_id} not found` },
      };
    // Read again after the run: another drain may have applied and finished it meanwhile.
    command = (await models.runCommands.findOne(commandKey).lean()) ?? command;
    // Below the run's applied number and still pending, read after the run: no drain saw it when
    // it passed its number (each settles the last applied command before applying another), so
    // it was stored after its number had been given up as lost. It cannot apply in its place any
    // more, and is refused rather than applied out of order. (At the applied number itself it is
    // only waiting for its finisher, and the next drain settles it.)
    if (command.status === 'pending' && command.seq < current.applied_command_seq) {
      await settleCommand(models, command, 'rejected', lateCommandError);
      await deps.repository.announce(run, -1);
      return { status: 'rejected', error: lateCommandError };
    }
    // Still waiting for an earlier command in flight, or for its finisher: the queue retries.
    if (command.status === 'pending') throw new Error(`command ${job.command_id} is still pending`);
  }
  context.logger.debug(
    { command_id: command.command_id, status: command.status },
    'command settled',
  );
  if (command.status === 'applied') return { status: 'applied' };
  const error = command.error ?? { code: 'CONFLICT', message: 'rejected', details: undefined };
  return {
    status: 'rejected',
    error: { code: error.code, message: error.message, details: error.details },
  };
}
