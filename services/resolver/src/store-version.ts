import { newId, type WorkflowTemplateRecord, type WorkflowVersionRecord } from '@stepwise/shared';
import { deleteFromBucket, uploadToBucket, type Models } from '@stepwise/shared/node';
import type { Connection } from 'mongoose';
import type { BuiltVersion } from './build-version.js';

function isDuplicateKeyError(error: unknown): boolean {
  return (
    typeof error === 'object' && error !== null && (error as { code?: unknown }).code === 11000
  );
}

export interface StoreVersionInput {
  userId: string;
  built: BuiltVersion;
  sourceFileId: string;
  inlineLimitBytes: number;
  /**
   * Keeps the submission's bytes where `source_file_id` says, once the version is this
   * submission's (`again`: it already was, from an earlier delivery of the same job). Runs beside
   * the template touch.
   */
  keepSource?: (again: boolean) => Promise<void>;
  now?: Date;
}

export interface StoredVersion {
  template: WorkflowTemplateRecord;
  version: WorkflowVersionRecord;
  created: boolean;
}

/**
 * The user's template of this name, created if missing. Racing creators meet at the unique index
 * (user_id, workflow_template_name): the loser of the insert reads the winner's document.
 * `inserted` says this call created it, already with this workflow's name and `now`.
 */
async function upsertTemplate(models: Models, userId: string, built: BuiltVersion, now: Date) {
  const filter = { user_id: userId, workflow_template_name: built.workflow.workflow_id };
  for (let attempt = 0; ; attempt++) {
    const templateId = newId('template');
    try {
      const template = await models.templates
        .findOneAndUpdate(
          filter,
          {
            $setOnInsert: {
              workflow_template_id: templateId,
              display_name: built.workflow.name ?? null,
              created_at: now,
              updated_at: now,
            },
          },
          { upsert: true, returnDocument: 'after' },
        )
        .lean();
      if (template) return { template, inserted: template.workflow_template_id === templateId };
    } catch (error) {
      if (!isDuplicateKeyError(error) || attempt >= 2) throw error;
    }
  }
}

type VersionKey = Pick<WorkflowVersionRecord, 'user_id' | 'workflow_template_id' | 'content_hash'>;

/** The version that won the unique index over `key`, as this submission sees it. */
async function existingVersion(
  models: Models,
  key: VersionKey,
  sourceFileId: string,
): Promise<{ version: WorkflowVersionRecord; ours: boolean } | null> {
  const version = await models.versions.findOne(key).lean();
  // The same submission seen again means a redelivered job whose first attempt stored it.
  return version ? { version, ours: version.source_file_id === sourceFileId } : null;
}

/**
 * Upserts the template (per user and name) and the version (per template and content hash),
 * without locks or transactions: unique indexes decide races, and the loser adopts the winner's
 * version. An inline-sized version is inserted straight away, the unique index answering whether
 * it exists (one round trip instead of a lookup and an insert). A workflow over the inline limit is
 * looked up first, since it must go to GridFS before its insert; if its version turns out to exist
 * after all, that file is deleted again, so no orphan stays behind.
 */
export async function storeVersion(
  mongo: Connection,
  models: Models,
  input: StoreVersionInput,
): Promise<StoredVersion> {
  const now = input.now ?? new Date();
  const { built } = input;
  const { template, inserted } = await upsertTemplate(models, input.userId, built, now);
  const key: VersionKey = {
    user_id: input.userId,
    workflow_template_id: template.workflow_template_id,
    content_hash: built.contentHash,
  };
  const adopt = async (found: { version: WorkflowVersionRecord; ours: boolean }) => {
    if (found.ours) await input.keepSource?.(true);
    return { template, version: found.version, created: found.ours };
  };

  const json = JSON.stringify(built.workflow);
  const size = Buffer.byteLength(json, 'utf8');
  const inlined = size <= input.inlineLimitBytes;
  if (!inlined) {
    const found = await existingVersion(models, key, input.sourceFileId);
    if (found) return adopt(found);
  }
  const versionId = newId('version');
  const storedRef = inlined
    ? null
    : await uploadToBucket(
        mongo,
        'resolved_workflows',
        `${versionId}.json`,
        Buffer.from(json, 'utf8'),
        {
          workflow_template_id: template.workflow_template_id,
          content_hash: built.contentHash,
        },
      );
  const version: WorkflowVersionRecord = {
    workflow_version_id: versionId,
    workflow_template_id: template.workflow_template_id,
    user_id: input.userId,
    content_hash: built.contentHash,
    raw_sha256: built.rawSha256,
    source_type: built.sourceType,
    resolved_workflow: storedRef ? null : (built.workflow as Record<string, unknown>),
    resolved_workflow_ref: storedRef,
    size,
    source_file_id: input.sourceFileId,
    created_at: now,
  };
  try {
    // The driver's insert, not a mongoose document: the record is complete and typed already.
    // A copy, since the driver adds `_id` to what it inserts.
    await models.versions.collection.insertOne({ ...version });
  } catch (error) {
    if (storedRef) await deleteFromBucket(mongo, 'resolved_workflows', storedRef);
    if (!isDuplicateKeyError(error)) throw error;
    const found = await existingVersion(models, key, input.sourceFileId);
    if (!found) throw error;
    return adopt(found);
  }
  // A template this call created already has this workflow's name and `now`.
  await Promise.all([
    inserted
      ? undefined
      : models.templates.updateOne(
          { user_id: input.userId, workflow_template_id: template.workflow_template_id },
          { $set: { updated_at: now, display_name: built.workflow.name ?? template.display_name } },
        ),
    input.keepSource?.(false),
  ]);
  return { template, version, created: true };
}
