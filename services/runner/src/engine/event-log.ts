import { artifactIdsOf } from '../artifacts/artifact-ids.js';
import {
  eventDataOf,
  type BranchRecord,
  type EventRecord,
  type WorkflowRunRecord,
} from '@stepwise/shared';
import { visibleEventsFilter, type Models } from '@stepwise/shared/node';

/**
 * A run as its queries name it: its id and its owner (`workflow_runs` is sharded by owner, so
 * every read and write of a run carries both; see shard-keys.ts).
 */
export type RunRef = Pick<WorkflowRunRecord, 'workflow_run_id' | 'user_id'>;

/** What deciding a `branch` command reads of the past. */
export interface RunHistoryReader {
  readBranch(runId: string, branchId: string): Promise<BranchRecord | null>;
  findEvent(runId: string, eventId: string): Promise<EventRecord | null>;
  visibleEvents(branch: BranchRecord, untilSeq: number): Promise<EventRecord[]>;
  /** The questions and answers of these branches of a run, newest first (for reusing answers). */
  interactionEvents(runId: string, branchIds: readonly string[]): Promise<EventRecord[]>;
}

export function isDuplicateOnly(error: unknown): boolean {
  const writeErrors = (error as { writeErrors?: { code?: number }[] | { code?: number } })
    .writeErrors;
  const list = Array.isArray(writeErrors) ? writeErrors : writeErrors ? [writeErrors] : [];
  return (
    (error as { code?: number }).code === 11000 ||
    (list.length > 0 && list.every((e) => e.code === 11000))
  );
}

/**
 * What else a commit's events lead to once they are in the log: notifications to deliver, deadline
 * timers to set. Followers run every time an outbox is written (again, after a crash), so each
 * must be idempotent; an error fails the write, and the outbox is written again later.
 */
export interface OutboxFollower {
  afterWrite(run: RunRef, events: readonly EventRecord[]): Promise<void>;
}

/**
 * The events collection and the records that mirror it (branches, artifact links). Every write is
 * idempotent, so the outbox of a commit can be written again by whoever finds it unwritten.
 */
export class EventLog implements RunHistoryReader {
  constructor(
    private readonly models: Models,
    private readonly onEventsWritten: (
      run: RunRef,
      lastSeq: number,
      events: readonly EventRecord[],
    ) => Promise<void>,
    private readonly followers: readonly OutboxFollower[] = [],
  ) {}

  async write(run: RunRef, events: readonly EventRecord[]): Promise<void> {
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
    // The events go with the announcement, so that streams need not read back what was just written.
    // Announced before the followers' work (webhook deliveries, deadline timers), which no reader of
    // an announcement looks at: a person waiting on the stream does not wait for it.
    await this.onEventsWritten(run, last.seq, events);
    for (const follower of this.followers) await follower.afterWrite(run, events);
  }

  /** The branches collection mirrors `branch_created` events (idempotently, like the log). */
  private async recordBranch(event: EventRecord): Promise<void> {
    const data = eventDataOf(event, 'branch_created');
    if (!data) throw new Error(`branch_created ${event.event_id} has data of another shape`);
    await this.models.branches
      .updateOne(
        { workflow_run_id: event.workflow_run_id, branch_id: data.branch_id },
        {
          $setOnInsert: {
            branch_id: data.branch_id,
            workflow_run_id: event.workflow_run_id,
            parent_branch_id: data.parent_branch_id,
            branch_point_event_id: data.branch_point_event_id,
            lineage: data.lineage ?? [],
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
      { workflow_run_id: event.workflow_run_id, branch_id: data.branch_id },
      { $set: { status: 'active' } },
    );
  }

  /**
   * An artifact a module saved points at the event that recorded it, once that event exists.
   * From then on it is immutable: nothing replaces or sweeps a linked artifact.
   */
  private async linkArtifact(event: EventRecord): Promise<void> {
    const outputs = eventDataOf(event, 'module_completed')?.outputs;
    const artifactIds = outputs ? artifactIdsOf(outputs) : [];
    if (artifactIds.length === 0) return;
    await this.models.artifacts.updateMany(
      { artifact_id: { $in: artifactIds }, workflow_run_id: event.workflow_run_id, event_id: null },
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
      .find({ ...visibleEventsFilter(branch), seq: { $lte: untilSeq } })
      .sort({ seq: 1 })
      .lean<EventRecord[]>();
  }

  async interactionEvents(runId: string, branchIds: readonly string[]): Promise<EventRecord[]> {
    return this.models.events
      .find({
        workflow_run_id: runId,
        branch_id: { $in: [...branchIds] },
        event_type: { $in: ['interaction_requested', 'interaction_responded'] },
      })
      .sort({ seq: -1 })
      .lean<EventRecord[]>();
  }
}
