import type { QueueEvents } from 'bullmq';
import {
  NotFoundError,
  StepwiseError,
  canonicalJson,
  commandOutcomeSchema,
  errorCodeSchema,
  type RunCommandRecord,
} from '@stepwise/shared';
import {
  DuplicateRequestKeyError,
  acceptRunCommand,
  type AcceptCommandInput,
  type FairShare,
  type JobQueue,
  type Logger,
  type Models,
} from '@stepwise/shared/node';
import { awaitJob } from '../jobs/await-job.js';
import { ChangeSignal, type RunNotifications } from './run-notifications.js';

export interface RunCommandDependencies {
  models: Models;
  fairShare: FairShare;
  runQueue: JobQueue<'runCommand'>;
  runEvents: QueueEvents;
  notifications: RunNotifications;
  logger: Logger;
  shutdown: AbortSignal;
}

export type CommandState = 'applied' | 'pending';

/** The answer to a settled command: applied, or its refusal thrown as the error it is. */
function settled(command: Pick<RunCommandRecord, 'status' | 'error'>): CommandState | null {
  if (command.status === 'pending') return null;
  if (command.status === 'applied') return 'applied';
  const error = command.error ?? { code: 'CONFLICT', message: 'refused', details: undefined };
  const code = errorCodeSchema.safeParse(error.code);
  throw new StepwiseError(code.success ? code.data : 'CONFLICT', error.message, error.details);
}

/**
 * Waits until `deadline` for a command's settlement as its record says (effects.md, rule 1): the
 * runners announce every settlement on the run's channel, and the record is read again at least
 * every second in case an announcement was lost.
 */
async function awaitSettlement(
  deps: RunCommandDependencies,
  command: RunCommandRecord,
  deadline: number,
): Promise<CommandState> {
  const signal = new ChangeSignal();
  const unsubscribe = deps.notifications.subscribe(command.workflow_run_id, signal.notify);
  try {
    for (;;) {
      const record = await deps.models.runCommands
        .findOne({ workflow_run_id: command.workflow_run_id, command_id: command.command_id })
        .select({ status: 1, error: 1 })
        .lean<Pick<RunCommandRecord, 'status' | 'error'>>();
      const state = record ? settled(record) : null;
      if (state) return state;
      const left = deadline - Date.now();
      if (left <= 0) return 'pending';
      await signal.wait(Math.min(left, 1_000), deps.shutdown);
      if (deps.shutdown.aborted) return 'pending';
    }
  } finally {
    unsubscribe();
  }
}

/**
 * Hands an accepted command to the runners and waits up to `waitMs` for its settlement. Usually
 * the job that carries it applies it and says how it went; when another drain holds the run, that
 * drain applies it, and the command's record tells.
 */
export async function dispatchCommand(
  deps: RunCommandDependencies,
  command: RunCommandRecord,
  waitMs: number,
  /** The user's place in line, when the caller took it already (see submitRunCommand). */
  place: Promise<number> = deps.fairShare.priorityFor(command.user_id),
): Promise<CommandState> {
  const deadline = Date.now() + waitMs;
  let job;
  try {
    job = await deps.runQueue.enqueue(
      {
        kind: 'drain',
        workflow_run_id: command.workflow_run_id,
        user_id: command.user_id,
        command_id: command.command_id,
        command_seq: command.seq,
      },
      { jobId: command.command_id, priority: await place },
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
  if (outcome.status === 'deferred') return awaitSettlement(deps, command, deadline);
  const code = errorCodeSchema.safeParse(outcome.error.code);
  throw new StepwiseError(
    code.success ? code.data : 'CONFLICT',
    outcome.error.message,
    outcome.error.details,
  );
}

/** A command to accept (see AcceptCommandInput), and how long to wait for its settlement. */
export interface SubmitCommandInput extends Omit<AcceptCommandInput, 'now'> {
  waitMs: number;
}

/**
 * Accepts a command into the run's inbox (404 for another user's run) and dispatches it. A repeat
 * of an Idempotency-Key does nothing new: it waits for the first command's settlement and answers
 * that (409 if the key was used for a different request).
 */
export async function submitRunCommand(
  deps: RunCommandDependencies,
  input: SubmitCommandInput,
): Promise<{ state: CommandState; command: RunCommandRecord }> {
  let command: RunCommandRecord;
  // The place in the user's line is taken while the command is stored (one round trip fewer
  // before the job is queued), and given back if no job comes of it.
  const place = deps.fairShare.priorityFor(input.userId);
  place.catch(() => undefined); // a failure surfaces where the job is queued
  try {
    const { waitMs: _waitMs, ...accept } = input;
    command = await acceptRunCommand(deps.models, accept);
  } catch (error) {
    void place.then(() => deps.fairShare.release(input.userId)).catch(() => undefined);
    if (!(error instanceof DuplicateRequestKeyError)) throw error;
    const first = error.existing;
    // Another tenant's run is not found, whatever key comes with the request.
    if (!(await deps.models.runs.exists({ workflow_run_id: input.runId, user_id: input.userId })))
      throw new NotFoundError('run', input.runId);
    if (!sameRequest(first, input)) {
      throw new StepwiseError(
        'CONFLICT',
        'this Idempotency-Key was already used for a different request; use a new key',
        [{ path: 'headers.idempotency-key', message: `used for command ${first.command_id}` }],
      );
    }
    return {
      state: await awaitSettlement(deps, first, Date.now() + input.waitMs),
      command: first,
    };
  }
  return { state: await dispatchCommand(deps, command, input.waitMs, place), command };
}

/** True when a repeated key comes with the same request (branch ids are minted per request). */
function sameRequest(first: RunCommandRecord, input: SubmitCommandInput): boolean {
  if (first.workflow_run_id !== input.runId || first.type !== input.type) return false;
  const comparable = (payload: Record<string, unknown> | undefined) => {
    const { branch_id: _minted, ...rest } = payload ?? {};
    return canonicalJson(rest);
  };
  return comparable(first.payload) === comparable(input.payload);
}
