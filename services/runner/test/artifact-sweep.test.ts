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
});
