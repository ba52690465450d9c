import {
  NotFoundError,
  newId,
  type Actor,
  type BranchRecord,
  type RunCommandRecord,
  type RunCommandType,
} from './index.js';
import type { Models } from './models/index.js';

/**
 * The run inbox: the one place that builds, accepts, settles and refuses command records, so the
 * gateway (which accepts) and the runner (which applies and settles) cannot disagree on them.
 */

export interface AcceptCommandInput {
  runId: string;
  userId: string;
  type: RunCommandType;
  payload?: Record<string, unknown>;
  correlationId: string;
  actor?: Actor | null;
  /** The client's Idempotency-Key, if it sent one. */
  idempotencyKey?: string | undefined;
  now?: Date;
}

export type CommandSettlement = 'applied' | 'rejected';
/** A refusal as a command record keeps it. */
export interface CommandError {
  code: string;
  message: string;
  details?: unknown;
}

/** The key under which a client's Idempotency-Key is stored: scoped to its user. */
export function clientRequestKey(userId: string, idempotencyKey: string): string {
  return `${userId}:${idempotencyKey}`;
}

/** A new pending command record, numbered `seq` in its run's acceptance order. */
export function newCommandRecord(input: AcceptCommandInput, seq: number): RunCommandRecord {
  return {
    command_id: newId('command'),
    workflow_run_id: input.runId,
    user_id: input.userId,
    seq,
    type: input.type,
    payload: input.payload ?? {},
    correlation_id: input.correlationId,
    actor: input.actor ?? null,
    ...(input.idempotencyKey === undefined
      ? {}
      : { client_request_key: clientRequestKey(input.userId, input.idempotencyKey) }),
    status: 'pending',
    error: null,
    accepted_at: input.now ?? new Date(),
    finished_at: null,
  };
}

/** Thrown when a client's Idempotency-Key already names a command: `existing` is that one. */
export class DuplicateRequestKeyError extends Error {
  constructor(readonly existing: RunCommandRecord) {
    super(`the Idempotency-Key was used for command ${existing.command_id}`);
  }
}

function isDuplicateKey(error: unknown): boolean {
  return (error as { code?: unknown }).code === 11000;
}

type InboxModels = Pick<Models, 'runs' | 'runCommands'>;

/** The command a client's Idempotency-Key names, if any. */
export function findCommandByRequestKey(
  models: InboxModels,
  userId: string,
  idempotencyKey: string,
): Promise<RunCommandRecord | null> {
  return models.runCommands
    .findOne({ client_request_key: clientRequestKey(userId, idempotencyKey) })
    .lean<RunCommandRecord>();
}

/**
 * Fills a number taken for a command that will not be stored with a command that changes nothing
 * (a `continue` that never matches), so later commands do not wait for it until it counts as lost.
 * Best effort: if this write fails too, the runners step over the number once it counts as lost;
 * if the command was stored after all (its write's answer was lost), the unique (run, seq) index
 * turns the filler away and the command stands.
 */
async function fillNumber(models: InboxModels, input: AcceptCommandInput, seq: number) {
  const filler = newCommandRecord(
    { ...input, type: 'continue', payload: { expected_last_seq: -1 }, idempotencyKey: undefined },
    seq,
  );
  await models.runCommands.collection.insertOne({ ...filler }).catch(() => undefined);
}

/**
 * Puts a command in the run's inbox. Its place in line is taken with one `$inc` on the run
 * document, which also scopes the command to the run's owner: another user's run is not found.
 * Runners apply commands in this order. A repeated Idempotency-Key throws
 * DuplicateRequestKeyError with the first command. A command that cannot be stored once its number
 * is taken (a race on its Idempotency-Key, a value the driver refuses, a failed write) leaves no
 * gap: the number is filled with a command that changes nothing, and the error goes to the caller.
 */
export async function acceptRunCommand(
  models: InboxModels,
  input: AcceptCommandInput,
): Promise<RunCommandRecord> {
  if (input.idempotencyKey !== undefined) {
    const existing = await findCommandByRequestKey(models, input.userId, input.idempotencyKey);
    if (existing) throw new DuplicateRequestKeyError(existing);
  }
  const run = await models.runs
    .findOneAndUpdate(
      { workflow_run_id: input.runId, user_id: input.userId },
      { $inc: { command_seq: 1 }, $set: { command_accepted_at: input.now ?? new Date() } },
      { returnDocument: 'after', projection: { command_seq: 1 } },
    )
    .lean();
  if (!run) throw new NotFoundError('run', input.runId);
  const command = newCommandRecord(input, run.command_seq);
  try {
    await models.runCommands.collection.insertOne({ ...command });
  } catch (error) {
    // Two requests with one key raced: the loser answers with the winner's command.
    const existing =
      isDuplicateKey(error) && input.idempotencyKey !== undefined
        ? await findCommandByRequestKey(models, input.userId, input.idempotencyKey).catch(
            () => null,
          )
        : null;
    // Whatever failed, the number is taken and must not stay a gap: until it counted as lost
    // (LOST_COMMAND_NUMBER_AFTER_MS) every later command on the run would wait for it.
    await fillNumber(models, input, run.command_seq);
    throw existing ? new DuplicateRequestKeyError(existing) : error;
  }
  return command;
}

/** The command at `seq` in a run's acceptance order (an exact lookup on the unique index). */
export function commandAt(
  models: InboxModels,
  runId: string,
  seq: number,
): Promise<RunCommandRecord | null> {
  return models.runCommands.findOne({ workflow_run_id: runId, seq }).lean<RunCommandRecord>();
}

/** The way past a lost number: the first command stored after it. */
export function firstPendingAfter(
  models: InboxModels,
  runId: string,
  seq: number,
): Promise<RunCommandRecord | null> {
  return models.runCommands
    .findOne({ workflow_run_id: runId, status: 'pending', seq: { $gt: seq } })
    .sort({ seq: 1 })
    .lean<RunCommandRecord>();
}

/**
 * Settles a pending command. `writtenSeq`: the run's last_seq once this command's latest commit
 * is in the log (see RunCommandRecord.written_seq).
 */
export async function settleCommand(
  models: InboxModels,
  command: Pick<RunCommandRecord, 'command_id'>,
  status: CommandSettlement,
  error: CommandError | null,
  writtenSeq?: number,
): Promise<void> {
  await models.runCommands.updateOne(
    { command_id: command.command_id, status: 'pending' },
    {
      $set: {
        status,
        error,
        finished_at: new Date(),
        ...(writtenSeq === undefined ? {} : { written_seq: writtenSeq }),
      },
    },
  );
}

/** Records that a later commit of an already settled command is in the log. */
export async function markCommandWritten(
  models: InboxModels,
  commandId: string,
  writtenSeq: number,
): Promise<void> {
  await models.runCommands.updateOne(
    { command_id: commandId },
    { $max: { written_seq: writtenSeq } },
  );
}

/** The refusal given to a command stored after its number had been given up as lost. */
export const lateCommandError: CommandError = {
  code: 'CONFLICT',
  message: 'the command arrived after later commands were applied; send it again',
};

/** The Redis channel on which a run's commits and settlements are announced. */
export function runChannel(queuePrefix: string, runId: string): string {
  return `${queuePrefix}:run:${runId}`;
}

/**
 * The Redis channel on which commits of any of a user's runs are announced (the user stream,
 * `GET /v1/me/stream`). Like the run channel it only says "look again".
 */
export function userChannel(queuePrefix: string, userId: string): string {
  return `${queuePrefix}:user:${userId}`;
}

/** The events a branch sees: its own, and each ancestor's up to where the branch left it. */
export function visibleEventsFilter(branch: BranchRecord): Record<string, unknown> {
  // A root branch sees only its own events: a plain filter the (run, branch, seq) index serves.
  if (branch.lineage.length === 0)
    return { workflow_run_id: branch.workflow_run_id, branch_id: branch.branch_id };
  return {
    workflow_run_id: branch.workflow_run_id,
    $or: [
      { branch_id: branch.branch_id },
      ...branch.lineage.map((ancestor) => ({
        branch_id: ancestor.branch_id,
        seq: { $lte: ancestor.until_seq },
      })),
    ],
  };
}
