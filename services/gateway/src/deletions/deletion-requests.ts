import {
  BadRequestError,
  NotFoundError,
  newId,
  type DeletionTarget,
  type DeletionView,
} from '@stepwise/shared';
import type { DeletionRecord, JobQueue, Models } from '@stepwise/shared/node';
import { decodeTimeCursor, encodeTimeCursor } from '../http/page-cursor.js';
import type { AuthEpochs } from '../accounts/key-cache.js';
import type { SessionStore } from '../people/sessions.js';

/**
 * Asking for deletions and reading them (docs/deletion-and-retention.md). The gateway stores the
 * deletion, hides what it deletes at once, and queues it; a runner does the deleting. Asking
 * again for what is already being (or has been) deleted answers that deletion, queued again if it
 * had failed.
 */

export interface DeletionRequestDependencies {
  models: Models;
  deletionQueue: JobQueue<'deletion'>;
}

export interface UserShutOut {
  epochs: AuthEpochs;
  sessions: SessionStore;
}

export function deletionView(record: DeletionRecord): DeletionView {
  return {
    deletion_id: record.deletion_id,
    target: record.target,
    status: record.status,
    counts: record.counts,
    runs_deleted: record.runs_deleted,
    error: record.error,
    requested_at: record.requested_at.toISOString(),
    started_at: record.started_at?.toISOString() ?? null,
    finished_at: record.finished_at?.toISOString() ?? null,
  };
}

/** Queues the deletion's job; its id is the deletion's, so queueing it twice is one job. */
async function enqueue(deps: DeletionRequestDependencies, record: DeletionRecord): Promise<void> {
  const queue = deps.deletionQueue.queue;
  // A job that failed for good stays in the failed set under its id, where a new one with that id
  // would be ignored: removed first, so that asking again runs it again.
  const previous = await queue.getJob(record.deletion_id);
  if (previous && (await previous.isFailed())) await previous.remove();
  await deps.deletionQueue.enqueue(
    { deletion_id: record.deletion_id, user_id: record.owner_id },
    { jobId: record.deletion_id },
  );
}

/** The deletion of this target still on record, if any (the newest). */
async function existingDeletion(
  models: Models,
  ownerId: string,
  target: { kind: DeletionTarget['kind']; id: string },
): Promise<DeletionRecord | null> {
  return models.deletions
    .findOne({ owner_id: ownerId, 'target.kind': target.kind, 'target.id': target.id })
    .sort({ requested_at: -1 })
    .lean<DeletionRecord>();
}

/** An existing deletion, queued again unless done (a failed one resumes where it stopped). */
async function resume(
  deps: DeletionRequestDependencies,
  record: DeletionRecord,
): Promise<DeletionView> {
  if (record.status === 'done') return deletionView(record);
  if (record.status === 'failed')
    await deps.models.deletions.collection.updateOne(
      { deletion_id: record.deletion_id },
      { $set: { status: 'queued', error: null, finished_at: null } },
    );
  await enqueue(deps, record);
  const now = await deps.models.deletions
    .findOne({ deletion_id: record.deletion_id })
    .lean<DeletionRecord>();
  return deletionView(now ?? record);
}

async function createDeletion(
  deps: DeletionRequestDependencies,
  input: { readerId: string | null; ownerId: string; target: DeletionTarget; now: Date },
): Promise<DeletionRecord> {
  const record: DeletionRecord = {
    deletion_id: newId('deletion'),
    user_id: input.readerId,
    owner_id: input.ownerId,
    target: input.target,
    status: 'queued',
    counts: {},
    runs_deleted: 0,
    error: null,
    requested_at: input.now,
    started_at: null,
    finished_at: null,
  };
  await deps.models.deletions.collection.insertOne({ ...record });
  return record;
}

/** DELETE /v1/runs/{id}: the run is hidden from this moment and deleted by a runner. */
export async function requestRunDeletion(
  deps: DeletionRequestDependencies,
  userId: string,
  runId: string,
  now = new Date(),
): Promise<DeletionView> {
  const existing = await existingDeletion(deps.models, userId, { kind: 'run', id: runId });
  const owned = { workflow_run_id: runId, user_id: userId };
  const exists = (await deps.models.runs.exists(owned)) !== null;
  // Done and the run is back (imported again under its id): that is a new deletion.
  if (existing && (existing.status !== 'done' || !exists)) return resume(deps, existing);
  if (!exists) throw new NotFoundError('run', runId);
  const record = await createDeletion(deps, {
    readerId: userId,
    ownerId: userId,
    target: { kind: 'run', id: runId },
    now,
  });
  // Marked now, not when a runner gets to it: every route answers 404 for the run from here on.
  await deps.models.runs.collection.updateOne(
    { ...owned, deletion_id: { $exists: false } },
    { $set: { deletion_id: record.deletion_id } },
  );
  // So are its artifacts, which are read by their own ids (GET /v1/artifacts/{id}).
  await deps.models.artifacts.collection.updateMany(
    { ...owned, deletion_id: { $exists: false } },
    { $set: { deletion_id: record.deletion_id } },
  );
  await enqueue(deps, record);
  return deletionView(record);
}

/**
 * DELETE /v1/templates/{name}?confirm={name}: the template, its versions and every run of it.
 * Without the name repeated in `confirm` nothing happens (a 400 that says so, once the template is
 * known to be the caller's).
 */
export async function requestTemplateDeletion(
  deps: DeletionRequestDependencies,
  userId: string,
  name: string,
  confirm: string,
  now = new Date(),
): Promise<DeletionView> {
  // Whose template it is comes first: another user's name answers 404 as one that does not exist,
  // with or without a confirmation, so the answer says nothing of what others own.
  const template = await deps.models.templates
    .findOne({ user_id: userId, workflow_template_name: name })
    .lean();
  if (!template) throw new NotFoundError('template', name);
  if (confirm !== name)
    throw new BadRequestError(
      `deleting template '${name}' deletes its versions and every run of it: repeat its name in ?confirm=${name} to go ahead`,
      [
        {
          path: 'query.confirm',
          message: "must be the template's name",
        },
      ],
    );
  const target = { kind: 'template' as const, id: template.workflow_template_id, name };
  const existing = await existingDeletion(deps.models, userId, target);
  if (existing && existing.status !== 'done') return resume(deps, existing);
  const record = await createDeletion(deps, { readerId: userId, ownerId: userId, target, now });
  await enqueue(deps, record);
  return deletionView(record);
}

/**
 * DELETE /v1/admin/users/{user_id}: the user's keys and sessions stop working before this
 * answers (keys revoked, the revocation epoch replaced, sessions ended, password gone); then a
 * runner deletes everything they own. The deletion is the admin's to read.
 */
export async function requestUserDeletion(
  deps: DeletionRequestDependencies & UserShutOut,
  userId: string,
  now = new Date(),
): Promise<DeletionView> {
  const existing = await existingDeletion(deps.models, userId, { kind: 'user', id: userId });
  if (!(await deps.models.users.exists({ user_id: userId }))) {
    if (existing) return resume(deps, existing);
    throw new NotFoundError('user', userId);
  }
  await deps.models.accessKeys.collection.updateMany(
    { user_id: userId, revoked_at: null },
    { $set: { revoked_at: now } },
  );
  await deps.epochs.replace(userId);
  await deps.sessions.endAllOf(userId);
  await deps.models.passwords.collection.deleteMany({ user_id: userId });
  await deps.models.invitations.collection.deleteMany({ user_id: userId });
  if (existing) return resume(deps, existing);
  const record = await createDeletion(deps, {
    readerId: null,
    ownerId: userId,
    target: { kind: 'user', id: userId },
    now,
  });
  await enqueue(deps, record);
  return deletionView(record);
}

/** One deletion, if `readerId` may read it (null: the admin's, i.e. a user deletion). */
export async function readDeletion(
  models: Models,
  readerId: string | null,
  deletionId: string,
): Promise<DeletionView> {
  const record = await models.deletions
    .findOne({ deletion_id: deletionId, user_id: readerId })
    .lean<DeletionRecord>();
  if (!record) throw new NotFoundError('deletion', deletionId);
  return deletionView(record);
}

/** The user's deletions, newest first, a page at a time. */
export async function listDeletions(
  models: Models,
  userId: string,
  query: { limit: number; cursor?: string | undefined },
): Promise<{ items: DeletionView[]; next_cursor: string | null }> {
  const filter: Record<string, unknown> = { user_id: userId };
  if (query.cursor) {
    const after = decodeTimeCursor(query.cursor, 'deletion');
    filter['$or'] = [
      { requested_at: { $lt: after.createdAt } },
      { requested_at: after.createdAt, deletion_id: { $lt: after.id } },
    ];
  }
  const records = await models.deletions
    .find(filter)
    .sort({ requested_at: -1, deletion_id: -1 })
    .limit(query.limit + 1)
    .lean<DeletionRecord[]>();
  const page = records.slice(0, query.limit);
  const last = page.at(-1);
  return {
    items: page.map(deletionView),
    next_cursor:
      records.length > query.limit && last
        ? encodeTimeCursor({ createdAt: last.requested_at, id: last.deletion_id })
        : null,
  };
}
