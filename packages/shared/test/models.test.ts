import { describe, expect, it } from 'vitest';
import { newId } from '../src/ids.js';
import { emptySnapshot } from '../src/runs/reducer.js';
import { openBucket } from '../src/models/index.js';
import { useTestDatabases } from '../../../test/support/databases.js';

const db = await useTestDatabases('models');
const now = new Date();

async function expectDuplicateRejected(insert: () => Promise<unknown>) {
  await insert();
  await expect(insert()).rejects.toMatchObject({ code: 11000 });
}

describe('mongoose models on the real server', () => {
  it('users: username and email are unique', async () => {
    const user = (username: string, email: string) => ({
      user_id: newId('user'),
      username,
      email,
      created_at: now,
      updated_at: now,
    });
    await db.models.users.create(user('ada', 'ada@example.com'));
    await expect(db.models.users.create(user('ada', 'other@example.com'))).rejects.toMatchObject({
      code: 11000,
    });
    await expect(db.models.users.create(user('bob', 'ada@example.com'))).rejects.toMatchObject({
      code: 11000,
    });
    expect(await db.models.users.countDocuments()).toBe(1);
  });

  it('access keys: the hash is unique', async () => {
    const key = {
      user_id: newId('user'),
      key_hash: 'a'.repeat(64),
      prefix: 'sk_x',
      created_at: now,
    };
    await db.models.accessKeys.create({ ...key, key_id: newId('accessKey') });
    await expect(
      db.models.accessKeys.create({ ...key, key_id: newId('accessKey') }),
    ).rejects.toMatchObject({
      code: 11000,
    });
  });

  it('templates: the name is unique per user, not globally', async () => {
    const template = (userId: string) => ({
      workflow_template_id: newId('template'),
      user_id: userId,
      workflow_template_name: 'pet_clips',
      created_at: now,
      updated_at: now,
    });
    const alice = newId('user');
    await db.models.templates.create(template(alice));
    await db.models.templates.create(template(newId('user')));
    await expect(db.models.templates.create(template(alice))).rejects.toMatchObject({
      code: 11000,
    });
  });

  it('versions: the content hash is unique per template', async () => {
    const templateId = newId('template');
    // A template is its owner's, and so are its versions.
    const owner = newId('user');
    const version = (hash: string) => ({
      workflow_version_id: newId('version'),
      workflow_template_id: templateId,
      user_id: owner,
      content_hash: hash,
      raw_sha256: 'b'.repeat(64),
      source_type: 'json' as const,
      resolved_workflow: { steps: [], inputs: {} },
      size: 10,
      created_at: now,
    });
    await db.models.versions.create(version('sha256:1'));
    await expect(db.models.versions.create(version('sha256:1'))).rejects.toMatchObject({
      code: 11000,
    });
    await db.models.versions.create(version('sha256:2'));
    const stored = await db.models.versions.findOne({ content_hash: 'sha256:2' }).lean();
    // Empty objects a workflow author wrote survive the round trip.
    expect(stored?.resolved_workflow).toEqual({ steps: [], inputs: {} });
  });

  it('events: a run cannot take the same seq twice, and racing appends leave one winner', async () => {
    const runId = newId('run');
    const event = (seq: number) => ({
      event_id: newId('event'),
      workflow_run_id: runId,
      workflow_version_id: newId('version'),
      branch_id: newId('branch'),
      seq,
      event_type: 'run_created' as const,
      data: {},
      timestamp: now,
      correlation_id: newId('correlation'),
    });
    const results = await Promise.allSettled(
      Array.from({ length: 10 }, () => db.models.events.create(event(1))),
    );
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect(
      results
        .filter((r) => r.status === 'rejected')
        .every((r) => (r.reason as { code?: number }).code === 11000),
    ).toBe(true);
    await db.models.events.create({ ...event(2), workflow_run_id: newId('run') });
    expect(await db.models.events.countDocuments({ workflow_run_id: runId })).toBe(1);
  });

  it('keyword history and option usage: one entry per template, step, module and key', async () => {
    const keyword = {
      workflow_template_id: newId('template'),
      step_id: 's',
      module_name: 'm',
      keyword: 'cinematic',
      total_weight: 1,
      last_used: now,
      expires: now,
      source: 'generated' as const,
    };
    await expectDuplicateRejected(() => db.models.keywordHistory.create(keyword));
    const option = {
      workflow_template_id: newId('template'),
      step_id: 's',
      module_name: 'm',
      option: 'idea:cats',
      created_at: now,
      updated_at: now,
    };
    await expectDuplicateRejected(() => db.models.optionUsage.create(option));
  });

  it('runs, branches and artifacts: their ids are unique', async () => {
    const runId = newId('run');
    const owner = newId('user');
    await expectDuplicateRejected(() =>
      db.models.runs.create({
        workflow_run_id: runId,
        workflow_template_id: newId('template'),
        workflow_template_name: 't',
        user_id: owner,
        initial_version_id: newId('version'),
        current_version_id: newId('version'),
        project_name: 'p',
        status: 'running',
        active_branch_id: newId('branch'),
        last_seq: 0,
        snapshot: emptySnapshot(newId('branch'), newId('version')),
        created_at: now,
        updated_at: now,
      }),
    );
    const branchId = newId('branch');
    await expectDuplicateRejected(() =>
      db.models.branches.create({
        branch_id: branchId,
        workflow_run_id: runId,
        status: 'active',
        created_at: now,
      }),
    );
    const artifactId = newId('artifact');
    await expectDuplicateRejected(() =>
      db.models.artifacts.create({
        artifact_id: artifactId,
        workflow_run_id: runId,
        user_id: newId('user'),
        branch_id: branchId,
        step_id: 's',
        module_name: 'm',
        kind: 'deliverable',
        name: 'a.txt',
        content_type: 'text/plain',
        size: 1,
        sha256: 'c'.repeat(64),
        file_id: 'f',
        created_at: now,
      }),
    );
  });

  it('GridFS buckets store and return bytes unchanged', async () => {
    const bucket = openBucket(db.mongo, 'submissions');
    const bytes = Buffer.from(Array.from({ length: 300_000 }, (_, i) => i % 251));
    const upload = bucket.openUploadStream('bundle.zip');
    await new Promise<void>((resolve, reject) =>
      upload.on('finish', resolve).on('error', reject).end(bytes),
    );
    const chunks: Buffer[] = [];
    for await (const chunk of bucket.openDownloadStream(upload.id)) chunks.push(chunk as Buffer);
    expect(Buffer.concat(chunks).equals(bytes)).toBe(true);
  });
});
