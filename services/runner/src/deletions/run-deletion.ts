import type { Connection, mongo } from 'mongoose';
import { scatterGather, type JobQueue, type Models } from '@stepwise/shared/node';
import type { WorkflowRunRecord } from '@stepwise/shared';
import { deadlineJobId } from '../deadlines/deadline-timers.js';
import type { DeletionTally } from './deletion-tally.js';
import { findBucketFiles, removeBucketFiles } from './gridfs-removal.js';

/**
 * Deleting runs (docs/deletion-and-retention.md, "A run"). Each step deletes whatever of the runs
 * is still there, so a deletion interrupted anywhere is finished by doing it all again; the run
 * document goes last, since it is what lets the next attempt find the rest.
 */

/**
 * The lease holder of a run being deleted. Any deletion may take over a run another deletion held
 * (a crashed runner's job comes back under the same deletion, or the run is asked for again):
 * both only ever delete.
 */
export const DELETION_LEASE_HOLDER = 'deletion';

/**
 * When a deletion's lease ends: never, in practice, since the run it holds goes with it (and a run
 * whose deletion failed stays hidden, leased, until it is asked for again). One fixed time, so
 * that the recovery job a drain schedules for the lease's end (`recover-<run>-<second>`) has an id
 * the deletion can compute, and remove.
 */
export const DELETION_LEASE_UNTIL = new Date('2999-01-01T00:00:00.000Z');

export interface RunDeletionDependencies {
  mongo: Connection;
  models: Models;
  runQueue: JobQueue<'runCommand'>;
  webhookQueue: JobQueue<'webhookDelivery'>;
  now: () => Date;
  /** Waits while a drain still holds one of the runs' leases. */
  sleep: (ms: number) => Promise<void>;
}

interface RunToDelete {
  workflow_run_id: string;
  pending_interaction?: WorkflowRunRecord['pending_interaction'];
  wake_at?: Date;
  wake_seq?: number;
}

/**
 * Deletes these runs of one user and everything of theirs: the runs are marked first (the gateway
 * answers 404 for them from then on), then leased, then emptied. Runs of another user, or already
 * gone, are not touched. `deletionId` is recorded on the runs as the reason they are hidden.
 */
export async function deleteRuns(
  deps: RunDeletionDependencies,
  input: { userId: string; runIds: readonly string[]; deletionId: string },
  tally: DeletionTally,
): Promise<void> {
  const { userId } = input;
  const runIds = [...new Set(input.runIds)];
  if (runIds.length === 0) return;
  const owned = { user_id: userId, workflow_run_id: { $in: runIds } };
  // A plain write, not the lease's: a drain may hold the lease now, and the mark must not wait
  // for it (the gateway refuses the runs from this moment).
  await deps.models.runs.collection.updateMany(
    { ...owned, deletion_id: { $exists: false } },
    { $set: { deletion_id: input.deletionId } },
  );
  await takeLeases(deps, userId, runIds);
  // Artifacts are read by their own ids: hidden with their runs. Marked once the leases are held,
  // so those a drain saved before it let go are marked too.
  await deps.models.artifacts.collection.updateMany(
    { ...owned, deletion_id: { $exists: false } },
    { $set: { deletion_id: input.deletionId } },
  );
  // Read while the log is still there; removed once the runs are gone (a timer a commit's
  // follower sets after the lease was taken is still found).
  const timers = await timerJobIds(deps, userId, runIds);
  await deleteRunNotifications(deps, userId, runIds, tally);
  await deleteRunArtifacts(deps, { userId, runIds }, tally);
  await deleteRunRecords(deps, userId, runIds, tally);
  const removed = await deps.models.runs.collection.deleteMany({
    ...owned,
    lease_holder: DELETION_LEASE_HOLDER,
  });
  tally.add('workflow_runs', removed.deletedCount);
  tally.addRuns(removed.deletedCount);
  // A command accepted in the moment between the gateway's last look and the mark (its run was
  // read before the mark) may have been stored after its collection was emptied: emptied again
  // now that the run, which any new command must update first, is gone.
  await deleteCommands(deps, userId, runIds, tally);
  await deleteRunNotifications(deps, userId, runIds, tally);
  tally.add('jobs:runs', await removeJobs(deps.runQueue, timers));
}

/**
 * Takes every run's lease for the deletion (as a drain takes it: free or expired leases only, and
 * the fence grows, so a drain that held it before can commit nothing more). A lease a drain holds
 * is waited out: the drain finishes its step, or its lease expires.
 */
async function takeLeases(
  deps: RunDeletionDependencies,
  userId: string,
  runIds: readonly string[],
): Promise<void> {
  for (;;) {
    const now = deps.now();
    await deps.models.runs.collection.updateMany(
      {
        user_id: userId,
        workflow_run_id: { $in: [...runIds] },
        $or: [
          { lease_expires_at: null },
          { lease_expires_at: { $lte: now } },
          { lease_holder: DELETION_LEASE_HOLDER },
        ],
      },
      {
        $set: { lease_holder: DELETION_LEASE_HOLDER, lease_expires_at: DELETION_LEASE_UNTIL },
        $inc: { lease_fence: 1 },
      },
    );
    const held = await deps.models.runs
      .find({
        user_id: userId,
        workflow_run_id: { $in: [...runIds] },
        lease_holder: { $ne: DELETION_LEASE_HOLDER },
      })
      .select({ lease_expires_at: 1 })
      .lean<{ lease_expires_at?: Date | null }[]>();
    if (held.length === 0) return;
    const soonest = Math.min(
      ...held.map((run) => (run.lease_expires_at ?? now).getTime() - now.getTime()),
    );
    await deps.sleep(Math.min(1_000, Math.max(20, soonest)));
  }
}

/**
 * The runs' jobs on the `runs` queue that wait for a time: every deadline (or reminder) their log
 * asked for (keyed by question and due time), a retry's wake-up (keyed by the seq and time the run
 * notes), and the recovery a drain schedules for the end of the deletion's lease. Any other job
 * of a run (a drain, a timer set again early) finds the run gone and does nothing.
 */
async function timerJobIds(
  deps: RunDeletionDependencies,
  userId: string,
  runIds: readonly string[],
): Promise<string[]> {
  const jobIds = new Set<string>();
  const runs = await deps.models.runs
    .find({ user_id: userId, workflow_run_id: { $in: [...runIds] } })
    .select({ workflow_run_id: 1, pending_interaction: 1, wake_at: 1, wake_seq: 1 })
    .lean<RunToDelete[]>();
  const recoverySlot = Math.ceil(DELETION_LEASE_UNTIL.getTime() / 1_000);
  for (const run of runs) {
    const pending = run.pending_interaction;
    const dueAt = pending?.deadline?.due_at;
    if (pending && dueAt) jobIds.add(deadlineJobId(pending.interaction_id, dueAt));
    if (run.wake_at && run.wake_seq !== undefined)
      jobIds.add(`wake-${run.workflow_run_id}-${run.wake_seq}-${run.wake_at.getTime()}`);
    jobIds.add(`recover-${run.workflow_run_id}-${recoverySlot}`);
  }
  const asked = await deps.models.events
    .find({
      workflow_run_id: { $in: [...runIds] },
      event_type: { $in: ['interaction_requested', 'reminder_sent'] },
    })
    .select({ data: 1 })
    .lean<{ data: Record<string, unknown> }[]>();
  for (const { data } of asked) {
    const interactionId = data['interaction_id'];
    const deadline = data['deadline'] as { due_at?: unknown } | undefined;
    const dueAt = typeof deadline?.due_at === 'string' ? deadline.due_at : data['next_due_at'];
    if (typeof interactionId === 'string' && typeof dueAt === 'string')
      jobIds.add(deadlineJobId(interactionId, dueAt));
  }
  return [...jobIds];
}

/** Removes queued jobs by id; one that is gone, or running right now, is left to finish. */
async function removeJobs(
  queue: JobQueue<'runCommand'> | JobQueue<'webhookDelivery'>,
  jobIds: readonly string[],
): Promise<number> {
  let removed = 0;
  for (const jobId of jobIds) removed += await queue.queue.remove(jobId).catch(() => 0);
  return removed;
}

/** Webhook deliveries of the runs, with their queued jobs (a delivery's job id is its id). */
async function deleteRunNotifications(
  deps: RunDeletionDependencies,
  userId: string,
  runIds: readonly string[],
  tally: DeletionTally,
): Promise<void> {
  const filter = { user_id: userId, workflow_run_id: { $in: [...runIds] } };
  const deliveries = await deps.models.webhookDeliveries
    .find(filter)
    .select({ delivery_id: 1 })
    .lean<{ delivery_id: string }[]>();
  tally.add(
    'jobs:webhooks',
    await removeJobs(
      deps.webhookQueue,
      deliveries.map((delivery) => delivery.delivery_id),
    ),
  );
  const removed = await deps.models.webhookDeliveries.collection.deleteMany(filter);
  tally.add('webhook_deliveries', removed.deletedCount);
}

/**
 * Artifacts of some runs: all of them, or only `artifactIds` (a retention's choice). A preview
 * goes only once no artifact that stays still has its bytes (previews are cached by sha256 across
 * users); then the bytes, the lookups, and the records last, which are what lets a repeat find the
 * rest. Returns the artifacts it found.
 */
export async function deleteRunArtifacts(
  deps: Pick<RunDeletionDependencies, 'mongo' | 'models'>,
  input: { userId: string; runIds: readonly string[]; artifactIds?: readonly string[] },
  tally: DeletionTally,
): Promise<{ workflow_run_id: string; artifact_id: string }[]> {
  const runIds = [...input.runIds];
  const wholeRuns = input.artifactIds === undefined;
  const filter = {
    user_id: input.userId,
    workflow_run_id: { $in: runIds },
    ...(wholeRuns ? {} : { artifact_id: { $in: [...(input.artifactIds ?? [])] } }),
  };
  const artifacts = await deps.models.artifacts
    .find(filter)
    .select({ artifact_id: 1, workflow_run_id: 1, file_id: 1, sha256: 1 })
    .lean<{ artifact_id: string; workflow_run_id: string; file_id: string; sha256: string }[]>();
  await deleteUnusedPreviews(deps, artifacts, runIds, tally);
  const fileIds: (string | mongo.ObjectId)[] = artifacts.map((artifact) => artifact.file_id);
  // Whole runs: also files whose record was never written (an attempt that died mid-save).
  if (wholeRuns)
    fileIds.push(
      ...(await findBucketFiles(deps.mongo, 'artifacts', { workflow_run_id: { $in: runIds } })),
    );
  await removeBucketFiles(deps.mongo, 'artifacts', fileIds, tally);
  const owners = await deps.models.artifactOwners.collection.deleteMany(
    wholeRuns
      ? { user_id: input.userId, workflow_run_id: { $in: runIds } }
      : { artifact_id: { $in: artifacts.map((artifact) => artifact.artifact_id) } },
  );
  tally.add('artifact_owners', owners.deletedCount);
  const removed = await deps.models.artifacts.collection.deleteMany(filter);
  tally.add('artifacts', removed.deletedCount);
  return artifacts.map(({ workflow_run_id, artifact_id }) => ({ workflow_run_id, artifact_id }));
}

async function deleteUnusedPreviews(
  deps: Pick<RunDeletionDependencies, 'mongo' | 'models'>,
  artifacts: readonly { artifact_id: string; sha256: string }[],
  runIds: readonly string[],
  tally: DeletionTally,
): Promise<void> {
  const hashes = [...new Set(artifacts.map((artifact) => artifact.sha256))];
  if (hashes.length === 0) return;
  const leaving = artifacts.map((artifact) => artifact.artifact_id);
  // Which of the hashes an artifact that stays still has: one query every shard answers, for the
  // whole batch (artifacts are sharded by run, and a hash may be any user's).
  const kept = new Set(
    (await deps.models.artifacts
      .distinct('sha256', {
        sha256: { $in: hashes },
        $nor: [{ workflow_run_id: { $in: [...runIds] }, artifact_id: { $in: leaving } }],
      })
      .comment(scatterGather('deletion:previews-in-use'))) as string[],
  );
  const unused = hashes.filter((hash) => !kept.has(hash));
  if (unused.length === 0) return;
  const previews = await findBucketFiles(deps.mongo, 'previews', { sha256: { $in: unused } });
  await removeBucketFiles(deps.mongo, 'previews', previews, tally);
}

/** The runs' own collections, each by its shard key (the run) and the owner as well. */
async function deleteRunRecords(
  deps: RunDeletionDependencies,
  userId: string,
  runIds: readonly string[],
  tally: DeletionTally,
): Promise<void> {
  const ofRuns = { workflow_run_id: { $in: [...runIds] } };
  const ofUsersRuns = { ...ofRuns, user_id: userId };
  // Events and branches carry no owner: their run ids were checked to be the user's above.
  tally.add('events', (await deps.models.events.collection.deleteMany(ofRuns)).deletedCount);
  tally.add('branches', (await deps.models.branches.collection.deleteMany(ofRuns)).deletedCount);
  tally.add('tokens', (await deps.models.tokens.collection.deleteMany(ofUsersRuns)).deletedCount);
  tally.add(
    'migration_runs',
    (await deps.models.migrationRuns.collection.deleteMany(ofUsersRuns)).deletedCount,
  );
  await deleteCommands(deps, userId, runIds, tally);
}

async function deleteCommands(
  deps: RunDeletionDependencies,
  userId: string,
  runIds: readonly string[],
  tally: DeletionTally,
): Promise<void> {
  const ofUsersRuns = { workflow_run_id: { $in: [...runIds] }, user_id: userId };
  // The Idempotency-Key claims first: a claim without its command is read as one being accepted.
  tally.add(
    'request_keys',
    (await deps.models.requestKeys.collection.deleteMany(ofUsersRuns)).deletedCount,
  );
  tally.add(
    'run_commands',
    (await deps.models.runCommands.collection.deleteMany(ofUsersRuns)).deletedCount,
  );
}
