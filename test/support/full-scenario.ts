import { setTimeout as sleep } from 'node:timers/promises';
import { expect, vi } from 'vitest';
import type { RunView } from '@stepwise/shared';
import type { FakeServices } from './fake-services.js';
import type { TestGateway } from './gateway.js';
import { fileQuestionWorkflow, pngImage, postRaw } from './media.js';
import type { RunsClient } from './runs.js';
import { seedTenants, type SeededTenant, type TenantWorld } from './tenant-world.js';
import { deliveryLog, subscribe, type WebhookReceiver } from './webhook-receiver.js';

/**
 * The whole API, driven over HTTP against running services: the tenant world (people, keys,
 * workflows, runs in every state, a branch, a cancel, a migration, webhooks), then a second round
 * that reads everything back and exercises what the world leaves out: provider calls and usage,
 * keyword history, deadlines, retries, Idempotency-Keys, uploads and previews, resume, a batch
 * migration that moves a run, delivered webhooks, streams, sessions and passwords. Every part of
 * the storage is touched by it (the shard-key test checks that too).
 */

const WAIT = { timeout: 30_000, interval: 100 };

async function ok(response: Promise<Response>, what: string, status: number[] = [200]) {
  const answer = await response;
  const text = await answer.text();
  expect(status, `${what}: ${answer.status} ${text}`).toContain(answer.status);
  const json = answer.headers.get('content-type')?.includes('json') === true && text !== '';
  return json ? (JSON.parse(text) as Record<string, unknown>) : {};
}

const ids = (tenant: SeededTenant, kind: string) =>
  tenant.resources.filter((resource) => resource.kind === kind).map((r) => r.value);

/** A workflow that calls a provider, keeps keywords, and asks a question with a short deadline. */
function extrasWorkflow(variant: string) {
  return {
    workflow_id: 'extras',
    initial_state: { variant },
    steps: [
      {
        step_id: 'think',
        modules: [
          {
            module_id: 'api.llm',
            name: 'ask',
            inputs: { model: 'm', prompt: 'Ideas about {{ state.variant }}' },
            outputs_to_state: { text: 'answer' },
          },
          {
            module_id: 'history.keywords',
            name: 'keep',
            inputs: { mode: 'save', keywords: ['cats', 'naps'] },
          },
          { module_id: 'history.keywords', name: 'recall', inputs: { mode: 'load' } },
        ],
      },
      {
        step_id: 'approve',
        modules: [
          {
            module_id: 'user.confirm',
            name: 'ok',
            inputs: { message: 'Keep {{ state.variant }}?' },
            timeout: 1_500,
            on_timeout: 'fail',
          },
        ],
      },
    ],
  };
}

/** Reads back everything a tenant has, as its owner and as the other tenant (who gets 404s). */
async function readEverything(tenant: SeededTenant, stranger: SeededTenant): Promise<void> {
  const { client } = tenant;
  const get = (path: string, status = [200]) => ok(client.request(path), path, status);
  const foreign = (path: string) => ok(stranger.client.request(path), `foreign ${path}`, [404]);
  for (const path of ['/v1/me', '/v1/me/keys', '/v1/templates', '/v1/runs', '/v1/webhooks'])
    await get(path);
  await get('/v1/me/interactions?sort=oldest');
  await get(`/v1/runs?status=awaiting_input&project_name=${tenant.projectName}`);
  for (const name of ids(tenant, 'templateName')) {
    await get(`/v1/templates/${name}`);
    await get(`/v1/templates/${name}/option-usage`);
    await get(`/v1/templates/${name}/keywords`);
    await get(`/v1/runs?template=${name}`);
  }
  for (const versionId of ids(tenant, 'version')) {
    await get(`/v1/versions/${versionId}`);
    await foreign(`/v1/versions/${versionId}`);
  }
  for (const runId of ids(tenant, 'run')) {
    for (const part of ['', '/state', '/branches', '/artifacts', '/usage']) {
      await get(`/v1/runs/${runId}${part}`);
      await foreign(`/v1/runs/${runId}${part}`);
    }
    await get(`/v1/runs/${runId}/events?after_seq=0&limit=3`);
    await get(`/v1/runs/${runId}/events?before_seq=1000&limit=2`);
    const version = ids(tenant, 'version')[0] ?? '';
    await get(`/v1/runs/${runId}/version-changes?version_id=${version}`, [200, 404, 409]);
  }
  for (const branchId of ids(tenant, 'branch').slice(0, 3)) {
    const runId = ids(tenant, 'run')[0] ?? '';
    await get(`/v1/runs/${runId}/state?branch_id=${branchId}`, [200, 404]);
  }
  for (const artifactId of ids(tenant, 'artifact')) {
    await get(`/v1/artifacts/${artifactId}`);
    await get(`/v1/artifacts/${artifactId}/content`);
    await ok(
      client.request(`/v1/artifacts/${artifactId}/content`, { headers: { range: 'bytes=0-2' } }),
      'range',
      [206],
    );
    await foreign(`/v1/artifacts/${artifactId}`);
    await foreign(`/v1/artifacts/${artifactId}/content`);
  }
  for (const jobId of ids(tenant, 'job')) await get(`/v1/jobs/${jobId}`);
  for (const webhookId of ids(tenant, 'webhook')) {
    await get(`/v1/webhooks/${webhookId}`);
    await get(`/v1/webhooks/${webhookId}/deliveries`);
    await foreign(`/v1/webhooks/${webhookId}/deliveries`);
  }
  await get('/v1/artifacts/art_000000000000000000000000', [404]);
}

async function settle(client: RunsClient, runId: string, done: (run: RunView) => boolean) {
  return vi.waitFor(async () => {
    const run = await client.get(runId);
    if (!done(run)) throw new Error(`run ${runId} is ${run.status} at ${run.current_step}`);
    return run;
  }, WAIT);
}

/** Provider calls, keywords, a deadline that fires, a retry, and a keyed answer sent twice. */
async function extras(alice: SeededTenant, receiver: WebhookReceiver) {
  const { client } = alice;
  const hook = await subscribe(client, {
    url: `${receiver.base}/extras`,
    events: ['run.completed', 'run.failed', 'interaction.requested'],
    templates: ['extras'],
  });
  const v1 = await client.submitJson(extrasWorkflow('one'));
  const { run: timedOut } = await client.start({ workflow_version_id: v1 }, '?wait_ms=15000');
  // Nobody answers: the deadline times the question out and fails the run.
  const failed = await settle(client, timedOut.workflow_run_id, (run) => run.status === 'error');
  await ok(
    client.request(`/v1/runs/${failed.workflow_run_id}/retry`, {
      method: 'POST',
      json: { step_id: 'approve' },
    }),
    'retry',
    [200, 202],
  );
  const asked = await settle(client, failed.workflow_run_id, (r) => r.status === 'awaiting_input');
  const interaction = asked.pending_interaction?.interaction_id ?? '';
  const keyed = { 'idempotency-key': 'answer-once' };
  for (let i = 0; i < 2; i++) {
    const { status } = await client.answer(
      asked.workflow_run_id,
      interaction,
      { confirmed: true },
      keyed,
    );
    expect(status).toBe(200);
  }
  await settle(client, asked.workflow_run_id, (run) => run.status === 'completed');
  await ok(client.request('/v1/templates/extras/keywords'), 'keywords');

  // Resume a waiting run with a changed workflow: asked what to do, it goes on with the new one.
  const { run: waiting } = await client.start({ workflow_version_id: v1 }, '?wait_ms=15000');
  const resumed = await client.request(`/v1/runs/${waiting.workflow_run_id}/resume`, {
    method: 'POST',
    json: extrasWorkflow('two'),
  });
  const body = (await resumed.json()) as { error?: { details?: { submitted_version?: string } } };
  expect([200, 409]).toContain(resumed.status);
  const submitted = body.error?.details?.submitted_version;
  if (submitted)
    await ok(
      client.request(`/v1/runs/${waiting.workflow_run_id}/resume/confirm`, {
        method: 'POST',
        json: { choice: 'continue_with_new', submitted_version_id: submitted },
      }),
      'resume confirm',
      [200, 409],
    );
  await vi.waitFor(() => expect(receiver.at('/extras').length).toBeGreaterThan(1), WAIT);
  await vi.waitFor(async () => {
    const log = await deliveryLog(client, hook.id);
    expect(log.some((delivery) => delivery.status === 'delivered')).toBe(true);
  }, WAIT);
  await ok(
    client.request(`/v1/webhooks/${hook.id}`, { method: 'PATCH', json: { enabled: false } }),
    'pause',
  );
  await ok(client.request(`/v1/webhooks/${hook.id}`, { method: 'DELETE' }), 'delete', [204]);
}

/** A secret stored, replaced, listed and deleted; a price table set and read (docs/secrets.md). */
async function secretsAndPrices(alice: SeededTenant) {
  const { client } = alice;
  const put = (value: string) =>
    client.request('/v1/me/secrets/SCENARIO_KEY', { method: 'PUT', json: { value } });
  await ok(put('scenario-secret-value-1'), 'store a secret', [201]);
  await ok(put('scenario-secret-value-2'), 'replace a secret', [200]);
  await ok(client.request('/v1/me/secrets'), 'list secrets');
  await ok(
    client.request('/v1/me/llm-prices', {
      method: 'PUT',
      json: { prices: { 'gpt-4o-mini': { input_per_1k_tokens: 1, output_per_1k_tokens: 2 } } },
    }),
    'set prices',
  );
  await ok(client.request('/v1/me/llm-prices'), 'read prices');
  await ok(
    client.request('/v1/me/secrets/SCENARIO_KEY', { method: 'DELETE' }),
    'delete a secret',
    [204],
  );
}

/** A file question: an upload, its preview, and the answer that uses it. */
async function uploads(gateway: TestGateway, alice: SeededTenant) {
  const { client } = alice;
  const versionId = await client.submitJson(fileQuestionWorkflow('photos'));
  const { run } = await client.start({ workflow_version_id: versionId }, '?wait_ms=15000');
  expect(run.status).toBe('awaiting_input');
  const png = await pngImage(64, 48);
  const uploaded = await postRaw(
    `${gateway.url}/v1/runs/${run.workflow_run_id}/uploads?name=a.png`,
    {
      token: client.token,
      headers: { 'content-type': 'image/png' },
      contentLength: png.length,
      body: [png],
    },
  );
  expect(uploaded.status, uploaded.body.toString()).toBe(201);
  const artifactId = (JSON.parse(uploaded.body.toString()) as { artifact_id: string }).artifact_id;
  await ok(client.request(`/v1/artifacts/${artifactId}/preview`), 'preview');
  await ok(client.request(`/v1/artifacts/${artifactId}/preview`), 'cached preview');
  await client.answerPending(run, { artifact_ids: [artifactId] });
}

/** A batch migration that moves a waiting run, the impact report before it, and its read-back. */
async function migration(alice: SeededTenant) {
  const { client } = alice;
  const version = (note: string) => alice.resources.find((r) => r.note === note)?.value ?? '';
  const [v1, v2] = [version('pet clips version 1'), version('pet clips version 2')];
  await ok(client.request(`/v1/templates/pet_clips/versions/${v1}/impact`), 'impact');
  const created = await ok(
    client.request('/v1/templates/pet_clips/migrations', {
      method: 'POST',
      json: { to_version_id: v1, policy: 'continue_with_new', filter: { current_version_id: v2 } },
    }),
    'migration',
    [202],
  );
  const path = `/v1/templates/pet_clips/migrations/${String(created['migration_id'])}`;
  await vi.waitFor(async () => {
    expect((await ok(client.request(path), 'read migration'))['status']).toBe('completed');
  }, WAIT);
}

/** Streams opened and read a little, and a person's session and password. */
async function streamsAndPeople(gateway: TestGateway, alice: SeededTenant) {
  const runId = ids(alice, 'run')[0] ?? '';
  for (const path of [`/v1/runs/${runId}/stream`, '/v1/me/stream']) {
    const abort = new AbortController();
    const response = await alice.client.request(path, { signal: abort.signal });
    expect(response.status).toBe(200);
    const reader = response.body?.getReader();
    await reader?.read();
    await sleep(300);
    abort.abort();
  }
  await ok(gateway.request('/metrics'), 'metrics');
  const signedIn = await gateway.request('/v1/auth/sessions', {
    method: 'POST',
    json: { login: alice.username, password: alice.password },
  });
  expect(signedIn.status).toBe(201);
  const changed = await alice.client.request('/v1/me/password', {
    method: 'PUT',
    json: { current_password: alice.password, new_password: `${alice.password} again` },
  });
  expect(changed.status).toBe(204);
}

export async function driveFullScenario(
  gateway: TestGateway,
  services: { fake: FakeServices; receiver: WebhookReceiver },
): Promise<TenantWorld> {
  const world = await seedTenants(gateway);
  await readEverything(world.alice, world.bob);
  await readEverything(world.bob, world.alice);
  await extras(world.alice, services.receiver);
  await secretsAndPrices(world.alice);
  await uploads(gateway, world.alice);
  await migration(world.alice);
  await streamsAndPeople(gateway, world.alice);
  expect(services.fake.chats.length).toBeGreaterThan(0);
  return world;
}
