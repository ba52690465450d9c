import { NotFoundError, newId, type RunCommandRecord, type RunCommandType } from './index.js';
import type { Models } from './models/index.js';

export interface AcceptCommandInput {
  runId: string;
  userId: string;
  type: RunCommandType;
  payload?: Record<string, unknown>;
  correlationId: string;
  now?: Date;
}

/**
 * Puts a command in the run's inbox. Its place in line is taken with one `$inc` on the run
 * document, which also scopes the command to the run's owner: another user's run is not found.
 * Runners apply commands in this order.
 */
export async function acceptRunCommand(
  models: Pick<Models, 'runs' | 'runCommands'>,
  input: AcceptCommandInput,
): Promise<RunCommandRecord> {
  const run = await models.runs
    .findOneAndUpdate(
      { workflow_run_id: input.runId, user_id: input.userId },
      { $inc: { command_seq: 1 }, $set: { command_accepted_at: input.now ?? new Date() } },
      { returnDocument: 'after', projection: { command_seq: 1 } },
    )
    .lean();
  if (!run) throw new NotFoundError('run', input.runId);
  const command: RunCommandRecord = {
    command_id: newId('command'),
    workflow_run_id: input.runId,
    user_id: input.userId,
    seq: run.command_seq,
    type: input.type,
    payload: input.payload ?? {},
    correlation_id: input.correlationId,
    status: 'pending',
    error: null,
    accepted_at: input.now ?? new Date(),
    finished_at: null,
  };
  await models.runCommands.collection.insertOne({ ...command });
  return command;
}

/** The Redis channel on which a run's commits are announced (payload: the new last_seq). */
export function runChannel(queuePrefix: string, runId: string): string {
  return `${queuePrefix}:run:${runId}`;
}
