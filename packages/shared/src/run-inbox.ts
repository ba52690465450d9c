import { setTimeout as sleep } from 'node:timers/promises';
import {
  NotFoundError,
  UnavailableError,
  newId,
  type Actor,
  type BranchRecord,
  type RunCommandRecord,
  type RunCommandType,
} from './index.js';
import type { Models } from './models/index.js';
import type { RequestKeyRecord } from './models/lookups.js';
import type { ScatterGatherQuery } from './models/shard-keys.js';

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

type InboxModels = Pick<Models, 'runs' | 'runCommands' | 'requestKeys'>;

/**
 * The command a client's Idempotency-Key names, if any. Commands are sharded by run and a key is
 * not scoped to one, so the key's claim in `request_keys` says which run's command it is. A claim
 * is written before its command: one whose command is not there yet is waited for up to
 * `waitMs`; one whose command never came (its acceptor died in between) is given up once old.
 */
export async function findCommandByRequestKey(
  models: InboxModels,
  userId: string,
  idempotencyKey: string,
  waitMs = 0,
): Promise<RunCommandRecord | null> {
  const key = clientRequestKey(userId, idempotencyKey);
  const deadline = Date.now() + waitMs;
  for (;;) {
    const claim = await models.requestKeys.findOne({ client_request_key: key }).lean();
    if (!claim) return null;
    const command = await commandOf(models, claim.workflow_run_id, claim.command_id);
    if (command) return command;
    if (Date.now() - claim.created_at.getTime() >= ABANDONED_CLAIM_AFTER_MS)
      return giveUpClaim(models, claim);
    if (Date.now() >= deadline) return null;
    await sleep(CLAIM_POLL_MS);
  }
}

function commandOf(
  models: InboxModels,
  runId: string,
  commandId: string,
): Promise<RunCommandRecord | null> {
  return models.runCommands
    .findOne({ workflow_run_id: runId, command_id: commandId })
    .lean<RunCommandRecord>();
}

/**
 * Gives up a claim whose command has not come for long: its acceptor died, or is still alive but
 * stalled. The claim's number is filled first, so that a stalled acceptor's command can never be
 * stored after the key went to another request (the unique (run, seq) index refuses it); if the
 * number is already taken by the claim's own command, that command stands and is the answer.
 */
async function giveUpClaim(
  models: InboxModels,
  claim: RequestKeyRecord,
): Promise<RunCommandRecord | null> {
  if (claim.seq !== undefined) {
    const filled = await insertFiller(models, claim.workflow_run_id, claim.user_id, claim.seq);
    if (!filled) {
      const command = await commandOf(models, claim.workflow_run_id, claim.command_id);
      if (command) return command;
    }
  }
  await models.requestKeys.deleteOne({
    client_request_key: claim.client_request_key,
    command_id: claim.command_id,
  });
  return null;
}

/** Past this age a claim without its command was left by an acceptor that died. */
const ABANDONED_CLAIM_AFTER_MS = 30_000;
const CLAIM_POLL_MS = 20;
/** How long the loser of a race on one key waits for the winner's command to be stored. */
const CLAIM_RACE_WAIT_MS = 2_000;

/**
 * Stores, at `seq`, a command that changes nothing (a `continue` that never matches). Answers
 * false when the number already holds a command (the unique (run, seq) index refuses the filler).
 */
async function insertFiller(
  models: InboxModels,
  runId: string,
  userId: string,
  seq: number,
): Promise<boolean> {
  const filler = newCommandRecord(
    {
      runId,
      userId,
      type: 'continue',
      payload: { expected_last_seq: -1 },
      correlationId: newId('correlation'),
    },
    seq,
  );
  try {
    await models.runCommands.collection.insertOne({ ...filler });
    return true;
  } catch (error) {
    if (isDuplicateKey(error)) return false;
    throw error;
  }
}

/**
 * Fills a number taken for a command that will not be stored, so later commands do not wait for
 * it until it counts as lost. Best effort: if this write fails too, the runners step over the
 * number once it counts as lost; if the command was stored after all (its write's answer was
 * lost), the unique (run, seq) index turns the filler away and the command stands.
 */
async function fillNumber(models: InboxModels, input: AcceptCommandInput, seq: number) {
  await insertFiller(models, input.runId, input.userId, seq).catch(() => undefined);
}

/** The claim of an Idempotency-Key for a command: which run's command, at which number. */
function claimOf(command: RunCommandRecord, clientKey: string): RequestKeyRecord {
  return {
    client_request_key: clientKey,
    user_id: command.user_id,
    workflow_run_id: command.workflow_run_id,
    command_id: command.command_id,
    seq: command.seq,
    created_at: command.accepted_at,
  };
}

/**
 * The command of an Idempotency-Key used before `request_keys` existed: the old unique index on
 * `run_commands.client_request_key` refused a new command with it. Asked of every shard (declared),
 * only on that refusal; the key's claim is written for it, so the next request is routed.
 */
async function legacyCommandByKey(
  models: InboxModels,
  clientKey: string,
): Promise<RunCommandRecord | null> {
  const command = await models.runCommands
    .findOne({ client_request_key: clientKey })
    .comment('legacy:request-key' satisfies ScatterGatherQuery)
    .lean<RunCommandRecord>();
  if (command)
    await models.requestKeys.collection
      .insertOne(claimOf(command, clientKey))
      .catch(() => undefined);
  return command;
}

/**
 * Puts a command in the run's inbox. Its place in line is taken with one `$inc` on the run
 * document, which also scopes the command to the run's owner: another user's run is not found.
 * Runners apply commands in this order. A repeated Idempotency-Key throws
 * DuplicateRequestKeyError with the first command; a key whose first request is still being
 * accepted (its claim is there, its command not yet) is 503, to be retried. A command that cannot
 * be stored once its number is taken (a race on its Idempotency-Key, a value the driver refuses,
 * a failed write) leaves no gap: the number is filled with a command that changes nothing, and the
 * error goes to the caller.
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
      // A run marked for deletion takes no more commands: it is gone to its owner already.
      { workflow_run_id: input.runId, user_id: input.userId, deletion_id: { $exists: false } },
      { $inc: { command_seq: 1 }, $set: { command_accepted_at: input.now ?? new Date() } },
      { returnDocument: 'after', projection: { command_seq: 1 } },
    )
    .lean();
  if (!run) throw new NotFoundError('run', input.runId);
  const command = newCommandRecord(input, run.command_seq);
  const clientKey = command.client_request_key;
  let claimed = false;
  try {
    // The key is claimed before the command is stored: the claim is what two requests race for.
    if (clientKey !== undefined) {
      await models.requestKeys.collection.insertOne(claimOf(command, clientKey));
      claimed = true;
    }
    await models.runCommands.collection.insertOne({ ...command });
  } catch (error) {
    // The write may have landed although its answer was lost (a timeout, a failover): then the
    // command stands, its claim with it, and this request succeeded.
    const stored = await commandOf(models, command.workflow_run_id, command.command_id).catch(
      () => null,
    );
    if (stored) return stored;
    const keyed = isDuplicateKey(error) && input.idempotencyKey !== undefined;
    // Claimed, a duplicate can only be the old unique index on the key (a command from before
    // `request_keys`); unclaimed, another request holds the key: answer with its command.
    const existing = !keyed
      ? null
      : claimed && clientKey !== undefined
        ? await legacyLookupAfterRelease(models, clientKey, command.command_id)
        : await findCommandByRequestKey(
            models,
            input.userId,
            input.idempotencyKey ?? '',
            CLAIM_RACE_WAIT_MS,
          ).catch(() => null);
    // Whatever failed, the number is taken and must not stay a gap: until it counted as lost
    // (LOST_COMMAND_NUMBER_AFTER_MS) every later command on the run would wait for it.
    await fillNumber(models, input, run.command_seq);
    if (claimed && !keyed && clientKey !== undefined)
      await releaseClaim(models, clientKey, command.command_id);
    if (existing) throw new DuplicateRequestKeyError(existing);
    if (keyed && !claimed)
      throw new UnavailableError(
        'a request with this Idempotency-Key is still being accepted; retry it shortly',
      );
    throw error;
  }
  return command;
}

/** A claim whose command could not be stored must not hold the key. */
async function releaseClaim(models: InboxModels, clientKey: string, commandId: string) {
  await models.requestKeys
    .deleteOne({ client_request_key: clientKey, command_id: commandId })
    .catch(() => undefined);
}

async function legacyLookupAfterRelease(
  models: InboxModels,
  clientKey: string,
  commandId: string,
): Promise<RunCommandRecord | null> {
  await releaseClaim(models, clientKey, commandId);
  return legacyCommandByKey(models, clientKey).catch(() => null);
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
  command: Pick<RunCommandRecord, 'workflow_run_id' | 'command_id'>,
  status: CommandSettlement,
  error: CommandError | null,
  writtenSeq?: number,
): Promise<void> {
  await models.runCommands.updateOne(
    { workflow_run_id: command.workflow_run_id, command_id: command.command_id, status: 'pending' },
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
  command: Pick<RunCommandRecord, 'workflow_run_id' | 'command_id'>,
  writtenSeq: number,
): Promise<void> {
  await models.runCommands.updateOne(
    { workflow_run_id: command.workflow_run_id, command_id: command.command_id },
    { $max: { written_seq: writtenSeq } },
  );
}

/** The refusal given to a command stored after its number had been given up as lost. */
export const lateCommandError: CommandError = {
  code: 'CONFLICT',
  message: 'the command arrived after later commands were applied; send it again',
};

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
