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
 */
async function upsertTemplate(models: Models, userId: string, built: BuiltVersion, now: Date) {
  const filter = { user_id: userId, workflow_template_name: built.workflow.workflow_id };
  for (let attempt = 0; ; attempt++) {
    try {
      const template = await models.templates
        .findOneAndUpdate(
          filter,
          {
            $setOnInsert: {
              workflow_template_id: newId('template'),
              display_name: built.workflow.name ?? null,
              created_at: now,
              updated_at: now,
            },
          },
          { upsert: true, returnDocument: 'after' },
        )
        .lean();
      if (template) return template;
    } catch (error) {
      if (!isDuplicateKeyError(error) || attempt >= 2) throw error;
    }
  }
}

/**
 * Upserts the template (per user and name) and the version (per template and content hash),
 * without locks or transactions: unique indexes decide races, and the loser adopts the winner's
 * version. A workflow over the inline limit goes to GridFS first; if its version turns out to exist
 * already, that file is deleted again, so no orphan stays behind.
 */
export async function storeVersion(
  mongo: Connection,
  models: Models,
  input: StoreVersionInput,
): Promise<StoredVersion> {
  const now = input.now ?? new Date();
  const { built } = input;
  const template = await upsertTemplate(models, input.userId, built, now);
  const key = {
    user_id: input.userId,
    workflow_template_id: template.workflow_template_id,
    content_hash: built.contentHash,
  };

  const existing = await models.versions.findOne(key).lean();
  // The same submission seen again means a redelivered job whose first attempt stored it.
  if (existing)
    return { template, version: existing, created: existing.source_file_id === input.sourceFileId };

  const json = JSON.stringify(built.workflow);
  const size = Buffer.byteLength(json, 'utf8');
  const versionId = newId('version');
  const storedRef =
    size > input.inlineLimitBytes
      ? await uploadToBucket(
          mongo,
          'resolved_workflows',
          `${versionId}.json`,
          Buffer.from(json, 'utf8'),
          {
            workflow_template_id: template.workflow_template_id,
            content_hash: built.contentHash,
          },
        )
      : null;
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
    await models.versions.create(version);
  } catch (error) {
    if (storedRef) await deleteFromBucket(mongo, 'resolved_workflows', storedRef);
    if (!isDuplicateKeyError(error)) throw error;
    const winner = await models.versions.findOne(key).lean();
    if (!winner) throw error;
    return { template, version: winner, created: false };
  }
  await models.templates.updateOne(
    { user_id: input.userId, workflow_template_id: template.workflow_template_id },
    { $set: { updated_at: now, display_name: built.workflow.name ?? template.display_name } },
  );
  return { template, version, created: true };
}
