import type { Connection } from 'mongoose';
import { namingArtifact } from './artifact-ids.js';
import { newId, type ArtifactRecord, type ModuleRunContext } from '@stepwise/shared';
import {
  deleteFromBucket,
  insertArtifactRecord,
  scatterGather,
  sha256Hex,
  streamIntoBucket,
  uploadToBucket,
  type ChunkReader,
  type FileHead,
  type Models,
  type StreamedFile,
} from '@stepwise/shared/node';

/** Whose an attempt's artifact is: its run, branch and module, and the attempt's key. */
export function attemptOwner(
  run: ModuleRunContext['run'],
): Pick<ArtifactDescription, 'idempotencyKey' | 'run'> {
  return {
    idempotencyKey: run.idempotency_key,
    run: {
      workflow_run_id: run.workflow_run_id,
      user_id: run.user_id,
      branch_id: run.branch_id,
      step_id: run.step_id,
      module_name: run.module_name,
    },
  };
}

export interface ArtifactToSave extends ArtifactDescription {
  bytes: Buffer;
}

/** An artifact's description, whatever way its bytes come. */
export interface ArtifactDescription {
  /** The idempotency key of the attempt that saves it. */
  idempotencyKey: string;
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
}

/**
 * Files a run produced: bytes in GridFS (`artifacts`), their description in `artifacts`. Every
 * save is a new artifact and none is ever replaced, so the bytes behind an id always hash to the
 * sha256 the log recorded for it. Saves of attempts that never committed stay unlinked
 * (`event_id: null`) and are removed by `sweepOrphans` after a grace period.
 */
export class ArtifactStore {
  constructor(
    private readonly mongo: Connection,
    private readonly models: Models,
  ) {}

  async save(input: ArtifactToSave, now = new Date()): Promise<ArtifactRecord> {
    const artifactId = newId('artifact');
    const fileId = await uploadToBucket(this.mongo, 'artifacts', input.name, input.bytes, {
      artifact_id: artifactId,
      workflow_run_id: input.run.workflow_run_id,
      content_type: input.contentType,
    });
    const file = { fileId, size: input.bytes.length, sha256: sha256Hex(input.bytes) };
    return this.describe(artifactId, input, file, now);
  }

  /**
   * Stores a file as it arrives (an outside job's result): its first bytes (`head`, already read to
   * tell its type), then the rest, never whole in memory; past `limit` nothing is kept.
   */
  async saveStreamed(
    input: ArtifactDescription,
    body: { head: FileHead; read: ChunkReader; limit: number; tooLarge: () => Error },
    now = new Date(),
  ): Promise<ArtifactRecord> {
    const artifactId = newId('artifact');
    const file = await streamIntoBucket({
      connection: this.mongo,
      bucket: 'artifacts',
      name: input.name,
      metadata: {
        artifact_id: artifactId,
        workflow_run_id: input.run.workflow_run_id,
        content_type: input.contentType,
      },
      ...body,
    });
    return this.describe(artifactId, input, file, now);
  }

  private async describe(
    artifactId: string,
    input: ArtifactDescription,
    file: StreamedFile,
    now: Date,
  ): Promise<ArtifactRecord> {
    const record: ArtifactRecord = {
      artifact_id: artifactId,
      ...input.run,
      event_id: null,
      kind: input.kind,
      name: input.name,
      content_type: input.contentType,
      size: file.size,
      sha256: file.sha256,
      file_id: file.fileId,
      idempotency_key: input.idempotencyKey,
      created_at: now,
    };
    await insertArtifactRecord(this.models, record);
    return record;
  }

  /**
   * Previews are cached by the original's sha256 (the gateway makes them on first request): once
   * no artifact has those bytes any more, their previews go too.
   */
  private async dropUnusedPreviews(sha256: string): Promise<void> {
    if (
      await this.models.artifacts.exists({ sha256 }).comment(scatterGather('sweep:previews-in-use'))
    )
      return;
    const db = this.mongo.db;
    if (!db) return;
    const previews = await db
      .collection<{ _id: { toHexString(): string } }>('previews.files')
      .find({ 'metadata.sha256': sha256 }, { projection: { _id: 1 } })
      .toArray();
    for (const preview of previews)
      await deleteFromBucket(this.mongo, 'previews', preview._id.toHexString()).catch(
        () => undefined,
      );
  }

  /**
   * Removes artifacts that no committed event refers to and that are older than `graceMs`: their
   * attempt died or lost its lease before its `module_completed` was committed. One whose event
   * is in the log after all (its link was not written yet) is linked instead.
   */
  async sweepOrphans(graceMs: number, now = new Date(), limit = 500): Promise<number> {
    const orphans = await this.models.artifacts
      .find({ event_id: null, created_at: { $lt: new Date(now.getTime() - graceMs) } })
      .comment(scatterGather('sweep:orphan-artifacts'))
      .sort({ created_at: 1 })
      .limit(limit)
      .lean();
    let removed = 0;
    for (const artifact of orphans) {
      const owned = {
        workflow_run_id: artifact.workflow_run_id,
        artifact_id: artifact.artifact_id,
      };
      const event = await this.models.events
        .findOne({
          workflow_run_id: artifact.workflow_run_id,
          event_type: 'module_completed',
          ...namingArtifact(artifact.artifact_id),
        })
        .select({ event_id: 1 })
        .lean<{ event_id: string }>();
      if (event) {
        await this.models.artifacts.updateOne(
          { ...owned, event_id: null },
          { $set: { event_id: event.event_id } },
        );
        continue;
      }
      const deleted = await this.models.artifacts.deleteOne({ ...owned, event_id: null });
      if (deleted.deletedCount === 1) {
        await this.models.artifactOwners.deleteOne({ artifact_id: artifact.artifact_id });
        await deleteFromBucket(this.mongo, 'artifacts', artifact.file_id).catch(() => undefined);
        await this.dropUnusedPreviews(artifact.sha256);
        removed += 1;
      }
    }
    return removed;
  }
}
