import { describe, expect, it } from 'vitest';
import { newId } from '../src/ids.js';
import { findArtifactOfUser } from '../src/models/lookups.js';
import { useTestDatabases } from '../../../test/support/databases.js';

/**
 * `GET /v1/artifacts/{id}` finds an artifact's run (its shard key) in `artifact_owners`. An
 * artifact stored before that lookup existed has no row there: it is still found, for its owner
 * only, and its row is written so that the next read is routed.
 */
const db = await useTestDatabases('artifact_owners');

describe('an artifact stored before artifact_owners existed', () => {
  it('is found for its owner, gets its lookup row, and stays unknown to anyone else', async () => {
    const owner = newId('user');
    const artifactId = newId('artifact');
    const runId = newId('run');
    await db.models.artifacts.collection.insertOne({
      artifact_id: artifactId,
      workflow_run_id: runId,
      user_id: owner,
      branch_id: newId('branch'),
      event_id: null,
      step_id: 's',
      module_name: 'm',
      kind: 'deliverable',
      name: 'old.txt',
      content_type: 'text/plain',
      size: 3,
      sha256: 'a'.repeat(64),
      file_id: 'f',
      created_at: new Date(),
    });
    expect(await findArtifactOfUser(db.models, newId('user'), artifactId)).toBeNull();
    expect(await db.models.artifactOwners.countDocuments({ artifact_id: artifactId })).toBe(0);

    expect(await findArtifactOfUser(db.models, owner, artifactId)).toMatchObject({
      artifact_id: artifactId,
      workflow_run_id: runId,
    });
    expect(
      await db.models.artifactOwners.findOne({ artifact_id: artifactId }).lean(),
    ).toMatchObject({
      workflow_run_id: runId,
      user_id: owner,
    });
    expect(await findArtifactOfUser(db.models, newId('user'), artifactId)).toBeNull();
    expect(await findArtifactOfUser(db.models, owner, newId('artifact'))).toBeNull();
  });
});
