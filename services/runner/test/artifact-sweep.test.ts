import { describe, expect, it } from 'vitest';
import { mongo } from 'mongoose';
import { newId } from '@stepwise/shared';
import { ArtifactStore } from '../src/artifacts/artifact-store.js';
import { useTestDatabases } from '../../../test/support/databases.js';

/**
 * Artifacts are never replaced, and those of attempts that never committed are swept after a
 * grace period (effects.md, rule 6), on the real MongoDB wire server and GridFS.
 */
const db = await useTestDatabases('artifact-sweep');
const HOUR = 3_600_000;

function save(store: ArtifactStore, runId: string, text: string, at: Date) {
  return store.save(
    {
      idempotencyKey: `${runId}:${text.length}`,
      run: {
        workflow_run_id: runId,
        user_id: 'usr_x',
        branch_id: 'br_x',
        step_id: 's',
        module_name: 'keep',
      },
      name: `${text}.txt`,
      kind: 'deliverable',
      contentType: 'text/plain',
      bytes: Buffer.from(text),
    },
    at,
  );
}

async function fileExists(fileId: string): Promise<boolean> {
  const files = db.mongo.db?.collection('artifacts.files');
  return (await files?.countDocuments({ _id: new mongo.ObjectId(fileId) })) === 1;
}

describe('artifacts of attempts that never committed', () => {
  it('gives every save its own artifact, and sweeps only unlinked ones past the grace period', async () => {
    const store = new ArtifactStore(db.mongo, db.models);
    const runId = newId('run');
    const now = new Date();
    const old = new Date(now.getTime() - 2 * HOUR);
    // The same attempt saving twice (run again after a crash) makes two artifacts, never one
    // replaced under an id the log may already name.
    const first = await save(store, runId, 'draft', old);
    const again = await save(store, runId, 'draft', old);
    expect(again.artifact_id).not.toBe(first.artifact_id);

    const linked = await save(store, runId, 'final', old);
    await db.models.artifacts.updateOne(
      { artifact_id: linked.artifact_id },
      { $set: { event_id: newId('event') } },
    );
    // Committed, but its link was not written yet: the sweep finds its event and links it.
    const committedEventId = newId('event');
    const committed = await save(store, runId, 'committed', old);
    await db.models.events.collection.insertOne({
      event_id: committedEventId,
      workflow_run_id: runId,
      workflow_version_id: 'ver_x',
      branch_id: 'br_x',
      seq: 1,
      event_type: 'module_completed',
      step_id: 's',
      module_name: 'keep',
      data: { outputs: { artifact_id: committed.artifact_id }, state_changes: {} },
      timestamp: old,
      correlation_id: 'corr_x',
      command_id: null,
    });
    const recent = await save(store, runId, 'recent', now);

    expect(await store.sweepOrphans(HOUR, now)).toBe(2);
    const left = await db.models.artifacts.find({ workflow_run_id: runId }).lean();
    expect(left.map((a) => a.artifact_id).sort()).toEqual(
      [linked.artifact_id, committed.artifact_id, recent.artifact_id].sort(),
    );
    expect(left.find((a) => a.artifact_id === committed.artifact_id)?.event_id).toBe(
      committedEventId,
    );
    expect(await fileExists(first.file_id)).toBe(false);
    expect(await fileExists(again.file_id)).toBe(false);
    expect(await fileExists(linked.file_id)).toBe(true);
    expect(await fileExists(recent.file_id)).toBe(true);
    // Nothing more to sweep.
    expect(await store.sweepOrphans(HOUR, now)).toBe(0);
  });

  it('links the ids a job or an upload names, and drops previews no artifact needs any more', async () => {
    const store = new ArtifactStore(db.mongo, db.models);
    const runId = newId('run');
    const now = new Date();
    const old = new Date(now.getTime() - 2 * HOUR);
    const named = await save(store, runId, 'image-one', old);
    const orphan = await save(store, runId, 'image-two', old);
    await db.models.events.collection.insertOne({
      event_id: newId('event'),
      workflow_run_id: runId,
      workflow_version_id: 'ver_x',
      branch_id: 'br_x',
      seq: 1,
      event_type: 'module_completed',
      step_id: 's',
      module_name: 'images',
      data: { outputs: { artifact_ids: [named.artifact_id] }, state_changes: {} },
      timestamp: old,
      correlation_id: 'corr_x',
      command_id: null,
    });
    // A preview the gateway made of each (cached by the original's sha256).
    const bucket = new mongo.GridFSBucket(db.mongo.db as mongo.Db, { bucketName: 'previews' });
    for (const artifact of [named, orphan]) {
      const upload = bucket.openUploadStream(`${artifact.sha256}.512.webp`, {
        metadata: { sha256: artifact.sha256, content_type: 'image/webp' },
      });
      upload.end(Buffer.from('webp'));
      await new Promise((resolve) => upload.on('finish', resolve));
    }
    const previewsOf = (sha256: string) =>
      db.mongo.db?.collection('previews.files').countDocuments({ 'metadata.sha256': sha256 });

    expect(await store.sweepOrphans(HOUR, now)).toBe(1);
    const left = await db.models.artifacts.find({ workflow_run_id: runId }).lean();
    expect(left.map((a) => a.artifact_id)).toEqual([named.artifact_id]);
    expect(left[0]?.event_id).not.toBeNull();
    expect(await previewsOf(named.sha256)).toBe(1);
    expect(await previewsOf(orphan.sha256)).toBe(0);
  });
});
