import {
  newId,
  runFieldsOf,
  type BranchRecord,
  type EventRecord,
  type RunCommandRecord,
  type WorkflowRunRecord,
} from '@stepwise/shared';
import type { Models } from '@stepwise/shared/node';
import type { CommandError, Decision } from './decision.js';

type CommitDecision = Extract<Decision, { kind: 'commit' }>;

/** A won commit: the events it wrote, and how many commands the run had accepted by then. */
export interface CommitOutcome {
  events: EventRecord[];
  acceptedCommandSeq: number;
}

export interface LoadedRun {
  run: WorkflowRunRecord;
  /** Commands the run has applied whose records still say pending (their finisher died). */
  applied: RunCommandRecord[];
  next: RunCommandRecord | null;
}

/** The storage the drain loop needs; MongoRunRepository is the real one. */
export interface RunRepository {
  /**
   * The run as committed, with its latest commit's events written to the log, and its commands
   * still marked pending: those it has already applied (`settled`), and the next it has not.
   */
  load(runId: string): Promise<LoadedRun | null>;
  /** Brings command records in line with the run: those it has applied are no longer pending. */
  settleCommands(run: WorkflowRunRecord, applied: readonly RunCommandRecord[]): Promise<void>;
  /** Commits events, the snapshot and the run's fields in one conditional write; null on a lost race. */
  commit(
    run: WorkflowRunRecord,
    command: RunCommandRecord,
    decision: CommitDecision,
    now: Date,
  ): Promise<CommitOutcome | null>;
  /** Records a refusal in the run's command order; false on a lost race. */
  reject(run: WorkflowRunRecord, command: RunCommandRecord, error: CommandError): Promise<boolean>;
  /** Records a command that changed nothing; false on a lost race. */
  acknowledge(run: WorkflowRunRecord, command: RunCommandRecord): Promise<boolean>;
  /** Writes committed events to the log (idempotent). */
  writeEvents(events: readonly EventRecord[]): Promise<void>;
  finishCommand(
    command: RunCommandRecord,
    status: 'applied' | 'rejected',
    error: CommandError | null,
  ): Promise<void>;
}

/** What deciding a `branch` command reads of the past. */
export interface RunHistoryReader {
  readBranch(runId: string, branchId: string): Promise<BranchRecord | null>;
  findEvent(runId: string, eventId: string): Promise<EventRecord | null>;
  visibleEvents(branch: BranchRecord, untilSeq: number): Promise<EventRecord[]>;
}

function isDuplicateOnly(error: unknown): boolean {
  const writeErrors = (error as { writeErrors?: { code?: number }[] | { code?: number } })
    .writeErrors;
  const list = Array.isArray(writeErrors) ? writeErrors : writeErrors ? [writeErrors] : [];
  return (
    (error as { code?: number }).code === 11000 ||
    (list.length > 0 && list.every((e) => e.code === 11000))
  );
}

/**
 * How long after a run last took a command number a missing number counts as lost (its acceptor
 * died between taking it and storing the command) rather than in flight. Until then later commands
 * wait for it, so that commands apply in the order they were accepted.
 */
export const LOST_COMMAND_NUMBER_AFTER_MS = 30_000;

export class MongoRunRepository implements RunRepository, RunHistoryReader {
  constructor(
    private readonly models: Models,
    private readonly onEventsWritten: (runId: string, lastSeq: number) => Promise<void>,
    private readonly lostNumberAfterMs = LOST_COMMAND_NUMBER_AFTER_MS,
  ) {}

  async load(runId: string): Promise<LoadedRun | null> {
    const run = await this.models.runs
      .findOne({ workflow_run_id: runId })
      .lean<WorkflowRunRecord>();
    if (!run) return null;
    const applied = run.applied_command_seq;
    // Exact (run, seq) lookups on the unique index, both at once: the work stays the same however
    // many commands the run has had. Only the last applied command can still say pending (every
    // drain settles it before it commits another), and the next is the one right after it.
    const [last, next] = await Promise.all([
      applied > 0 ? this.commandAt(runId, applied) : null,
      run.command_seq > applied ? this.commandAt(runId, applied + 1) : null,
    ]);
    // A command is marked finished only after its commit's events, and the records that mirror
    // them (branches, artifact links), are written; and a drain writes the outbox again before it
    // commits anything else. So a finished last command means the outbox is fully written.
    // Otherwise its writer may have died anywhere between the commit and finishing: write it all
    // again (every write is idempotent).
    if (!last || last.status === 'pending') await this.writeEvents(run.outbox);
    return {
      run,
      applied: last?.status === 'pending' ? [last] : [],
      next:
        next?.status === 'pending'
          ? next
          : run.command_seq > applied + 1 && this.numberLost(run)
            ? await this.firstPendingAfter(runId, applied)
            : null,
    };
  }

  /** True once the run has taken no command number for `lostNumberAfterMs`. */
  private numberLost(run: WorkflowRunRecord): boolean {
    const taken = run.command_accepted_at;
    return !taken || Date.now() - new Date(taken).getTime() >= this.lostNumberAfterMs;
  }

  private commandAt(runId: string, seq: number): Promise<RunCommandRecord | null> {
    return this.models.runCommands
      .findOne({ workflow_run_id: runId, seq })
      .lean<RunCommandRecord>();
  }

  /** The way past a lost number: the first command stored after it. */
  private firstPendingAfter(runId: string, seq: number): Promise<RunCommandRecord | null> {
    return this.models.runCommands
      .findOne({ workflow_run_id: runId, status: 'pending', seq: { $gt: seq } })
      .sort({ seq: 1 })
      .lean<RunCommandRecord>();
  }

  async settleCommands(
    run: WorkflowRunRecord,
    applied: readonly RunCommandRecord[],
  ): Promise<void> {
    for (const command of applied) {
      const rejection =
        run.last_rejection?.command_seq === command.seq ? run.last_rejection.error : null;
      await this.finishCommand(command, rejection ? 'rejected' : 'applied', rejection);
    }
  }

  async commit(
    run: WorkflowRunRecord,
    command: RunCommandRecord,
    decision: CommitDecision,
    now: Date,
  ): Promise<CommitOutcome | null> {
    const events: EventRecord[] = decision.events.map((event, index) => ({
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
      correlation_id: command.correlation_id,
      command_id: command.command_id,
    }));
    const lastSeq = run.last_seq + events.length;
    // The answer carries command_seq, so the drain knows without another read whether commands
    // arrived meanwhile.
    const committed = await this.models.runs.collection.findOneAndUpdate(
      { workflow_run_id: run.workflow_run_id, last_seq: run.last_seq },
      {
        $set: {
          ...runFieldsOf(decision.snapshot),
          snapshot: decision.snapshot,
          active_branch_id: decision.snapshot.branch_id,
          current_version_id: decision.snapshot.version_id,
          outbox: events,
          last_seq: lastSeq,
          applied_command_seq: Math.max(run.applied_command_seq, command.seq),
          updated_at: now,
        },
      },
      { returnDocument: 'after', projection: { command_seq: 1 } },
    );
    return committed ? { events, acceptedCommandSeq: Number(committed['command_seq']) } : null;
  }

  async reject(
    run: WorkflowRunRecord,
    command: RunCommandRecord,
    error: CommandError,
  ): Promise<boolean> {
    const result = await this.models.runs.collection.updateOne(
      {
        workflow_run_id: run.workflow_run_id,
        last_seq: run.last_seq,
        applied_command_seq: { $lt: command.seq },
      },
      {
        $set: {
          applied_command_seq: command.seq,
          last_rejection: { command_seq: command.seq, error },
        },
      },
    );
    return result.matchedCount === 1;
  }

  async acknowledge(run: WorkflowRunRecord, command: RunCommandRecord): Promise<boolean> {
    const result = await this.models.runs.collection.updateOne(
      {
        workflow_run_id: run.workflow_run_id,
        last_seq: run.last_seq,
        applied_command_seq: { $lt: command.seq },
      },
      { $set: { applied_command_seq: command.seq } },
    );
    return result.matchedCount === 1;
  }

  async writeEvents(events: readonly EventRecord[]): Promise<void> {
    const last = events.at(-1);
    if (!last) return;
    try {
      await this.models.events.collection.insertMany(
        events.map((event) => ({ ...event })),
        { ordered: false },
      );
    } catch (error) {
      // Another process wrote (some of) the same events first: the log holds them either way.
      if (!isDuplicateOnly(error)) throw error;
    }
    for (const event of events) {
      if (event.event_type === 'branch_created') await this.recordBranch(event);
      if (event.event_type === 'module_completed') await this.linkArtifact(event);
    }
    await this.onEventsWritten(last.workflow_run_id, last.seq);
  }

  /** The branches collection mirrors `branch_created` events (idempotently, like the log). */
  private async recordBranch(event: EventRecord): Promise<void> {
    const data = event.data as {
      branch_id: string;
      parent_branch_id: string;
      branch_point_event_id: string;
      lineage: { branch_id: string; until_seq: number }[];
    };
    await this.models.branches
      .updateOne(
        { branch_id: data.branch_id },
        {
          $setOnInsert: {
            branch_id: data.branch_id,
            workflow_run_id: event.workflow_run_id,
            parent_branch_id: data.parent_branch_id,
            branch_point_event_id: data.branch_point_event_id,
            lineage: data.lineage,
            created_at: event.timestamp,
          },
        },
        { upsert: true },
      )
      // Two writers of the same outbox (one finishing, one recovering) race on the upsert; the
      // loser's duplicate-key error means the record is there.
      .catch((error: unknown) => {
        if (!isDuplicateOnly(error)) throw error;
      });
    // One active branch per run: the newest. Done after the insert, so a crash in between leaves
    // two marked active rather than none; the run document's active_branch_id is the truth.
    await this.models.branches.updateMany(
      {
        workflow_run_id: event.workflow_run_id,
        branch_id: { $ne: data.branch_id },
        status: 'active',
      },
      { $set: { status: 'inactive' } },
    );
    await this.models.branches.updateOne(
      { branch_id: data.branch_id },
      { $set: { status: 'active' } },
    );
  }

  /** An artifact a module saved points at the event that recorded it, once that event exists. */
  private async linkArtifact(event: EventRecord): Promise<void> {
    const outputs = event.data['outputs'] as { artifact_id?: unknown } | undefined;
    if (typeof outputs?.artifact_id !== 'string') return;
    await this.models.artifacts.updateOne(
      { artifact_id: outputs.artifact_id, workflow_run_id: event.workflow_run_id, event_id: null },
      { $set: { event_id: event.event_id } },
    );
  }

  async readBranch(runId: string, branchId: string): Promise<BranchRecord | null> {
    return this.models.branches.findOne({ workflow_run_id: runId, branch_id: branchId }).lean();
  }

  async findEvent(runId: string, eventId: string): Promise<EventRecord | null> {
    return this.models.events
      .findOne({ workflow_run_id: runId, event_id: eventId })
      .lean<EventRecord>();
  }

  /** The events a branch sees (its own and its ancestors' up to their fork points), up to `untilSeq`. */
  async visibleEvents(branch: BranchRecord, untilSeq: number): Promise<EventRecord[]> {
    return this.models.events
      .find({
        workflow_run_id: branch.workflow_run_id,
        seq: { $lte: untilSeq },
        $or: [
          { branch_id: branch.branch_id },
          ...branch.lineage.map((ancestor) => ({
            branch_id: ancestor.branch_id,
            seq: { $lte: ancestor.until_seq },
          })),
        ],
      })
      .sort({ seq: 1 })
      .lean<EventRecord[]>();
  }

  async finishCommand(
    command: RunCommandRecord,
    status: 'applied' | 'rejected',
    error: CommandError | null,
  ): Promise<void> {
    await this.models.runCommands.updateOne(
      { command_id: command.command_id, status: 'pending' },
      { $set: { status, error, finished_at: new Date() } },
    );
  }
}
