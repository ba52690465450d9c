import { createHash } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mongo } from 'mongoose';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { newId, type DeletionView } from '@stepwise/shared';
import { shardPlans, uploadToBucket } from '@stepwise/shared/node';
import { SessionStore } from '../services/gateway/src/people/sessions.js';
import { useTestDatabases } from './support/databases.js';
import { TEST_ADMIN_TOKEN, createTestUser, startTestGateway } from './support/gateway.js';
import { startQuickRecoveryRunner, type ServiceProcess } from './support/processes.js';
import { seedRuns, type SeededRuns } from './support/seeded-runs.js';
import { describeViolation, judge, readCommandLog } from './support/shard-key-check.js';

/**
 * Deleting a user (docs/deletion-and-retention.md, "A user"): 1,000 runs and 50 MB of artifacts,
 * with another user seeded alike. The deleted user's key and session stop working as soon as the
 * request is answered; the runner doing the deletion is SIGKILLed halfway and another one finishes
 * it; afterwards no document or GridFS chunk of theirs is left in any collection the database has,
 * the other user's data is byte for byte what it was, and every command the runners sent carried
 * its shard key.
 */
const db = await useTestDatabases('user_deletion');
const gateway = await startTestGateway(db);
const commandLog = join(mkdtempSync(join(tmpdir(), 'deletion-commands-')), 'commands.jsonl');
const databaseName = new URL(db.mongoUrl).pathname.slice(1);
const sessions = new SessionStore(db.redis, db.queuePrefix, {
  idleMs: 3_600_000,
  maxMs: 7_200_000,
});

const RUNS = 1_000;
/** 1,000 artifacts of 50 KiB: 50 MB of bytes in GridFS for each user. */
const ARTIFACT_BYTES = 50 * 1024;

interface Tenant {
  userId: string;
  key: string;
  seeded: SeededRuns;
  /** GridFS files of theirs in any bucket (hex ids). */
  files: Set<string>;
  sessionSecret: string;
  /** Strings that only documents of theirs contain. */
  markers: string[];
}

async function tenant(name: string, prefix: string): Promise<Tenant> {
  const created = await createTestUser(gateway, name);
  const userId = created.user.user_id;
  const seeded = await seedRuns(db.mongo, db.models, {
    userId,
    runIdPrefix: prefix,
    runs: RUNS,
    artifactBytes: ARTIFACT_BYTES,
    templatesOf: 3,
  });
  const files = new Set(seeded.artifactFiles.values());
  const now = new Date();
  // What else a user owns, in every shape the services write it.
  const submission = await uploadToBucket(
    db.mongo,
    'submissions',
    'submission.zip',
    Buffer.from(`zip of ${name}`),
    {
      user_id: userId,
      source_type: 'zip',
      raw_sha256: 'x',
    },
  );
  const templateId = seeded.templateIds[0] ?? '';
  const resolved = await uploadToBucket(
    db.mongo,
    'resolved_workflows',
    'v.json',
    Buffer.from('{}'),
    {
      workflow_template_id: templateId,
      content_hash: 'sha256:x',
    },
  );
  await db.models.versions.collection.updateOne(
    { user_id: userId, workflow_template_id: templateId },
    { $set: { source_file_id: submission, resolved_workflow_ref: resolved } },
  );
  // A preview of one of their artifacts (cached by its sha256).
  const firstRun = seeded.runIds[0] ?? '';
  const artifact = await db.models.artifacts.findOne({ workflow_run_id: firstRun }).lean();
  const preview = await uploadToBucket(
    db.mongo,
    'previews',
    `${artifact?.sha256}.512.webp`,
    Buffer.from('webp'),
    {
      sha256: artifact?.sha256,
      content_type: 'image/webp',
    },
  );
  for (const id of [submission, resolved, preview]) files.add(id);
  const subscription = newId('webhook');
  await db.models.webhookSubscriptions.collection.insertOne({
    subscription_id: subscription,
    user_id: userId,
    url: `https://hooks.example.com/${name}`,
    events: ['run.completed'],
    templates: null,
    format: 'standard',
    description: '',
    secret: 'whsec_x',
    status: 'enabled',
    disabled_reason: null,
    disabled_at: null,
    failing_since: null,
    created_at: now,
    updated_at: now,
  });
  await db.models.webhookDeliveries.collection.insertMany(
    seeded.runIds.slice(0, 20).map((runId, seq) => ({
      delivery_id: newId('delivery'),
      subscription_id: subscription,
      user_id: userId,
      workflow_run_id: runId,
      event_id: newId('event'),
      seq,
      type: 'run.completed',
      event_at: now,
      body: '{}',
      status: 'delivered',
      attempts: [],
      created_at: now,
      next_attempt_at: null,
      sending_until: null,
      delivered_at: now,
      failure_reason: null,
    })),
  );
  const migrationId = newId('migration');
  await db.models.migrations.collection.insertOne({
    migration_id: migrationId,
    user_id: userId,
    workflow_template_id: templateId,
    workflow_template_name: 'seeded',
    to_version_id: newId('version'),
    policy: 'restart_at_earliest_change',
    filter: {},
    reuse_answers: false,
    status: 'done',
    matched: 5,
    correlation_id: newId('correlation'),
    actor: { kind: 'key' },
    created_at: now,
    updated_at: now,
    finished_at: now,
  });
  await db.models.migrationRuns.collection.insertMany(
    seeded.runIds.slice(0, 5).map((runId, position) => ({
      migration_id: migrationId,
      position,
      workflow_run_id: runId,
      user_id: userId,
      from_version_id: newId('version'),
      outcome: 'migrated',
    })),
  );
  await db.models.requestKeys.collection.insertOne({
    client_request_key: `${userId}:key-1`,
    user_id: userId,
    workflow_run_id: firstRun,
    command_id: newId('command'),
    created_at: now,
  });
  await db.models.optionUsage.collection.insertOne({
    workflow_template_id: templateId,
    step_id: 'pick',
    module_name: 'choose',
    option: 'a',
    created_at: now,
    updated_at: now,
  });
  await db.models.passwords.collection.insertOne({
    user_id: userId,
    hash: '$argon2id$x',
    changed_at: now,
  });
  await db.models.invitations.collection.insertOne({
    invitation_id: newId('invitation'),
    user_id: userId,
    token_hash: createHash('sha256').update(name).digest('hex'),
    created_at: now,
    expires_at: now,
    used_at: null,
  });
  const policy = await gateway.request('/v1/me/retention', {
    method: 'PUT',
    token: created.api_key,
    json: {
      delete_finished_runs_after_days: 365,
      export_before_delete: false,
      delete_artifacts_after_days: null,
    },
  });
  expect(policy.status).toBe(200);
  // Collections other parts of the system own, by their plans: a document of the user's in each.
  for (const name of ['user_secrets', 'user_llm_prices'])
    if (name in shardPlans)
      await db.mongo
        .collection(name)
        .insertOne({ user_id: userId, name: 'SEEDED', updated_at: now });
  const { secret } = await sessions.create(userId);
  return {
    userId,
    key: created.api_key,
    seeded,
    files,
    sessionSecret: secret,
    markers: [userId, `run_${prefix}`, ...seeded.templateIds, subscription, migrationId],
  };
}

const alice = await tenant('alice', 'a11ce');
const bob = await tenant('bob', 'b0b00');

const runners: ServiceProcess[] = [];
afterAll(() => {
  for (const runner of runners) if (runner.child.exitCode === null) runner.child.kill('SIGKILL');
});
const startRunner = async () => {
  const runner = await startQuickRecoveryRunner(db, {
    DELETION_BATCH_SIZE: '20',
    MONGO_COMMAND_LOG: commandLog,
  });
  runners.push(runner);
  return runner;
};

function isOf(who: Tenant, collection: string, document: Record<string, unknown>): boolean {
  if (collection.endsWith('.chunks')) return who.files.has(String(document['files_id']));
  if (collection.endsWith('.files') && who.files.has(String(document['_id']))) return true;
  const text = JSON.stringify(document);
  return who.markers.some((marker) => text.includes(marker));
}

/**
 * Every collection the database has (listed, not named here): the documents of `who`, and a
 * digest of the bytes of everyone else's (BSON, in _id order), by collection.
 */
async function survey(
  who: Tenant,
  skip: (collection: string, document: Record<string, unknown>) => boolean,
) {
  const database = db.mongo.db;
  if (!database) throw new Error('not connected');
  const theirs: Record<string, number> = {};
  const others: Record<string, string> = {};
  for (const { name } of await database.listCollections().toArray()) {
    const hash = createHash('sha256');
    for await (const document of database.collection(name).find().sort({ _id: 1 })) {
      if (skip(name, document)) continue;
      if (isOf(who, name, document)) theirs[name] = (theirs[name] ?? 0) + 1;
      else hash.update(mongo.BSON.serialize(document));
    }
    others[name] = hash.digest('hex');
  }
  return { theirs, others };
}

async function deletionRecord(deletionId: string): Promise<DeletionView> {
  const reply = await gateway.request(`/v1/admin/deletions/${deletionId}`, {
    token: TEST_ADMIN_TOKEN,
  });
  expect(reply.status).toBe(200);
  return (await reply.json()) as DeletionView;
}

describe('deleting a user with 1,000 runs and 50 MB of artifacts', () => {
  it('shuts them out at once, survives a killed runner, and leaves nothing of theirs', async () => {
    const keep = (collection: string) => collection === 'deletions';
    const before = await survey(alice, keep);
    expect(before.theirs['workflow_runs']).toBe(RUNS);
    expect(before.theirs['artifacts.chunks']).toBeGreaterThanOrEqual(RUNS);
    expect((await gateway.request('/v1/runs', { token: alice.key })).status).toBe(200);

    const first = await startRunner();
    const reply = await gateway.request(`/v1/admin/users/${alice.userId}`, {
      method: 'DELETE',
      token: TEST_ADMIN_TOKEN,
    });
    expect(reply.status).toBe(202);
    const { deletion } = (await reply.json()) as { deletion: DeletionView };
    expect(deletion.target).toEqual({ kind: 'user', id: alice.userId });
    // Refused from the answer on: the key, the session, and the user's reads of the deletion.
    expect((await gateway.request('/v1/runs', { token: alice.key })).status).toBe(401);
    expect(await sessions.find(alice.sessionSecret)).toBeNull();
    expect((await gateway.request('/v1/runs', { token: bob.key })).status).toBe(200);
    expect(
      (await gateway.request(`/v1/deletions/${deletion.deletion_id}`, { token: bob.key })).status,
    ).toBe(404);

    // Killed once part of the runs are gone.
    await vi.waitFor(
      async () => {
        const record = await db.models.deletions
          .findOne({ deletion_id: deletion.deletion_id })
          .lean();
        expect(record?.runs_deleted ?? 0).toBeGreaterThanOrEqual(100);
      },
      { timeout: 60_000, interval: 10 },
    );
    first.child.kill('SIGKILL');
    await first.exited;
    const halfway = await deletionRecord(deletion.deletion_id);
    expect(halfway.status).toBe('running');
    expect(halfway.runs_deleted).toBeLessThan(RUNS);
    expect(await db.models.runs.countDocuments({ user_id: alice.userId })).toBeGreaterThan(0);

    await startRunner();
    const done = await vi.waitFor(
      async () => {
        const record = await deletionRecord(deletion.deletion_id);
        if (record.status !== 'done') throw new Error(`deletion is ${record.status}`);
        return record;
      },
      { timeout: 90_000, interval: 200 },
    );
    // Counted as each attempt saw them: the batch the killed runner was in may go uncounted.
    expect(done.runs_deleted).toBeLessThanOrEqual(RUNS);
    expect(done.runs_deleted).toBeGreaterThan(RUNS - 20);
    expect(done.counts['users']).toBe(1);

    // Nothing of Alice's anywhere but the deletion's own receipt (the admin's); Bob's bytes as
    // they were.
    const after = await survey(alice, keep);
    expect(after.theirs).toEqual({});
    expect(after.others).toEqual(before.others);
    const receipts = await db.models.deletions.find({}).lean();
    expect(receipts.map((receipt) => receipt.deletion_id)).toEqual([deletion.deletion_id]);
    expect(receipts[0]?.user_id).toBeNull();
    // No chunk without its file either.
    const database = db.mongo.db;
    for (const bucket of ['artifacts', 'previews', 'submissions', 'resolved_workflows']) {
      const fileIds = new Set(
        (await database?.collection(`${bucket}.files`).find().toArray())?.map((file) =>
          String(file._id),
        ),
      );
      const chunks =
        (await database
          ?.collection(`${bucket}.chunks`)
          .find({}, { projection: { files_id: 1 } })
          .toArray()) ?? [];
      expect(chunks.filter((chunk) => !fileIds.has(String(chunk['files_id'])))).toEqual([]);
    }
    expect(await sessions.find(bob.sessionSecret)).not.toBeNull();
    expect((await gateway.request('/v1/runs', { token: alice.key })).status).toBe(401);

    // Every command the runners sent routed by its shard key (or a declared sweep).
    const lines = readCommandLog(commandLog).filter((line) => line.databaseName === databaseName);
    expect(lines.filter((line) => line.command === 'delete').length).toBeGreaterThan(300);
    const violations = lines.flatMap((line) => {
      const verdict = judge(line);
      return verdict.kind === 'violation' ? [describeViolation(line, verdict.problem)] : [];
    });
    expect([...new Set(violations)]).toEqual([]);
  }, 180_000);
});
