import type { DeletionJob } from '@stepwise/shared';
import type { DeletionRecord } from '@stepwise/shared/node';
import { DeletionTally } from './deletion-tally.js';
import { deleteTemplate, deleteUser, type OwnerDeletionDependencies } from './owner-deletion.js';
import { deleteRuns } from './run-deletion.js';

export type DeletionJobOutcome =
  { status: 'done'; runs_deleted: number } | { status: 'missing' } | { status: 'already_done' };

/**
 * One deletion job: the record says what to delete; its status goes running → done, or failed
 * after the job's last attempt. A job handed back after a crash (or a failed deletion asked for
 * again) starts from the top, and every step finds only what is left.
 */
export async function runDeletionJob(
  deps: OwnerDeletionDependencies,
  job: DeletionJob,
  context: { isFinalAttempt: boolean },
): Promise<DeletionJobOutcome> {
  const byId = { deletion_id: job.deletion_id };
  const record = await deps.models.deletions.findOne(byId).lean<DeletionRecord>();
  if (!record || record.owner_id !== job.user_id) return { status: 'missing' };
  if (record.status === 'done') return { status: 'already_done' };
  await deps.models.deletions.collection.updateOne(byId, {
    $set: { status: 'running', started_at: record.started_at ?? deps.now(), error: null },
  });
  const tally = new DeletionTally(async (counts, runs) => {
    const increments: Record<string, number> = { runs_deleted: runs };
    for (const [collection, count] of Object.entries(counts))
      increments[`counts.${countKey(collection)}`] = count;
    await deps.models.deletions.collection.updateOne(byId, { $inc: increments });
  });
  try {
    const { target } = record;
    const input = { deletionId: record.deletion_id, userId: record.owner_id };
    if (target.kind === 'run') await deleteRuns(deps, { ...input, runIds: [target.id] }, tally);
    else if (target.kind === 'template')
      await deleteTemplate(deps, { ...input, templateId: target.id }, tally);
    else await deleteUser(deps, input, tally);
    await tally.flush();
    await deps.models.deletions.collection.updateOne(byId, {
      $set: { status: 'done', finished_at: deps.now(), error: null },
    });
    return { status: 'done', runs_deleted: tally.runsDeleted };
  } catch (error) {
    await tally.flush().catch(() => undefined);
    if (context.isFinalAttempt)
      await deps.models.deletions.collection
        .updateOne(byId, {
          $set: {
            status: 'failed',
            finished_at: deps.now(),
            error: error instanceof Error ? error.message : String(error),
          },
        })
        .catch(() => undefined);
    throw error;
  }
}

/**
 * A count's field name: GridFS buckets' collections have a dot (`artifacts.files`), which in an
 * update path would nest; the tally names them `files:<bucket>` already, and a dot never reaches
 * here, but a name with one is kept flat all the same.
 */
function countKey(collection: string): string {
  return collection.replaceAll('.', '_');
}
