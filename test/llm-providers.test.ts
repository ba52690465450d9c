import { afterAll, describe, expect, it } from 'vitest';
import { mongo } from 'mongoose';
import type { RunView } from '@stepwise/shared';
import { useTestDatabases } from './support/databases.js';
import {
  createTestUser,
  startTestGateway,
  startTestResolver,
  type TestGateway,
} from './support/gateway.js';
import { startTestRunner } from './support/runner.js';
import { RunsClient } from './support/runs.js';
import { snapshotDatabase } from './support/snapshots.js';
import { anthropicMessage, startFakeProvider } from './support/fake-provider.mjs';

/**
 * api.llm with each user's own key (docs/secrets.md): the loopback fake records the key every
 * call carried, so that a key crossing tenants, or the deployment key going out when a user named
 * theirs, is seen; Anthropic's Messages API with its usage mapping and the user's prices; the
 * deployment key policy; and no secret value in any answer of the API.
 */

const DEPLOYMENT_KEY = 'deployment-key-should-only-go-where-allowed';
const provider = await startFakeProvider();
/** A provider of a workflow's own choosing (its base_url), apart from the deployment's. */
const otherProvider = await startFakeProvider();
afterAll(() => Promise.all([provider.close(), otherProvider.close()]));

interface Tenant {
  client: RunsClient;
  userId: string;
}

async function tenant(gateway: TestGateway, name: string): Promise<Tenant> {
  const user = await createTestUser(gateway, name);
  return { client: new RunsClient(gateway, user.api_key), userId: user.user.user_id };
}

async function putSecret(who: Tenant, name: string, value: string) {
  const response = await who.client.request(`/v1/me/secrets/${name}`, {
    method: 'PUT',
    json: { value },
  });
  expect(response.status).toBe(201);
}

function llmWorkflow(
  id: string,
  module: Record<string, unknown>,
  inputs: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    workflow_id: id,
    steps: [
      {
        step_id: 'write',
        modules: [
          {
            module_id: 'api.llm',
            name: 'draft',
            inputs: {
              model: 'gpt-4o-mini',
              prompt: '[marker:{{ run.project_name }}] Write one line.',
              ...inputs,
            },
            outputs_to_state: { text: 'draft' },
            ...module,
          },
        ],
      },
    ],
  };
}

async function runOnce(who: Tenant, workflow: Record<string, unknown>, project: string) {
  const versionId = await who.client.submitJson(workflow);
  const { status, run } = await who.client.start(
    { workflow_version_id: versionId, project_name: project },
    '?wait_ms=20000',
  );
  expect(status, JSON.stringify(run)).toBe(201);
  return run;
}

/** Every answer of the API about a run, as text: the run, its events, state and usage. */
async function everythingShown(who: Tenant, run: RunView): Promise<string> {
  const id = run.workflow_run_id;
  const paths = [
    `/v1/runs/${id}`,
    `/v1/runs/${id}/events?limit=1000`,
    `/v1/runs/${id}/state`,
    `/v1/runs/${id}/usage`,
    '/v1/runs',
    '/v1/me/secrets',
  ];
  const texts = await Promise.all(
    paths.map(async (path) => (await who.client.request(path)).text()),
  );
  return [JSON.stringify(run), ...texts].join('\n');
}

describe('api.llm with per-user keys (deployment key allowed)', async () => {
  const db = await useTestDatabases('llm_providers');
  const gateway = await startTestGateway(db);
  await startTestResolver(db);
  await startTestRunner(db, {
    allowedHosts: ['127.0.0.1'],
    llm: {
      baseUrl: provider.baseUrl,
      apiKey: DEPLOYMENT_KEY,
      anthropicBaseUrl: provider.url,
      defaultKeyPolicy: 'allow',
      prices: {
        'gpt-4o-mini': { input_per_1k_tokens: 1, output_per_1k_tokens: 1 },
        'claude-fake': { input_per_1k_tokens: 1, output_per_1k_tokens: 1 },
      },
    },
  });
  const alice = await tenant(gateway, 'alice');
  const bob = await tenant(gateway, 'bob');
  const aliceKey = 'sk-alice-own-openai-key-000111';
  const bobKey = 'sk-bob-own-openai-key-999888';
  const aliceAnthropicKey = 'sk-ant-alice-own-key-424242';
  await putSecret(alice, 'OPENAI_KEY', aliceKey);
  await putSecret(bob, 'OPENAI_KEY', bobKey);
  await putSecret(alice, 'ANTHROPIC_KEY', aliceAnthropicKey);
  const withKey = { credentials: { api_key: 'OPENAI_KEY' } };

  it("sends alice's key on alice's calls and bob's on bob's, never crossed, never the deployment's", async () => {
    const runs = await Promise.all(
      [0, 1, 2].flatMap((i) => [
        runOnce(alice, llmWorkflow('own_key', withKey), `alice-${i}`),
        runOnce(bob, llmWorkflow('own_key', withKey), `bob-${i}`),
      ]),
    );
    for (const run of runs) expect(run.status, JSON.stringify(run)).toBe('completed');
    for (const i of [0, 1, 2]) {
      const aliceCalls = provider.callsOf('chat', `alice-${i}`);
      const bobCalls = provider.callsOf('chat', `bob-${i}`);
      expect(aliceCalls.map((call) => call.credential)).toEqual([aliceKey]);
      expect(bobCalls.map((call) => call.credential)).toEqual([bobKey]);
    }
    const named = provider.calls.filter((call) => /^(alice|bob)-\d$/.test(call.marker ?? ''));
    expect(named.some((call) => call.credential === DEPLOYMENT_KEY)).toBe(false);
  });

  it('records only the names in module_started, and no value in any answer', async () => {
    const run = await runOnce(alice, llmWorkflow('names_only', withKey), 'alice-names');
    expect(run.status).toBe('completed');
    const events = await alice.client.events(run.workflow_run_id);
    const started = events.find((event) => event.event_type === 'module_started');
    expect((started?.data as Record<string, unknown>)['credentials']).toEqual({
      api_key: 'OPENAI_KEY',
    });
    const shown = await everythingShown(alice, run);
    for (const value of [aliceKey, aliceAnthropicKey, bobKey]) expect(shown).not.toContain(value);
  });

  it('uses the deployment key for a call that names no credentials (policy allow)', async () => {
    const run = await runOnce(alice, llmWorkflow('default_key', {}), 'alice-default');
    expect(run.status).toBe('completed');
    expect(provider.callsOf('chat', 'alice-default').map((call) => call.credential)).toEqual([
      DEPLOYMENT_KEY,
    ]);
  });

  it('never sends the deployment key to a base_url the workflow chose', async () => {
    const refused = await runOnce(
      alice,
      llmWorkflow(
        'own_base',
        {},
        { base_url: `${provider.url.replace('127.0.0.1', 'localhost')}/v1` },
      ),
      'alice-own-base',
    );
    // localhost is not an allowed host: the outbound rules refuse it, for good.
    expect(refused.status).toBe('error');
    expect(refused.error?.code).toBe('DESTINATION_REFUSED');
    const keyless = await runOnce(
      alice,
      llmWorkflow('own_base_allowed', {}, { base_url: otherProvider.baseUrl }),
      'alice-own-base-2',
    );
    expect(keyless.status, JSON.stringify(keyless)).toBe('completed');
    expect(
      otherProvider.callsOf('chat', 'alice-own-base-2').map((call) => call.credential),
    ).toEqual([null]);
    const withOwnKey = await runOnce(
      alice,
      llmWorkflow('own_base_key', withKey, { base_url: otherProvider.baseUrl }),
      'alice-own-base-3',
    );
    expect(withOwnKey.status).toBe('completed');
    expect(
      otherProvider.callsOf('chat', 'alice-own-base-3').map((call) => call.credential),
    ).toEqual([aliceKey]);
    expect(otherProvider.calls.some((call) => call.credential === DEPLOYMENT_KEY)).toBe(false);
  });

  it("calls Anthropic's Messages API with alice's key, maps usage and prices it from her table", async () => {
    const prices = await alice.client.request('/v1/me/llm-prices', {
      method: 'PUT',
      json: { prices: { 'claude-fake': { input_per_1k_tokens: 3, output_per_1k_tokens: 15 } } },
    });
    expect(prices.status).toBe(200);
    provider.respond = (call) =>
      call.kind === 'messages' && call.marker === 'alice-anthropic'
        ? {
            status: 200,
            body: anthropicMessage('Bonjour.', { input_tokens: 200, output_tokens: 40 }),
          }
        : undefined;
    const run = await runOnce(
      alice,
      llmWorkflow(
        'anthropic_text',
        { credentials: { api_key: 'ANTHROPIC_KEY' } },
        { provider: 'anthropic', model: 'claude-fake', system: 'Be brief.' },
      ),
      'alice-anthropic',
    );
    provider.respond = null;
    expect(run.status, JSON.stringify(run)).toBe('completed');
    const [call] = provider.callsOf('messages', 'alice-anthropic');
    expect(call?.credential).toBe(aliceAnthropicKey);
    expect(call?.headers['anthropic-version']).toBe('2023-06-01');
    expect(call?.headers['authorization']).toBeUndefined();
    expect(call?.body).toMatchObject({
      model: 'claude-fake',
      max_tokens: 1024,
      system: 'Be brief.',
      messages: [{ role: 'user', content: expect.stringContaining('Write one line') }],
    });
    expect((await alice.client.state(run.workflow_run_id)).state['draft']).toBe('Bonjour.');
    const usage = (await (
      await alice.client.request(`/v1/runs/${run.workflow_run_id}/usage`)
    ).json()) as {
      items: {
        provider: string;
        input_tokens: number;
        output_tokens: number;
        total_cost: number;
      }[];
    };
    expect(usage.items).toHaveLength(1);
    expect(usage.items[0]).toMatchObject({
      provider: `anthropic:${new URL(provider.url).host}`,
      input_tokens: 200,
      output_tokens: 40,
    });
    // alice's table (3 and 15 per 1k), not the deployment's (1 and 1).
    expect(usage.items[0]?.total_cost).toBeCloseTo(0.2 * 3 + 0.04 * 15, 8);
  });

  it('asks Anthropic for JSON through a forced tool and reads its input', async () => {
    provider.respond = (call) =>
      call.kind === 'messages' && call.marker === 'alice-anthropic-json'
        ? { status: 200, body: anthropicMessage({ title: 'Cats', score: 3 }) }
        : undefined;
    const schema = {
      type: 'object',
      properties: { title: { type: 'string' }, score: { type: 'number' } },
      required: ['title', 'score'],
    };
    const workflow = llmWorkflow(
      'anthropic_json',
      { credentials: { api_key: 'ANTHROPIC_KEY' }, outputs_to_state: { json: 'idea' } },
      { provider: 'anthropic', model: 'claude-fake', json_schema: schema },
    );
    const run = await runOnce(alice, workflow, 'alice-anthropic-json');
    provider.respond = null;
    expect(run.status, JSON.stringify(run)).toBe('completed');
    expect((await alice.client.state(run.workflow_run_id)).state['idea']).toEqual({
      title: 'Cats',
      score: 3,
    });
    const [call] = provider.callsOf('messages', 'alice-anthropic-json');
    expect(call?.body).toMatchObject({
      tools: [{ name: 'output', input_schema: schema }],
      tool_choice: { type: 'tool', name: 'output' },
    });
  });

  it('fails the module, for good, when the owner has not stored the secret', async () => {
    // Bob has no ANTHROPIC_KEY (alice has): his run must not find hers.
    const workflow = llmWorkflow(
      'missing_secret',
      { credentials: { api_key: 'ANTHROPIC_KEY' }, retry: { max_attempts: 3, backoff_ms: 0 } },
      { provider: 'anthropic', model: 'claude-fake' },
    );
    const run = await runOnce(bob, workflow, 'bob-missing');
    expect(run.status).toBe('error');
    expect(run.error?.code).toBe('SECRET_NOT_FOUND');
    expect(run.error?.message).toContain('step write');
    expect(run.error?.message).toContain('ANTHROPIC_KEY');
    expect(run.error?.message).toContain(bob.userId);
    expect(provider.callsOf('messages', 'bob-missing')).toHaveLength(0);
    const events = await bob.client.events(run.workflow_run_id);
    expect(events.filter((event) => event.event_type === 'module_started')).toHaveLength(1);
  });

  it('scrubs a key the provider echoes from the failure, the log and every answer', async () => {
    provider.respond = (call) =>
      call.marker === 'alice-echo'
        ? {
            status: 401,
            body: { error: { message: `Incorrect API key provided: ${call.credential ?? ''}` } },
          }
        : undefined;
    const run = await runOnce(alice, llmWorkflow('echo', withKey), 'alice-echo');
    const viaDefault = await runOnce(alice, llmWorkflow('echo_default', {}), 'alice-echo');
    provider.respond = null;
    for (const failed of [run, viaDefault]) {
      expect(failed.status).toBe('error');
      expect(failed.error?.code).toBe('LLM_REQUEST_REJECTED');
      expect(failed.error?.message).toContain('[redacted]');
      const shown = await everythingShown(alice, failed);
      expect(shown).not.toContain(aliceKey);
      expect(shown).not.toContain(DEPLOYMENT_KEY);
    }
  });

  it('refuses at submission credentials that are templates, unknown slots or not secret names', async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ credentials: { api_key: '{{ state.key }}' } }, 'template'],
      [{ credentials: { api_key: '{% if true %}OPENAI_KEY{% endif %}' } }, 'template'],
      [{ credentials: { token: 'OPENAI_KEY' } }, "no credential 'token'"],
      [{ credentials: { api_key: 'openai_key' } }, 'not a secret name'],
    ];
    for (const [module, message] of cases) {
      const response = await alice.client.request('/v1/workflows', {
        method: 'POST',
        json: llmWorkflow('refused_credentials', module),
      });
      const body = (await response.json()) as {
        error: { code: string; details: { path: string; message: string }[] };
      };
      expect(response.status, JSON.stringify(body)).toBe(422);
      expect(body.error.code).toBe('WORKFLOW_INVALID');
      const detail = body.error.details.find((d) => d.path.includes('credentials'));
      expect(detail?.message).toContain(message);
      if (message === 'template') expect(detail?.message).toContain("step 'write'");
    }
    const noSlots = {
      workflow_id: 'set_with_credentials',
      steps: [
        {
          step_id: 'one',
          modules: [
            {
              module_id: 'transform.set',
              name: 'x',
              inputs: { value: 1 },
              credentials: { api_key: 'OPENAI_KEY' },
            },
          ],
        },
      ],
    };
    const refused = await alice.client.request('/v1/workflows', { method: 'POST', json: noSlots });
    expect(refused.status).toBe(422);
    expect(await refused.text()).toContain('takes no credentials');
  });

  it('after all these runs, no key is anywhere in the database, GridFS included', async () => {
    const dump = await snapshotDatabase(db.mongo);
    const bytes = Buffer.concat(
      Object.values(dump)
        .flat()
        .map((document) => Buffer.from(mongo.BSON.serialize(document as mongo.Document))),
    );
    expect(Object.keys(dump)).toContain('tokens');
    for (const key of [aliceKey, bobKey, aliceAnthropicKey, DEPLOYMENT_KEY])
      expect(bytes.includes(Buffer.from(key, 'utf8')), key).toBe(false);
  });
});

describe('api.llm under LLM_DEFAULT_KEY_POLICY=deny', async () => {
  const db = await useTestDatabases('llm_providers_deny');
  const gateway = await startTestGateway(db);
  await startTestResolver(db);
  await startTestRunner(db, {
    llm: { baseUrl: provider.baseUrl, apiKey: DEPLOYMENT_KEY, defaultKeyPolicy: 'deny' },
  });
  const carol = await tenant(gateway, 'carol');

  it('fails a call without credentials clearly and sends nothing; with them, the user key goes', async () => {
    const refused = await runOnce(carol, llmWorkflow('deny_default', {}), 'carol-denied');
    expect(refused.status).toBe('error');
    expect(refused.error?.code).toBe('LLM_CREDENTIALS_REQUIRED');
    expect(refused.error?.message).toContain('LLM_DEFAULT_KEY_POLICY=deny');
    expect(provider.callsOf('chat', 'carol-denied')).toHaveLength(0);

    await putSecret(carol, 'MY_KEY', 'sk-carol-key-5555');
    const allowed = await runOnce(
      carol,
      llmWorkflow('deny_own', { credentials: { api_key: 'MY_KEY' } }),
      'carol-own',
    );
    expect(allowed.status).toBe('completed');
    expect(provider.callsOf('chat', 'carol-own').map((call) => call.credential)).toEqual([
      'sk-carol-key-5555',
    ]);
  });
});
