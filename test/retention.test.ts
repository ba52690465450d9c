import { createHash } from 'node:crypto';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { RetentionPolicy, RetentionReport } from '@stepwise/shared';
import { JobQueue, uploadToBucket } from '@stepwise/shared/node';
import { applyRetention } from '../services/runner/src/deletions/retention.js';
import {
  createDeletionDependencies,
  createRetentionDependencies,
  exportNotAvailable,
} from '../services/runner/src/deletions/deletion-wiring.js';
import type { ExportRunToFile } from '../services/runner/src/deletions/retention.js';
import { useTestDatabases } from './support/databases.js';
import { createTestUser, startTestGateway } from './support/gateway.js';
import { seedRuns, type SeededRuns } from './support/seeded-runs.js';

/**
 * Retention (docs/deletion-and-retention.md, "Retention") with a clock the test holds: runs that
 * finished at known times, a user's own policy, the deployment's default (with and without a
 * working export), and a policy that keeps everything; exactly the runs and artifacts the policies
 * name go, and the reports say so.
 */
const db = await useTestDatabases('retention');
const deploymentDefault: RetentionPolicy = {
  delete_finished_runs_after_days: 10,
  export_before_delete: true,
  delete_artifacts_after_days: null,
};
const gateway = await startTestGateway(db, { settings: { retentionDefaults: deploymentDefault } });
const runQueue = new JobQueue('runCommand', db.redis, db.queuePrefix);
const webhookQueue = new JobQueue('webhookDelivery', db.redis, db.queuePrefix);
afterAll(async () => {
  await runQueue.close();
  await webhookQueue.close();
});

const deletion = createDeletionDependencies({
  mongo: db.mongo,
  models: db.models,
  redis: db.redis,
  runQueue,
  webhookQueue,
  config: { QUEUE_PREFIX: db.queuePrefix, DELETION_BATCH_SIZE: 3 },
});
const exportDir = await mkdtemp(join(tmpdir(), 'retention-exports-'));
/** An export that writes the run's id to a file, as a stand-in for the run archive. */
const writingExport: ExportRunToFile = async (runId, userId) => {
  const bytes = Buffer.from(JSON.stringify({ runId, userId }));
  const path = join(exportDir, `${runId}.json`);
  await writeFile(path, bytes);
  return { path, sha256: createHash('sha256').update(bytes).digest('hex'), bytes: bytes.length };
};

const DAY = 24 * 3_600_000;
const now = new Date('2031-03-01T12:00:00.000Z');
const ago = (days: number) => new Date(now.getTime() - days * DAY);
/** Two runs finished 40, 20 and 5 days before `now`, in that order. */
const ages = [40, 40, 20, 20, 5, 5];

async function userWithRuns(name: string, prefix: string) {
  const user = await createTestUser(gateway, name);
  const seeded = await seedRuns(db.mongo, db.models, {
    userId: user.user.user_id,
    runIdPrefix: prefix,
    runs: ages.length,
    artifactBytes: 2_000,
    finishedAt: (index) => ago(ages[index] ?? 0),
    templatesOf: 1,
  });
  return { key: user.api_key, userId: user.user.user_id, seeded };
}

const alice = await userWithRuns('alice', 'a11ce');
const bob = await userWithRuns('bob', 'b0b00');
const dave = await userWithRuns('dave', 'da7e0');
// A run that still waits, finished long ago by its updated_at: not finished, so never retained.
const aliceWaiting = await seedRuns(db.mongo, db.models, {
  userId: alice.userId,
  runIdPrefix: 'a11ce',
  runs: 1,
  artifactBytes: 1_000,
  status: 'awaiting_input',
  finishedAt: () => ago(400),
  templatesOf: 1,
});

/**
 * Previews are cached by sha256 across users: one of the bytes of an artifact of Alice's that
 * retention deletes, and one of bytes Dave has too (his artifact, which stays, has the same hash).
 */
async function previewOf(seeded: SeededRuns, index: number): Promise<string> {
  const artifact = await db.models.artifacts
    .findOne({ workflow_run_id: seeded.runIds[index] ?? '' })
    .lean();
  const sha256 = artifact?.sha256 ?? '';
  await uploadToBucket(db.mongo, 'previews', `${sha256}.512.webp`, Buffer.from('webp'), {
    sha256,
    content_type: 'image/webp',
  });
  return sha256;
}
const onlyAlices = await previewOf(alice.seeded, 0);
const shared = await previewOf(alice.seeded, 2);
await db.models.artifacts.collection.updateOne(
  { workflow_run_id: dave.seeded.runIds[0] ?? '' },
  { $set: { sha256: shared } },
);
const previewsOf = (sha256: string) =>
  db.mongo.db?.collection('previews.files').countDocuments({ 'metadata.sha256': sha256 });

const request = (key: string, path: string, init: RequestInit & { json?: unknown } = {}) =>
  gateway.request(path, { ...init, token: key });

async function putPolicy(key: string, policy: RetentionPolicy) {
  const reply = await request(key, '/v1/me/retention', { method: 'PUT', json: policy });
  expect(reply.status).toBe(200);
}

async function reportsOf(key: string): Promise<RetentionReport[]> {
  const reply = await request(key, '/v1/me/retention/reports');
  expect(reply.status).toBe(200);
  return ((await reply.json()) as { items: RetentionReport[] }).items;
}

async function runsLeft(seeded: SeededRuns): Promise<string[]> {
  const runs = await db.models.runs
    .find({ workflow_run_id: { $in: seeded.runIds } })
    .select({ workflow_run_id: 1 })
    .lean();
  return runs.map((run) => run.workflow_run_id).sort();
}

async function artifactsLeft(seeded: SeededRuns): Promise<string[]> {
  const artifacts = await db.models.artifacts
    .find({ workflow_run_id: { $in: seeded.runIds } })
    .select({ workflow_run_id: 1 })
    .lean();
  return artifacts.map((artifact) => artifact.workflow_run_id).sort();
}

async function filesLeft(seeded: SeededRuns): Promise<number> {
  const ids = [...seeded.artifactFiles.values()];
  const files = await db.models.artifacts.db
    .collection('artifacts.files')
    .find({ 'metadata.workflow_run_id': { $in: seeded.runIds } })
    .toArray();
  expect(files.every((file) => ids.includes(String(file._id)))).toBe(true);
  return files.length;
}

const pick = (seeded: SeededRuns, ...indexes: number[]) =>
  indexes.map((index) => seeded.runIds[index] ?? '').sort();

describe('the retention policy routes', () => {
  it('answer the deployment default until the user sets one, and refuse a bad one unchanged', async () => {
    const before = await request(bob.key, '/v1/me/retention');
    expect(await before.json()).toEqual({ policy: deploymentDefault, source: 'default' });
    const refused = await request(bob.key, '/v1/me/retention', {
      method: 'PUT',
      json: { ...deploymentDefault, delete_finished_runs_after_days: 0 },
    });
    expect(refused.status).toBe(400);
    expect(await db.models.retentionPolicies.countDocuments({ user_id: bob.userId })).toBe(0);
    await putPolicy(alice.key, {
      delete_finished_runs_after_days: 30,
      export_before_delete: false,
      delete_artifacts_after_days: 7,
    });
    await putPolicy(dave.key, {
      delete_finished_runs_after_days: null,
      export_before_delete: false,
      delete_artifacts_after_days: null,
    });
    const own = await request(alice.key, '/v1/me/retention');
    expect(((await own.json()) as { source: string }).source).toBe('user');
  });
});

describe('applying retention at a given time', () => {
  it('deletes exactly what each policy names, and keeps runs it could not export', async () => {
    const reports = await applyRetention(
      createRetentionDependencies(deletion, deploymentDefault, exportNotAvailable),
      now,
    );
    // Alice's own policy: runs finished over 30 days ago go; artifacts of those over 7 days.
    expect(await runsLeft(alice.seeded)).toEqual(pick(alice.seeded, 2, 3, 4, 5));
    expect(await artifactsLeft(alice.seeded)).toEqual(pick(alice.seeded, 4, 5));
    expect(await filesLeft(alice.seeded)).toBe(2);
    expect(await runsLeft(aliceWaiting)).toEqual(aliceWaiting.runIds);
    // The preview only Alice's deleted artifact had is gone; the one Dave's artifact shares stays.
    expect(await previewsOf(onlyAlices)).toBe(0);
    expect(await previewsOf(shared)).toBe(1);
    expect(await artifactsLeft(aliceWaiting)).toEqual(aliceWaiting.runIds);
    // Nothing of a deleted run is left in its own collections.
    const deleted = pick(alice.seeded, 0, 1);
    for (const model of [
      db.models.events.collection,
      db.models.branches.collection,
      db.models.tokens.collection,
    ])
      expect(await model.countDocuments({ workflow_run_id: { $in: deleted } })).toBe(0);
    // The runs that stay keep their log.
    expect(
      await db.models.events.countDocuments({ workflow_run_id: { $in: pick(alice.seeded, 2, 3) } }),
    ).toBe(6);
    // Bob's default policy exports first, and export is not available: nothing of his goes.
    expect(await runsLeft(bob.seeded)).toEqual([...bob.seeded.runIds].sort());
    expect(await filesLeft(bob.seeded)).toBe(6);
    // Dave keeps everything.
    expect(await runsLeft(dave.seeded)).toEqual([...dave.seeded.runIds].sort());
    expect(await artifactsLeft(dave.seeded)).toHaveLength(6);
    expect(reports.map((report) => report.user_id).sort()).toEqual(
      [alice.userId, bob.userId].sort(),
    );

    const [aliceReport] = await reportsOf(alice.key);
    expect(aliceReport?.ran_at).toBe(now.toISOString());
    expect(aliceReport?.policy_source).toBe('user');
    expect([...(aliceReport?.runs_deleted ?? [])].sort()).toEqual(deleted);
    expect(aliceReport?.artifacts_deleted.map((a) => a.workflow_run_id).sort()).toEqual(
      pick(alice.seeded, 2, 3),
    );
    const [bobReport] = await reportsOf(bob.key);
    expect(bobReport?.policy_source).toBe('default');
    expect(bobReport?.runs_deleted).toEqual([]);
    expect(bobReport?.runs_skipped.map((skip) => skip.workflow_run_id).sort()).toEqual(
      pick(bob.seeded, 0, 1, 2, 3),
    );
    expect(bobReport?.runs_skipped[0]?.reason).toBe('export failed: export not available');
    expect(await reportsOf(dave.key)).toEqual([]);
  });

  it('exports, then deletes, once export works; a later pass finds nothing more to do', async () => {
    await applyRetention(
      createRetentionDependencies(deletion, deploymentDefault, writingExport),
      now,
    );
    expect(await runsLeft(bob.seeded)).toEqual(pick(bob.seeded, 4, 5));
    expect(await filesLeft(bob.seeded)).toBe(2);
    const [latest] = await reportsOf(bob.key);
    expect([...(latest?.runs_deleted ?? [])].sort()).toEqual(pick(bob.seeded, 0, 1, 2, 3));
    expect(latest?.runs_exported).toHaveLength(4);
    for (const exported of latest?.runs_exported ?? []) {
      const bytes = await readFile(exported.path);
      expect(createHash('sha256').update(bytes).digest('hex')).toBe(exported.sha256);
      expect(JSON.parse(bytes.toString('utf8'))).toEqual({
        runId: exported.workflow_run_id,
        userId: bob.userId,
      });
    }
    // Alice's runs and artifacts are as the first pass left them; a pass with nothing to do
    // writes no report.
    const aliceReports = (await reportsOf(alice.key)).length;
    expect(await runsLeft(alice.seeded)).toEqual(pick(alice.seeded, 2, 3, 4, 5));
    const again = await applyRetention(
      createRetentionDependencies(deletion, deploymentDefault, writingExport),
      now,
    );
    expect(again).toEqual([]);
    expect(await reportsOf(alice.key)).toHaveLength(aliceReports);
  });

  it('moves with the clock: eleven days later, more of Alice’s runs are old enough', async () => {
    await applyRetention(
      createRetentionDependencies(deletion, deploymentDefault, writingExport),
      new Date(now.getTime() + 11 * DAY),
    );
    expect(await runsLeft(alice.seeded)).toEqual(pick(alice.seeded, 4, 5));
    expect(await artifactsLeft(alice.seeded)).toEqual([]);
    expect(await runsLeft(dave.seeded)).toEqual([...dave.seeded.runIds].sort());
  });
});
