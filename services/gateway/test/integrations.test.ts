import { once } from 'node:events';
import { createServer } from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { RunUsage, RunView } from '@stepwise/shared';
import { useTestDatabases } from '../../../test/support/databases.js';
import { completion, startFakeServices } from '../../../test/support/fake-services.js';
import {
  createTestUser,
  startTestGateway,
  startTestResolver,
} from '../../../test/support/gateway.js';
import { startTestRunner } from '../../../test/support/runner.js';
import { RunsClient, expectConsistentLog } from '../../../test/support/runs.js';

const db = await useTestDatabases('integrations');
const fake = await startFakeServices();
const gateway = await startTestGateway(db);
await startTestResolver(db);
// The default policy: no allow-list, so nothing private may be called.
await startTestRunner(db, {
  llm: { baseUrl: `${fake.url}/v1`, apiKey: 'k', timeoutMs: 500 },
  maxArtifactBytes: 1024,
});

let client: RunsClient;
beforeAll(async () => {
  client = new RunsClient(gateway, (await createTestUser(gateway, 'integrator')).api_key);
});

describe('api.fetch destinations', () => {
  // A trap on loopback: any connection to it would prove a packet was sent.
  const trap = createServer((_req, res) => res.end('trapped'));
  let trapConnections = 0;
  trap.on('connection', () => trapConnections++);
  let trapPort = 0;
  beforeAll(async () => {
    trap.listen(0, '127.0.0.1');
    await once(trap, 'listening');
    trapPort = (trap.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((resolve) => trap.close(() => resolve())));

  it.each([
    ['loopback', () => `http://127.0.0.1:${trapPort}/`],
    ['the cloud metadata address', () => 'http://169.254.169.254/latest/meta-data/'],
    ['a private address', () => 'http://10.0.0.1/'],
    ['a name that resolves to loopback', () => `http://localhost:${trapPort}/`],
    ['IPv6 loopback', () => `http://[::1]:${trapPort}/`],
    ['loopback spelled as a number', () => `http://2130706433:${trapPort}/`],
    ['an IPv4-mapped private address', () => 'http://[::ffff:10.0.0.1]/'],
  ])('refuses %s before connecting, with a clear module error', async (_name, url) => {
    const versionId = await client.submitJson({
      workflow_id: `fetcher`,
      steps: [
        {
          step_id: 's',
          modules: [{ module_id: 'api.fetch', name: 'get', inputs: { url: '{{ state.url }}' } }],
        },
      ],
    });
    const spied = vi.spyOn(net.Socket.prototype, 'connect');
    try {
      const { run } = await client.start({
        workflow_version_id: versionId,
        initial_state: { url: url() },
      });
      expect(run.status).toBe('error');
      expect(run.error?.code).toBe('DESTINATION_REFUSED');
      expect(run.error?.message).toMatch(/private, loopback or link-local/);
      const targets = spied.mock.calls.map((call) => {
        const options = call[0] as { host?: string } | undefined;
        return typeof options === 'object' ? String(options.host) : String(options);
      });
      // The spy sees every socket this process opens (MongoDB, Redis too): none to these.
      for (const forbidden of [
        '169.254.169.254',
        '10.0.0.1',
        '::1',
        '::ffff:10.0.0.1',
        'localhost',
      ])
        expect(targets).not.toContain(forbidden);
    } finally {
      spied.mockRestore();
    }
    expect(trapConnections).toBe(0);
  });

  it('refuses URLs that are not http or https', async () => {
    const { run } = await client.start({
      workflow_version_id: await client.submitJson({
        workflow_id: 'fetcher',
        steps: [
          {
            step_id: 's',
            modules: [{ module_id: 'api.fetch', name: 'get', inputs: { url: '{{ state.url }}' } }],
          },
        ],
      }),
      initial_state: { url: 'ftp://127.0.0.1/file' },
    });
    expect(run.error?.code).toBe('HTTP_BAD_URL');
  });
});

describe('api.llm against a provider that misbehaves', () => {
  const llmWorkflow = (schema?: unknown) => ({
    workflow_id: 'asker',
    steps: [
      {
        step_id: 's',
        modules: [
          {
            module_id: 'api.llm',
            name: 'ask',
            inputs: { model: 'm', prompt: 'Hi', ...(schema ? { json_schema: schema } : {}) },
            retry: { max_attempts: 3, backoff_ms: 30 },
            outputs_to_state: schema ? { json: 'answer' } : { text: 'answer' },
          },
        ],
      },
    ],
  });

  async function settle(run: RunView) {
    return client.get(run.workflow_run_id, '?wait=true&wait_ms=15000');
  }

  it('retries a 500 and a timeout, then succeeds; records every call, the lost one apart', async () => {
    fake.script.push(
      { status: 500, body: { error: 'overloaded' } },
      { delayMs: 1_500, body: completion('late') },
      { body: completion('hello', { prompt_tokens: 3, completion_tokens: 2 }) },
    );
    const { run } = await client.start({
      workflow_version_id: await client.submitJson(llmWorkflow()),
    });
    const done = await settle(run);
    expect(done.status).toBe('completed');
    expect((await client.state(run.workflow_run_id)).state['answer']).toBe('hello');
    const events = await expectConsistentLog(client, run.workflow_run_id);
    expect(
      events
        .filter((e) => e.event_type === 'module_failed')
        .map((e) => (e.data['error'] as { code: string }).code),
    ).toEqual(['LLM_PROVIDER_ERROR', 'LLM_UNAVAILABLE']);
    const usage = (await (
      await client.request(`/v1/runs/${run.workflow_run_id}/usage`)
    ).json()) as RunUsage;
    // Each call was recorded before it was made: the 500 as failed, the one that timed out as
    // lost (it may have been billed), the answer as completed.
    expect(usage.items.map((item) => item.status)).toEqual(['failed', 'lost', 'completed']);
    const started = events.filter((e) => e.event_type === 'module_started');
    expect(usage.items.map((item) => item.idempotency_key)).toEqual(
      started.map((e) => e.data['idempotency_key']),
    );
    expect(usage.totals).toMatchObject({ calls: 1, input_tokens: 3 });
    expect(usage.lost.calls).toBe(1);
    expect(usage.failed.calls).toBe(1);
  });

  it('does not retry a request the provider refuses', async () => {
    fake.script.push({ status: 400, body: { error: { message: 'bad model' } } });
    const { run } = await client.start({
      workflow_version_id: await client.submitJson(llmWorkflow()),
    });
    const done = await settle(run);
    expect(done.error).toMatchObject({ code: 'LLM_REQUEST_REJECTED' });
    expect(done.error?.message).toContain('bad model');
  });

  it('validates structured output against json_schema and retries a model that strays', async () => {
    const schema = {
      type: 'object',
      required: ['n'],
      properties: { n: { type: 'integer' } },
      additionalProperties: false,
    };
    fake.script.push(
      { body: completion('not json') },
      { body: completion('{"n": "seven"}') },
      { body: completion('{"n": 7}') },
    );
    const { run } = await client.start({
      workflow_version_id: await client.submitJson(llmWorkflow(schema)),
    });
    const done = await settle(run);
    expect(done.status).toBe('completed');
    expect((await client.state(run.workflow_run_id)).state['answer']).toEqual({ n: 7 });
    const failures = (await client.events(run.workflow_run_id)).filter(
      (e) => e.event_type === 'module_failed',
    );
    expect(
      failures.map((e) => (e.data['error'] as { code: string; message: string }).message),
    ).toEqual([
      'the model was asked for JSON and answered something else',
      expect.stringContaining('must be integer'),
    ]);
  });
});

describe('artifact.save limits', () => {
  it('refuses an artifact over the size limit and keeps nothing', async () => {
    const versionId = await client.submitJson({
      workflow_id: 'saver',
      steps: [
        {
          step_id: 's',
          modules: [
            {
              module_id: 'artifact.save',
              name: 'keep',
              inputs: { name: 'big.txt', content: '{{ state.text }}' },
            },
          ],
        },
      ],
    });
    const { run } = await client.start({
      workflow_version_id: versionId,
      initial_state: { text: 'x'.repeat(2_000) },
    });
    expect(run.error).toMatchObject({ code: 'ARTIFACT_TOO_LARGE' });
    expect(await db.models.artifacts.countDocuments({ workflow_run_id: run.workflow_run_id })).toBe(
      0,
    );
    const small = await client.start({
      workflow_version_id: versionId,
      initial_state: { text: 'fits' },
    });
    expect(small.run.status).toBe('completed');
    const list = (await (
      await client.request(`/v1/runs/${small.run.workflow_run_id}/artifacts`)
    ).json()) as { items: { size: number }[] };
    expect(list.items.map((a) => a.size)).toEqual([4]);
  });
});
