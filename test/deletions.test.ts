import { Queue } from 'bullmq';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { queueKeyPrefix, type DeletionView, type RunView } from '@stepwise/shared';
import { useTestDatabases } from './support/databases.js';
import { createTestUser, startTestGateway, startTestResolver } from './support/gateway.js';
import { startTestRunner } from './support/runner.js';
import { RunsClient } from './support/runs.js';
import { snapshotDatabase } from './support/snapshots.js';
import { chatCompletion, startFakeProvider } from './support/fake-provider.mjs';
import { outboxWritten, subscribe } from './support/webhook-receiver.js';

/**
 * Deleting runs and templates through the API (docs/deletion-and-retention.md): a real run with an
 * artifact, usage, a pending deadline, an inbox entry and a queued webhook delivery is deleted, and
 * nothing of it is left in any collection, GridFS or its queues, while another user's identical
 * run stays exactly as it was; a command racing the deletion resurrects nothing; asking twice is
 * one deletion; a template goes only with its name confirmed.
 */
const provider = await startFakeProvider({
  respond: (call) => (call.kind === 'chat' ? { body: chatCompletion('a draft') } : undefined),
});
afterAll(() => provider.close());

const db = await useTestDatabases('deletions');
const gateway = await startTestGateway(db, { settings: { outboundAllowedHosts: ['127.0.0.1'] } });
await startTestResolver(db);
// Deliveries stay queued (nothing is sent), so the deletion must take their jobs away too. A
// short lease: a drain that found another's lease schedules a recovery for its end, which then
// comes soon (and finds the run gone) instead of in 30 s.
await startTestRunner(db, {
  llm: { baseUrl: provider.baseUrl },
  deliverWebhooks: false,
  leaseMs: 2_000,
});
const queues = {
  runs: new Queue('runs', { connection: db.redis, prefix: queueKeyPrefix(db.queuePrefix, 'runs') }),
  webhooks: new Queue('webhooks', {
    connection: db.redis,
    prefix: queueKeyPrefix(db.queuePrefix, 'webhooks'),
  }),
  deletions: new Queue('deletions', {
    connection: db.redis,
    prefix: queueKeyPrefix(db.queuePrefix, 'deletions'),
  }),
};
afterAll(() =>
  Promise.all([queues.runs.close(), queues.webhooks.close(), queues.deletions.close()]),
);

const WAIT = { timeout: 20_000, interval: 50 };

const workflow = (id: string) => ({
  workflow_id: id,
  initial_state: { topic: 'cats' },
  steps: [
    {
      step_id: 'work',
      modules: [
        {
          module_id: 'api.llm',
          name: 'draft',
          inputs: { model: 'gpt-4o-mini', prompt: 'A clip about {{ state.topic }}.' },
          outputs_to_state: { text: 'draft' },
        },
        {
          module_id: 'artifact.save',
          name: 'keep',
          inputs: { name: 'draft.txt', content: '{{ state.draft }}' },
        },
      ],
    },
    {
      step_id: 'review',
      modules: [
        {
          module_id: 'user.confirm',
          name: 'approve',
          inputs: { message: 'Publish?' },
          timeout: 3_600_000,
          on_timeout: 'fail',
        },
      ],
    },
  ],
});

async function newUser(name: string) {
  const created = await createTestUser(gateway, name);
  const client = new RunsClient(gateway, created.api_key);
  await client.submitJson(workflow('clips'));
  await subscribe(client, {
    url: `http://127.0.0.1:9/${name}`,
    events: ['interaction.requested'],
    format: 'standard',
  });
  return { client, userId: created.user.user_id };
}

/** A run waiting at its question, its notifications written. */
async function waitingRun(client: RunsClient): Promise<RunView> {
  const { status, run } = await client.start({ workflow_template_name: 'clips' }, '?wait_ms=15000');
  expect(status, JSON.stringify(run)).toBe(201);
  expect(run.status).toBe('awaiting_input');
  await outboxWritten(db, run.workflow_run_id);
  return run;
}

const alice = await newUser('alice');
const bob = await newUser('bob');

async function deletionOf(client: RunsClient, deletionId: string): Promise<DeletionView> {
  const reply = await client.request(`/v1/deletions/${deletionId}`);
  expect(reply.status).toBe(200);
  return (await reply.json()) as DeletionView;
}

async function finished(client: RunsClient, deletionId: string): Promise<DeletionView> {
  return vi.waitFor(async () => {
    const deletion = await deletionOf(client, deletionId);
    if (deletion.status !== 'done') throw new Error(`deletion is ${deletion.status}`);
    return deletion;
  }, WAIT);
}

async function deleteRun(client: RunsClient, runId: string): Promise<DeletionView> {
  const reply = await client.request(`/v1/runs/${runId}`, { method: 'DELETE' });
  const body = (await reply.json()) as { deletion: DeletionView };
  expect(reply.status, JSON.stringify(body)).toBe(202);
  return body.deletion;
}

/** Every document in the database that names `id`, by collection (the deletions' own aside). */
async function documentsNaming(id: string): Promise<Record<string, unknown[]>> {
  const found: Record<string, unknown[]> = {};
  for (const [name, documents] of Object.entries(await snapshotDatabase(db.mongo))) {
    if (name === 'deletions') continue;
    const naming = documents.filter((document) => JSON.stringify(document).includes(id));
    if (naming.length > 0) found[name] = naming;
  }
  return found;
}

async function chunksOf(fileIds: readonly string[]): Promise<number> {
  const mongo = db.mongo.db;
  if (!mongo) throw new Error('not connected');
  const files = await mongo
    .collection('artifacts.chunks')
    .find({}, { projection: { files_id: 1 } })
    .toArray();
  return files.filter((chunk) => fileIds.includes(String(chunk['files_id']))).length;
}

/** The run's jobs in Redis: its deadline timer and its webhook deliveries. */
async function queuedJobsOf(runId: string): Promise<string[]> {
  const jobs = [
    ...(await queues.runs.getJobs(['delayed', 'waiting', 'prioritized'])),
    ...(await queues.webhooks.getJobs(['delayed', 'waiting', 'prioritized'])),
  ];
  const deliveries = await db.models.webhookDeliveries
    .find({ workflow_run_id: runId })
    .select({ delivery_id: 1 })
    .lean();
  const ids = new Set(deliveries.map((delivery) => delivery.delivery_id));
  return jobs
    .filter(
      (job) =>
        (job.data as { workflow_run_id?: string }).workflow_run_id === runId ||
        ids.has((job.data as { delivery_id?: string }).delivery_id ?? ''),
    )
    .map((job) => job.id ?? '');
}

describe('deleting a run', () => {
  it('leaves nothing of it anywhere, and another user’s identical run exactly as it was', async () => {
    const mine = await waitingRun(alice.client);
    const theirs = await waitingRun(bob.client);
    const runId = mine.workflow_run_id;
    const artifacts = await db.models.artifacts.find({ workflow_run_id: runId }).lean();
    expect(artifacts).toHaveLength(1);
    expect(await db.models.tokens.countDocuments({ workflow_run_id: runId })).toBe(1);
    expect(await db.models.webhookDeliveries.countDocuments({ workflow_run_id: runId })).toBe(1);
    const inbox = await alice.client.request('/v1/me/interactions');
    expect(((await inbox.json()) as { items: unknown[] }).items).toHaveLength(1);
    const jobsBefore = await queuedJobsOf(runId);
    // The deadline's timer and the delivery's job.
    expect(jobsBefore.length).toBeGreaterThanOrEqual(2);
    const theirJobs = await queuedJobsOf(theirs.workflow_run_id);
    const theirsBefore = await documentsNaming(theirs.workflow_run_id);

    const deletion = await deleteRun(alice.client, runId);
    expect(deletion).toMatchObject({ target: { kind: 'run', id: runId } });
    // Gone from the API at once, as a run that never existed.
    expect((await alice.client.request(`/v1/runs/${runId}`)).status).toBe(404);
    expect((await alice.client.request(`/v1/runs/${runId}/events`)).status).toBe(404);
    const done = await finished(alice.client, deletion.deletion_id);
    expect(done.runs_deleted).toBe(1);
    expect(done.counts).toMatchObject({ workflow_runs: 1, artifacts: 1, 'files:artifacts': 1 });
    expect(done.counts['events']).toBeGreaterThan(0);

    expect(await documentsNaming(runId)).toEqual({});
    expect(await chunksOf(artifacts.map((artifact) => artifact.file_id))).toBe(0);
    expect(await queuedJobsOf(runId)).toEqual([]);
    const inboxAfter = await alice.client.request('/v1/me/interactions');
    expect(((await inboxAfter.json()) as { items: unknown[] }).items).toEqual([]);
    // Bob's run: every document as it was, and its jobs still there.
    expect(await documentsNaming(theirs.workflow_run_id)).toEqual(theirsBefore);
    expect(await queuedJobsOf(theirs.workflow_run_id)).toEqual(theirJobs);
    expect((await bob.client.get(theirs.workflow_run_id)).status).toBe('awaiting_input');
  });

  it('hides the run and its artifacts the moment it is asked for, before a runner gets to them', async () => {
    const run = await waitingRun(alice.client);
    const listed = await alice.client.request(`/v1/runs/${run.workflow_run_id}/artifacts`);
    const [artifact] = ((await listed.json()) as { items: { artifact_id: string }[] }).items;
    expect(artifact).toBeDefined();
    const artifactId = artifact?.artifact_id ?? '';
    // No runner takes the deletion while the queue is paused: what is hidden is the request's
    // doing, not the deletion's.
    await queues.deletions.pause();
    try {
      const deletion = await deleteRun(alice.client, run.workflow_run_id);
      expect(await db.models.artifacts.countDocuments({ artifact_id: artifactId })).toBe(1);
      for (const path of [
        `/v1/runs/${run.workflow_run_id}`,
        `/v1/artifacts/${artifactId}`,
        `/v1/artifacts/${artifactId}/content`,
      ])
        expect((await alice.client.request(path)).status, path).toBe(404);
      expect((await deletionOf(alice.client, deletion.deletion_id)).status).toBe('queued');
      await queues.deletions.resume();
      await finished(alice.client, deletion.deletion_id);
      expect(await db.models.artifacts.countDocuments({ artifact_id: artifactId })).toBe(0);
    } finally {
      await queues.deletions.resume();
    }
  });

  it('is one deletion however often it is asked for, and another user cannot see or ask', async () => {
    const run = await waitingRun(alice.client);
    const first = await deleteRun(alice.client, run.workflow_run_id);
    expect((await bob.client.request(`/v1/deletions/${first.deletion_id}`)).status).toBe(404);
    const second = await deleteRun(alice.client, run.workflow_run_id);
    expect(second.deletion_id).toBe(first.deletion_id);
    await finished(alice.client, first.deletion_id);
    const third = await deleteRun(alice.client, run.workflow_run_id);
    expect(third).toMatchObject({ deletion_id: first.deletion_id, status: 'done' });
    const listed = await alice.client.request('/v1/deletions?limit=100');
    const ids = ((await listed.json()) as { items: DeletionView[] }).items.map(
      (item) => item.deletion_id,
    );
    expect(ids).toContain(first.deletion_id);
    expect(new Set(ids).size).toBe(ids.length);
    const bobs = await bob.client.request('/v1/deletions');
    expect(((await bobs.json()) as { items: unknown[] }).items).toEqual([]);
    const theirs = await waitingRun(bob.client);
    const refused = await alice.client.request(`/v1/runs/${theirs.workflow_run_id}`, {
      method: 'DELETE',
    });
    expect(refused.status).toBe(404);
    expect((await bob.client.get(theirs.workflow_run_id)).status).toBe('awaiting_input');
  });

  it('resurrects nothing when commands race the deletion', async () => {
    const run = await waitingRun(alice.client);
    const runId = run.workflow_run_id;
    const interaction = run.pending_interaction?.interaction_id ?? '';
    const racing = [
      alice.client.request(`/v1/runs/${runId}/cancel?wait_ms=2000`, { method: 'POST' }),
      alice.client.request(`/v1/runs/${runId}/interactions/${interaction}?wait_ms=2000`, {
        method: 'POST',
        json: { response: { confirmed: true } },
      }),
    ];
    const deletion = await deleteRun(alice.client, runId);
    racing.push(alice.client.request(`/v1/runs/${runId}/cancel`, { method: 'POST' }));
    for (const reply of await Promise.all(racing)) expect(reply.status).toBeLessThan(500);
    await finished(alice.client, deletion.deletion_id);
    // Commands sent after it is gone are refused as for a run that never existed.
    expect(
      (await alice.client.request(`/v1/runs/${runId}/cancel`, { method: 'POST' })).status,
    ).toBe(404);
    await vi.waitFor(async () => {
      // A drain the race queued finds the run gone; anything it left would show here.
      expect(await queuedJobsOf(runId)).toEqual([]);
    }, WAIT);
    expect(await documentsNaming(runId)).toEqual({});
  });
});

describe('deleting a template', () => {
  it('is refused without its name confirmed, and changes nothing', async () => {
    const before = await snapshotDatabase(db.mongo);
    for (const query of ['', '?confirm=other', '?confirm=CLIPS']) {
      const reply = await alice.client.request(`/v1/templates/clips${query}`, {
        method: 'DELETE',
      });
      expect(reply.status).toBe(400);
      const body = (await reply.json()) as {
        error: { code: string; message: string; details?: { path: string }[] };
      };
      expect(body.error.code).toBe('BAD_REQUEST');
      expect(body.error.details?.map((detail) => detail.path)).toEqual(['query.confirm']);
      // Without the parameter the schema refuses it; with another name, the message says which.
      if (query !== '') expect(body.error.message).toContain('confirm=clips');
    }
    expect(await snapshotDatabase(db.mongo)).toEqual(before);
    const unknown = await alice.client.request('/v1/templates/nothing?confirm=nothing', {
      method: 'DELETE',
    });
    expect(unknown.status).toBe(404);
  });

  it('deletes its versions and every run of it, and nothing of another user’s template', async () => {
    const runs = [await waitingRun(alice.client), await waitingRun(alice.client)];
    const template = await db.models.templates
      .findOne({ user_id: alice.userId, workflow_template_name: 'clips' })
      .lean();
    const templateId = template?.workflow_template_id ?? '';
    const theirs = await waitingRun(bob.client);
    const bobsTemplate = await bob.client.request('/v1/templates/clips');
    expect(bobsTemplate.status).toBe(200);

    const reply = await alice.client.request('/v1/templates/clips?confirm=clips', {
      method: 'DELETE',
    });
    expect(reply.status).toBe(202);
    const { deletion } = (await reply.json()) as { deletion: DeletionView };
    expect(deletion.target).toEqual({ kind: 'template', id: templateId, name: 'clips' });
    const done = await finished(alice.client, deletion.deletion_id);
    expect(done.runs_deleted).toBe(runs.length);
    expect((await alice.client.request('/v1/templates/clips')).status).toBe(404);
    for (const run of runs)
      expect((await alice.client.request(`/v1/runs/${run.workflow_run_id}`)).status).toBe(404);
    expect(await documentsNaming(templateId)).toEqual({});
    expect(await db.models.versions.countDocuments({ user_id: alice.userId })).toBe(0);
    expect(await db.models.runs.countDocuments({ user_id: alice.userId })).toBe(0);
    // Bob's template, its versions and runs are all there.
    expect(await (await bob.client.request('/v1/templates/clips')).json()).toEqual(
      await bobsTemplate.json(),
    );
    expect((await bob.client.get(theirs.workflow_run_id)).status).toBe('awaiting_input');
  });
});
