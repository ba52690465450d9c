import { createHash } from 'node:crypto';
import type { Connection } from 'mongoose';
import type { ArtifactRecord } from '@stepwise/shared';
import { deleteFromBucket, sha256Hex, uploadToBucket, type Models } from '@stepwise/shared/node';

export interface ArtifactToSave {
  /** Names this save: the same key again (a redelivered attempt) replaces rather than adds. */
  key: string;
  run: {
    workflow_run_id: string;
    user_id: string;
    branch_id: string;
    step_id: string;
    module_name: string;
  };
  name: string;
  kind: ArtifactRecord['kind'];
  contentType: string;
  bytes: Buffer;
}

/** Files a run produced: bytes in GridFS (`artifacts`), their description in `artifacts`. */
export class ArtifactStore {
  constructor(
    private readonly mongo: Connection,
    private readonly models: Models,
  ) {}

  async save(input: ArtifactToSave, now = new Date()): Promise<ArtifactRecord> {
    const artifactId = `art_${createHash('sha256').update(input.key).digest('hex').slice(0, 24)}`;
    const sha256 = sha256Hex(input.bytes);
    const existing = await this.models.artifacts.findOne({ artifact_id: artifactId }).lean();
    if (existing?.sha256 === sha256) return existing;
    if (existing) {
      await this.models.artifacts.deleteOne({ artifact_id: artifactId });
      await deleteFromBucket(this.mongo, 'artifacts', existing.file_id);
    }
    const fileId = await uploadToBucket(this.mongo, 'artifacts', input.name, input.bytes, {
      artifact_id: artifactId,
      workflow_run_id: input.run.workflow_run_id,
      content_type: input.contentType,
    });
    const record: ArtifactRecord = {
      artifact_id: artifactId,
      ...input.run,
      event_id: null,
      kind: input.kind,
      name: input.name,
      content_type: input.contentType,
      size: input.bytes.length,
      sha256,
      file_id: fileId,
      created_at: now,
    };
    try {
      await this.models.artifacts.create(record);
    } catch (error) {
      await deleteFromBucket(this.mongo, 'artifacts', fileId);
      const winner =
        (error as { code?: unknown }).code === 11000
          ? await this.models.artifacts.findOne({ artifact_id: artifactId }).lean()
          : null;
      if (!winner) throw error;
      return winner;
    }
    return record;
  }
}
