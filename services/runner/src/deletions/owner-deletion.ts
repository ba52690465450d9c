import { randomBytes } from 'node:crypto';
import { authEpochKey, fairShareKey, sessionKey, userSessionsKey } from '@stepwise/shared';
import {
  isSharded,
  shardPlans,
  type CollectionName,
  type RedisClient,
  type ShardPlan,
} from '@stepwise/shared/node';
import type { DeletionTally } from './deletion-tally.js';
import { findBucketFiles, removeBucketFiles } from './gridfs-removal.js';
import { deleteRuns, type RunDeletionDependencies } from './run-deletion.js';

/**
 * Deleting a template, or a user and everything they own (docs/deletion-and-retention.md). Runs go
 * through the run deletion (each under its lease), a batch at a time; everything else is deleted
 * by owner or template, each step repeatable.
 */

export interface OwnerDeletionDependencies extends RunDeletionDependencies {
  redis: RedisClient;
  queuePrefix: string;
  /** Runs deleted together before progress is recorded (DELETION_BATCH_SIZE). */
  batchSize: number;
}

/** Deletes, a batch at a time, every run of the user matching `filter` (and the tally's progress). */
async function deleteRunsWhere(
  deps: OwnerDeletionDependencies,
  deletionId: string,
  userId: string,
  filter: Record<string, unknown>,
  tally: DeletionTally,
): Promise<void> {
  for (;;) {
    const batch = await deps.models.runs
      .find({ user_id: userId, ...filter })
      .select({ workflow_run_id: 1 })
      .limit(deps.batchSize)
      .lean<{ workflow_run_id: string }[]>();
    if (batch.length === 0) return;
    await deleteRuns(
      deps,
      { userId, runIds: batch.map((run) => run.workflow_run_id), deletionId },
      tally,
    );
    await tally.flush();
  }
}

/**
 * A template: every run of it, its versions and the stored files only they use, its keyword and
 * option history, its batch migrations, then the template itself.
 */
export async function deleteTemplate(
  deps: OwnerDeletionDependencies,
  input: { deletionId: string; userId: string; templateId: string },
  tally: DeletionTally,
): Promise<void> {
  const { userId, templateId } = input;
  const ofTemplate = { user_id: userId, workflow_template_id: templateId };
  await deleteRunsWhere(
    deps,
    input.deletionId,
    userId,
    { workflow_template_id: templateId },
    tally,
  );
  const versions = await deps.models.versions
    .find(ofTemplate)
    .select({ source_file_id: 1, resolved_workflow_ref: 1 })
    .lean<{ source_file_id: string | null; resolved_workflow_ref: string | null }[]>();
  const sources = versions.flatMap((version) => version.source_file_id ?? []);
  // A submission another template's version also names (none today) is left to that one.
  const shared = sources.length
    ? await deps.models.versions.distinct('source_file_id', {
        user_id: userId,
        source_file_id: { $in: sources },
        workflow_template_id: { $ne: templateId },
      })
    : [];
  await removeBucketFiles(
    deps.mongo,
    'submissions',
    sources.filter((id) => !shared.includes(id)),
    tally,
  );
  await removeBucketFiles(
    deps.mongo,
    'resolved_workflows',
    [
      ...versions.flatMap((version) => version.resolved_workflow_ref ?? []),
      ...(await findBucketFiles(deps.mongo, 'resolved_workflows', {
        workflow_template_id: templateId,
      })),
    ],
    tally,
  );
  tally.add(
    'workflow_versions',
    (await deps.models.versions.collection.deleteMany(ofTemplate)).deletedCount,
  );
  const ofTemplateOnly = { workflow_template_id: templateId };
  tally.add(
    'keyword_history',
    (await deps.models.keywordHistory.collection.deleteMany(ofTemplateOnly)).deletedCount,
  );
  tally.add(
    'option_usage',
    (await deps.models.optionUsage.collection.deleteMany(ofTemplateOnly)).deletedCount,
  );
  const migrations = await deps.models.migrations
    .find(ofTemplate)
    .select({ migration_id: 1 })
    .lean<{ migration_id: string }[]>();
  const migrationIds = migrations.map((migration) => migration.migration_id);
  tally.add(
    'migration_runs',
    (
      await deps.models.migrationRuns.collection.deleteMany({
        user_id: userId,
        migration_id: { $in: migrationIds },
      })
    ).deletedCount,
  );
  tally.add(
    'migrations',
    (await deps.models.migrations.collection.deleteMany(ofTemplate)).deletedCount,
  );
  // A run started from a version read just before the versions went: deleted like the others.
  await deleteRunsWhere(
    deps,
    input.deletionId,
    userId,
    { workflow_template_id: templateId },
    tally,
  );
  tally.add(
    'workflow_templates',
    (await deps.models.templates.collection.deleteMany(ofTemplate)).deletedCount,
  );
  await tally.flush();
}

/**
 * Makes the user's credentials useless at once: keys revoked (and every gateway's kept copy with
 * them, by a new revocation epoch), sessions ended, password and invitations gone. The gateway
 * does this when the deletion is asked for; the job does it again, in case that was cut short.
 */
export async function shutOutUser(
  deps: Pick<OwnerDeletionDependencies, 'models' | 'redis' | 'queuePrefix' | 'now'>,
  userId: string,
  tally?: DeletionTally,
): Promise<void> {
  await deps.models.accessKeys.collection.updateMany(
    { user_id: userId, revoked_at: null },
    { $set: { revoked_at: deps.now() } },
  );
  await deps.redis.set(
    authEpochKey(deps.queuePrefix, userId),
    randomBytes(12).toString('base64url'),
  );
  const sessions = await deps.redis.smembers(userSessionsKey(deps.queuePrefix, userId));
  if (sessions.length > 0)
    await deps.redis.del(...sessions.map((hash) => sessionKey(deps.queuePrefix, userId, hash)));
  await deps.redis.del(userSessionsKey(deps.queuePrefix, userId));
  tally?.add(
    'passwords',
    (await deps.models.passwords.collection.deleteMany({ user_id: userId })).deletedCount,
  );
  tally?.add(
    'invitations',
    (await deps.models.invitations.collection.deleteMany({ user_id: userId })).deletedCount,
  );
}

/**
 * Collections deleted in their own step (or last): every other collection with a plan, whose
 * documents carry `user_id` when they are someone's, is emptied of the user's by the sweep, so
 * a collection added later (with its plan, which the shard-key test demands) is not forgotten.
 */
const deletedInTheirOwnStep = new Set<CollectionName | string>([
  'workflow_runs',
  'deletions',
  'users',
  'access_keys',
]);

function sweptByOwner(name: string, plan: ShardPlan): boolean {
  if (deletedInTheirOwnStep.has(name) || name.endsWith('.files') || name.endsWith('.chunks'))
    return false;
  // Sharded by something else (a run, a template): reached through the runs and templates.
  return !isSharded(plan) || Object.keys(plan.shardKey)[0] === 'user_id';
}

/**
 * A user and everything they own: credentials first, then templates (and so runs), stray runs,
 * stored uploads, then every collection's documents of theirs, their keys, and the user last.
 */
export async function deleteUser(
  deps: OwnerDeletionDependencies,
  input: { deletionId: string; userId: string },
  tally: DeletionTally,
): Promise<void> {
  const { userId } = input;
  await shutOutUser(deps, userId, tally);
  for (;;) {
    const templates = await deps.models.templates
      .find({ user_id: userId })
      .select({ workflow_template_id: 1 })
      .limit(20)
      .lean<{ workflow_template_id: string }[]>();
    if (templates.length === 0) break;
    for (const template of templates)
      await deleteTemplate(deps, { ...input, templateId: template.workflow_template_id }, tally);
  }
  await deleteRunsWhere(deps, input.deletionId, userId, {}, tally);
  await removeBucketFiles(
    deps.mongo,
    'submissions',
    await findBucketFiles(deps.mongo, 'submissions', { user_id: userId }),
    tally,
  );
  const deliveries = await deps.models.webhookDeliveries
    .find({ user_id: userId })
    .select({ delivery_id: 1 })
    .lean<{ delivery_id: string }[]>();
  for (const delivery of deliveries)
    await deps.webhookQueue.queue.remove(delivery.delivery_id).catch(() => 0);
  for (const [name, plan] of Object.entries(shardPlans) as [string, ShardPlan][]) {
    if (!sweptByOwner(name, plan)) continue;
    const removed = await deps.mongo.collection(name).deleteMany({ user_id: userId });
    tally.add(name, removed.deletedCount);
  }
  // Receipts of the user's own run and template deletions (a user deletion is the admin's).
  tally.add(
    'deletions',
    (await deps.models.deletions.collection.deleteMany({ user_id: userId })).deletedCount,
  );
  tally.add(
    'access_keys',
    (await deps.models.accessKeys.collection.deleteMany({ user_id: userId })).deletedCount,
  );
  await deps.redis.del(
    fairShareKey(deps.queuePrefix, userId),
    userSessionsKey(deps.queuePrefix, userId),
  );
  tally.add(
    'users',
    (await deps.models.users.collection.deleteMany({ user_id: userId })).deletedCount,
  );
  // Last: a gateway's kept key meets a new epoch, reads MongoDB again, and finds no key.
  await deps.redis.del(authEpochKey(deps.queuePrefix, userId));
  await tally.flush();
}
