import {
  newId,
  runFieldsOf,
  type Actor,
  type BranchSnapshot,
  type EventRecord,
  type RunCommandRecord,
  type WorkflowRunRecord,
} from '@stepwise/shared';
import {
  commandAt,
  firstPendingAfter,
  markCommandWritten,
  settleCommand,
  type CommandError,
  type CommandSettlement,
  type Models,
} from '@stepwise/shared/node';
import { EventLog, type OutboxFollower, type RunHistoryReader, type RunRef } from './event-log.js';
import type { StampedEvent } from './decision.js';

export type { RunHistoryReader, RunRef } from './event-log.js';

/** A drain's hold on one run: only the holder of the current fence may write the run. */
export interface Lease {
  runId: string;
  userId: string;
  holder: string;
  fence: number;
}

export type LeaseAttempt =
  | { kind: 'acquired'; lease: Lease; run: WorkflowRunRecord }
  | { kind: 'held'; userId: string; expiresAt: Date }
  | { kind: 'missing' };

/** Whose events a commit writes: the command that caused them (or none, for recovery). */
export interface CommitOrigin {
  command_id: string | null;
  correlation_id: string;
  actor: Actor | null;
  /** The command this commit applies (its first commit); null when it continues a chain. */
  appliesCommand: number | null;
}

/** A won commit: the run as it now stands and the events it wrote. */
export interface Committed {
  run: WorkflowRunRecord;
  events: EventRecord[];
  /** The lease went with the commit (no command had been accepted meanwhile). */
  released: boolean;
}

/** Where the run's inbox stands after a load. */
export interface InboxState {
  /** The last applied command (null before the first, or for migrated runs). */
  lastApplied: RunCommandRecord | null;
  /** The last applied command, if its record still says pending (its finisher died). */
  unsettled: RunCommandRecord | null;
  next: RunCommandRecord | null;
  /** A number was taken for a command that is not stored yet, and not given up as lost. */
  inFlight: boolean;
}

/**
 * The commands around a drain job's own command (`seq`), read while the drain takes the lease: the
 * one before it and the command itself. They are a read from before the lease, so the inbox uses
 * them only where that cannot matter (see MongoRunRepository.inbox).
 */
export interface InboxPrefetch {
  seq: number;
  last: RunCommandRecord | null;
  next: RunCommandRecord | null;
}

/** The storage the drain needs; MongoRunRepository is the real one. */
export interface RunRepository extends RunHistoryReader {
  acquire(run: RunRef, now: Date): Promise<LeaseAttempt>;
  /** The run as committed, or null if the lease was lost. */
  reread(lease: Lease): Promise<WorkflowRunRecord | null>;
  /** Extends the lease; false if it was lost. */
  renew(lease: Lease, now: Date): Promise<boolean>;
  /** Lets the lease go unless a command was accepted after `run` was read. */
  release(lease: Lease, run: WorkflowRunRecord): Promise<boolean>;
  /**
   * The inbox as the run document says: the last applied command if unsettled, the next command,
   * and whether the latest commit's outbox must be written again.
   */
  /** Reads the commands around `seq` (see InboxPrefetch); null when they cannot be read. */
  prefetchInbox(runId: string, seq: number): Promise<InboxPrefetch | null>;
  inbox(run: WorkflowRunRecord, prefetched?: InboxPrefetch | null): Promise<InboxState>;
  /** Writes the outbox of the latest commit again if its command does not say it is written. */
  recoverOutbox(run: WorkflowRunRecord, lastApplied: RunCommandRecord | null): Promise<void>;
  commit(
    lease: Lease,
    run: WorkflowRunRecord,
    origin: CommitOrigin,
    events: readonly StampedEvent[],
    snapshot: BranchSnapshot,
    now: Date,
    releaseIfIdle: boolean,
  ): Promise<Committed | null>;
  /** Records a command that was refused (`error`) or changed nothing; null if the lease was lost. */
  skip(
    lease: Lease,
    run: WorkflowRunRecord,
    command: RunCommandRecord,
    error: CommandError | null,
  ): Promise<WorkflowRunRecord | null>;
  writeEvents(run: RunRef, events: readonly EventRecord[]): Promise<void>;
  settle(
    command: Pick<RunCommandRecord, 'workflow_run_id' | 'command_id'>,
    status: CommandSettlement,
    error: CommandError | null,
    writtenSeq?: number,
  ): Promise<void>;
  markWritten(
    command: Pick<RunCommandRecord, 'workflow_run_id' | 'command_id'>,
    writtenSeq: number,
  ): Promise<void>;
  /** Tells waiting readers that the run or one of its commands changed. */
  announce(run: RunRef, lastSeq: number): Promise<void>;
}

/**
 * How long after a run last took a command number a missing number counts as lost (its acceptor
 * died between taking it and storing the command) rather than in flight. Until then later commands
 * wait for it, so that commands apply in the order they were accepted.
 */
export const LOST_COMMAND_NUMBER_AFTER_MS = 30_000;

/**
 * Whether commands read before the lease can stand for the inbox's own read after it. The job's
 * command must be the next to apply (the leased run says so), stored, and still pending: under the
 * lease nobody else can apply it. The one before it must be settled, since only a settlement can
 * change it once the run moved past it (a pending one is read again, so that a drain that died
 * before settling is seen as it is now). A settled command's `written_seq` can still grow while its
 * drain, lease already given up, writes its last events to the log; read stale, it only makes this
 * drain write them again, which is idempotent, as when it reads the inbox itself a moment earlier.
 */
function usablePrefetch(
  run: WorkflowRunRecord,
  prefetched: InboxPrefetch | null | undefined,
): prefetched is InboxPrefetch & { next: RunCommandRecord } {
  if (!prefetched || prefetched.seq !== run.applied_command_seq + 1) return false;
  if (run.command_seq < prefetched.seq || prefetched.next?.status !== 'pending') return false;
  if (prefetched.seq === 1) return true;
  return prefetched.last !== null && prefetched.last.status !== 'pending';
}

export class MongoRunRepository extends EventLog implements RunRepository {
  private readonly holder = `${process.pid}-${newId('correlation').slice(-12)}`;

  constructor(
    private readonly runModels: Models,
    private readonly announcer: (
      run: RunRef,
      lastSeq: number,
      events?: readonly EventRecord[],
    ) => Promise<void>,
    private readonly leaseMs: number,
    private readonly lostNumberAfterMs = LOST_COMMAND_NUMBER_AFTER_MS,
    followers: readonly OutboxFollower[] = [],
    /** Sees every run this process takes the lease of (the facts cache keeps what it needs). */
    private readonly onAcquired: (run: WorkflowRunRecord) => void = () => undefined,
  ) {
    super(runModels, announcer, followers);
  }

  /**
   * Takes the lease and reads the run in one write: free or expired leases only, and the fence
   * grows, so any commit of an earlier holder fails from here on.
   */
  async acquire(ref: RunRef, now: Date): Promise<LeaseAttempt> {
    const runId = ref.workflow_run_id;
    const run = await this.runModels.runs.collection.findOneAndUpdate(
      {
        workflow_run_id: runId,
        user_id: ref.user_id,
        $or: [{ lease_expires_at: null }, { lease_expires_at: { $lte: now } }],
      },
      {
        $set: {
          lease_holder: this.holder,
          lease_expires_at: new Date(now.getTime() + this.leaseMs),
        },
        $inc: { lease_fence: 1 },
      },
      { returnDocument: 'after' },
    );
    if (run) {
      const record = run as unknown as WorkflowRunRecord;
      this.onAcquired(record);
      return {
        kind: 'acquired',
        run: record,
        lease: { runId, userId: ref.user_id, holder: this.holder, fence: record.lease_fence ?? 1 },
      };
    }
    const held = await this.runModels.runs
      .findOne({ workflow_run_id: runId, user_id: ref.user_id })
      .select({ user_id: 1, lease_expires_at: 1 })
      .lean<{ user_id: string; lease_expires_at?: Date | null }>();
    if (!held) return { kind: 'missing' };
    return {
      kind: 'held',
      userId: held.user_id,
      expiresAt: held.lease_expires_at ?? now,
    };
  }

  async reread(lease: Lease): Promise<WorkflowRunRecord | null> {
    return this.runModels.runs
      .findOne({ workflow_run_id: lease.runId, user_id: lease.userId, lease_fence: lease.fence })
      .lean<WorkflowRunRecord>();
  }

  async renew(lease: Lease, now: Date): Promise<boolean> {
    // Only while still held: a renewal that lands after the release must not revive the lease.
    const result = await this.runModels.runs.collection.updateOne(
      {
        workflow_run_id: lease.runId,
        user_id: lease.userId,
        lease_fence: lease.fence,
        lease_holder: lease.holder,
      },
      { $set: { lease_expires_at: new Date(now.getTime() + this.leaseMs) } },
    );
    return result.matchedCount === 1;
  }

  async release(lease: Lease, run: WorkflowRunRecord): Promise<boolean> {
    const result = await this.runModels.runs.collection.updateOne(
      {
        workflow_run_id: lease.runId,
        user_id: lease.userId,
        lease_fence: lease.fence,
        command_seq: run.command_seq,
      },
      { $set: { lease_holder: null, lease_expires_at: null } },
    );
    return result.matchedCount === 1;
  }

  async prefetchInbox(runId: string, seq: number): Promise<InboxPrefetch | null> {
    try {
      const [last, next] = await Promise.all([
        seq > 1 ? commandAt(this.runModels, runId, seq - 1) : null,
        commandAt(this.runModels, runId, seq),
      ]);
      return { seq, last, next };
    } catch {
      // Only a head start: the inbox reads for itself.
      return null;
    }
  }

  async inbox(run: WorkflowRunRecord, prefetched?: InboxPrefetch | null): Promise<InboxState> {
    const runId = run.workflow_run_id;
    const applied = run.applied_command_seq;
    // Exact (run, seq) lookups on the unique index, both at once: the work stays the same however
    // many commands the run has had. Only the last applied command can still say pending (every
    // drain settles it before it applies another), and the next is the one right after it.
    const [last, next] = usablePrefetch(run, prefetched)
      ? [prefetched.last, prefetched.next]
      : await Promise.all([
          applied > 0 ? commandAt(this.runModels, runId, applied) : null,
          run.command_seq > applied ? commandAt(this.runModels, runId, applied + 1) : null,
        ]);
    if (next?.status === 'pending')
      return {
        lastApplied: last,
        unsettled: last?.status === 'pending' ? last : null,
        next,
        inFlight: false,
      };
    // A number above the applied one whose command is not stored yet: in flight while the run took
    // a number recently, lost (its acceptor died) after that, and then stepped over. A command
    // stored after the gap bounds its age too: the missing number was taken before it, so once
    // that command is old enough the gap is lost even while new commands keep arriving (else a
    // client sending a command every few seconds would hold the run still for as long as it does).
    const waiting = run.command_seq > applied;
    const after =
      waiting && run.command_seq > applied + 1
        ? await firstPendingAfter(this.runModels, runId, applied)
        : null;
    const lost =
      waiting && (this.numberLost(run) || (after !== null && this.tooOld(after.accepted_at)));
    return {
      lastApplied: last,
      unsettled: last?.status === 'pending' ? last : null,
      next: lost ? after : null,
      inFlight: waiting && !lost,
    };
  }

  async recoverOutbox(run: WorkflowRunRecord, lastApplied: RunCommandRecord | null): Promise<void> {
    // A command's record says how far its commits are in the log (written_seq); records settled
    // before that field existed were settled after their one commit's outbox was written. If the
    // run is ahead, its writer died between a commit and the log: write the outbox again (every
    // write is idempotent).
    const writtenSeq =
      lastApplied?.written_seq ??
      (lastApplied && lastApplied.status !== 'pending' ? run.last_seq : -1);
    if (writtenSeq < run.last_seq) await this.writeEvents(run, run.outbox);
  }

  /** True once the run has taken no command number for `lostNumberAfterMs`. */
  private numberLost(run: WorkflowRunRecord): boolean {
    const taken = run.command_accepted_at;
    return !taken || this.tooOld(taken);
  }

  private tooOld(takenAt: Date): boolean {
    return Date.now() - new Date(takenAt).getTime() >= this.lostNumberAfterMs;
  }

  async commit(
    lease: Lease,
    run: WorkflowRunRecord,
    origin: CommitOrigin,
    decided: readonly StampedEvent[],
    snapshot: BranchSnapshot,
    now: Date,
    releaseIfIdle: boolean,
  ): Promise<Committed | null> {
    const events: EventRecord[] = decided.map((event, index) => ({
      event_id: newId('event'),
      workflow_run_id: run.workflow_run_id,
      workflow_version_id: event.workflow_version_id,
      branch_id: event.branch_id,
      seq: run.last_seq + index + 1,
      event_type: event.event_type,
      step_id: event.step_id,
      module_name: event.module_name,
      data: event.data,
      timestamp: now,
      correlation_id: origin.correlation_id,
      command_id: origin.command_id,
      actor: origin.actor,
    }));
    const lastSeq = run.last_seq + events.length;
    const appliedCommandSeq = Math.max(run.applied_command_seq, origin.appliesCommand ?? 0);
    const fields = {
      ...runFieldsOf(snapshot),
      snapshot,
      active_branch_id: snapshot.branch_id,
      current_version_id: snapshot.version_id,
      outbox: events,
      last_seq: lastSeq,
      applied_command_seq: appliedCommandSeq,
      updated_at: now,
    };
    const filter = {
      workflow_run_id: run.workflow_run_id,
      user_id: run.user_id,
      lease_fence: lease.fence,
      last_seq: run.last_seq,
    };
    // The last commit of a drain usually lets the lease go in the same write: possible only if no
    // command was accepted since the run was read (else the drain must read its inbox again).
    if (releaseIfIdle && run.command_seq === appliedCommandSeq) {
      const released = await this.runModels.runs.collection.updateOne(
        { ...filter, command_seq: run.command_seq },
        { $set: { ...fields, lease_holder: null, lease_expires_at: null } },
      );
      if (released.matchedCount === 1)
        return { run: { ...run, ...fields, lease_holder: null }, events, released: true };
    }
    // The answer carries command_seq, so the drain knows without another read whether commands
    // arrived meanwhile.
    const committed = await this.runModels.runs.collection.findOneAndUpdate(
      filter,
      { $set: { ...fields, lease_expires_at: new Date(now.getTime() + this.leaseMs) } },
      { returnDocument: 'after', projection: { command_seq: 1, command_accepted_at: 1 } },
    );
    if (!committed) return null;
    return {
      run: {
        ...run,
        ...fields,
        command_seq: Number(committed['command_seq']),
        command_accepted_at: (committed['command_accepted_at'] as Date | null) ?? null,
      },
      events,
      released: false,
    };
  }

  async skip(
    lease: Lease,
    run: WorkflowRunRecord,
    command: RunCommandRecord,
    error: CommandError | null,
  ): Promise<WorkflowRunRecord | null> {
    const set = {
      applied_command_seq: command.seq,
      ...(error
        ? {
            last_rejection: {
              command_seq: command.seq,
              error: { code: error.code, message: error.message, details: error.details },
            },
          }
        : {}),
    };
    const result = await this.runModels.runs.collection.findOneAndUpdate(
      {
        workflow_run_id: run.workflow_run_id,
        user_id: run.user_id,
        lease_fence: lease.fence,
        last_seq: run.last_seq,
        applied_command_seq: { $lt: command.seq },
      },
      { $set: set },
      { returnDocument: 'after', projection: { command_seq: 1, command_accepted_at: 1 } },
    );
    if (!result) return null;
    return {
      ...run,
      ...set,
      command_seq: Number(result['command_seq']),
      command_accepted_at: (result['command_accepted_at'] as Date | null) ?? null,
    };
  }

  async writeEvents(run: RunRef, events: readonly EventRecord[]): Promise<void> {
    await this.write(run, events);
  }

  async settle(
    command: Pick<RunCommandRecord, 'workflow_run_id' | 'command_id'>,
    status: CommandSettlement,
    error: CommandError | null,
    writtenSeq?: number,
  ): Promise<void> {
    await settleCommand(this.runModels, command, status, error, writtenSeq);
  }

  async markWritten(
    command: Pick<RunCommandRecord, 'workflow_run_id' | 'command_id'>,
    writtenSeq: number,
  ): Promise<void> {
    await markCommandWritten(this.runModels, command, writtenSeq);
  }

  async announce(run: RunRef, lastSeq: number): Promise<void> {
    await this.announcer(run, lastSeq);
  }
}
