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

/** The storage the drain loop needs; MongoRunRepository is the real one. */
export interface RunRepository {
  /** The run as committed, with its latest commit's events written to the log. */
  load(runId: string): Promise<WorkflowRunRecord | null>;
  /** Brings command records in line with the run: those it has applied are no longer pending. */
  settleCommands(run: WorkflowRunRecord): Promise<void>;
  nextPendingCommand(run: WorkflowRunRecord): Promise<RunCommandRecord | null>;
  /** Commits events, the snapshot and the run's fields in one conditional write; false on a lost race. */
  commit(
    run: WorkflowRunRecord,
    command: RunCommandRecord,
    decision: CommitDecision,
    now: Date,
  ): Promise<EventRecord[] | null>;
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

export class MongoRunRepository implements RunRepository, RunHistoryReader {
  constructor(
    private readonly models: Models,
    private readonly onEventsWritten: (runId: string, lastSeq: number) => Promise<void>,
  ) {}

  async load(runId: string): Promise<WorkflowRunRecord | null> {
    const run = await this.models.runs
      .findOne({ workflow_run_id: runId })
      .lean<WorkflowRunRecord>();
    if (!run) return null;
    const last = run.outbox.at(-1);
    // A commit whose events did not all reach the log (the writer died): finish writing them.
    if (last && !(await this.models.events.exists({ workflow_run_id: runId, seq: last.seq }))) {
      await this.writeEvents(run.outbox);
    }
    return run;
  }

  async settleCommands(run: WorkflowRunRecord): Promise<void> {
    const stale = await this.models.runCommands
      .find({
        workflow_run_id: run.workflow_run_id,
        status: 'pending',
        seq: { $lte: run.applied_command_seq },
      })
      .lean();
    for (const command of stale) {
      const rejection =
        run.last_rejection?.command_seq === command.seq ? run.last_rejection.error : null;
      await this.finishCommand(command, rejection ? 'rejected' : 'applied', rejection);
    }
  }

  async nextPendingCommand(run: WorkflowRunRecord): Promise<RunCommandRecord | null> {
    return this.models.runCommands
      .findOne({
        workflow_run_id: run.workflow_run_id,
        status: 'pending',
        seq: { $gt: run.applied_command_seq },
      })
      .sort({ seq: 1 })
      .lean();
  }

  async commit(
    run: WorkflowRunRecord,
    command: RunCommandRecord,
    decision: CommitDecision,
    now: Date,
  ): Promise<EventRecord[] | null> {
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
    const result = await this.models.runs.collection.updateOne(
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
    );
    return result.matchedCount === 1 ? events : null;
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
    await this.models.branches.updateOne(
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
    );
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
