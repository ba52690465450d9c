import type { QueueEvents } from 'bullmq';
import {
  StepwiseError,
  commandOutcomeSchema,
  errorCodeSchema,
  type RunCommandRecord,
  type RunCommandType,
} from '@stepwise/shared';
import {
  acceptRunCommand,
  type FairShare,
  type JobQueue,
  type Logger,
  type Models,
} from '@stepwise/shared/node';
import { awaitJob } from '../jobs/await-job.js';

export interface RunCommandDependencies {
  models: Models;
  fairShare: FairShare;
  runQueue: JobQueue<'runCommand'>;
  runEvents: QueueEvents;
  logger: Logger;
}

export type CommandState = 'applied' | 'pending';

/** Hands an accepted command to the runners and waits up to `waitMs` for its outcome. */
export async function dispatchCommand(
  deps: RunCommandDependencies,
  command: RunCommandRecord,
  waitMs: number,
): Promise<CommandState> {
  let job;
  try {
    job = await deps.runQueue.enqueue(
      {
        kind: 'drain',
        workflow_run_id: command.workflow_run_id,
        user_id: command.user_id,
        command_id: command.command_id,
      },
      { jobId: command.command_id, priority: await deps.fairShare.priorityFor(command.user_id) },
    );
  } catch (error) {
    // The command is stored and the runners' sweep will carry it; the client must not send it again.
    deps.logger.warn(
      { err: error, command_id: command.command_id },
      'could not enqueue command; left for the sweep',
    );
    return 'pending';
  }
  const awaited = await awaitJob(deps.runQueue.queue, job, deps.runEvents, waitMs);
  if (!awaited.finished) return 'pending';
  const outcome = commandOutcomeSchema.parse(awaited.value);
  if (outcome.status === 'applied') return 'applied';
  const code = errorCodeSchema.safeParse(outcome.error.code);
  throw new StepwiseError(
    code.success ? code.data : 'CONFLICT',
    outcome.error.message,
    outcome.error.details,
  );
}

/** Accepts a command into the run's inbox (404 for another user's run) and dispatches it. */
export async function submitRunCommand(
  deps: RunCommandDependencies,
  input: {
    runId: string;
    userId: string;
    type: RunCommandType;
    payload?: Record<string, unknown>;
    correlationId: string;
    waitMs: number;
  },
): Promise<CommandState> {
  const command = await acceptRunCommand(deps.models, {
    runId: input.runId,
    userId: input.userId,
    type: input.type,
    ...(input.payload ? { payload: input.payload } : {}),
    correlationId: input.correlationId,
  });
  return dispatchCommand(deps, command, input.waitMs);
}
