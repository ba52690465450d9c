import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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

/**
 * Data from outside meets the rule for keys (api.md, "Contract decisions added later"): an
 * `api.fetch` answer or an `api.llm` JSON output with a key that cannot be stored fails its module
 * with a recorded error naming the key's path; the run ends failed (or retries, for a model), never
 * stalls, and takes the next command at once. Over real HTTP: gateway, resolver and runner in this
 * process, loopback servers standing in for the outside.
 */
const db = await useTestDatabases('unstorable_outside');
const fake = await startFakeServices();
const gateway = await startTestGateway(db);
await startTestResolver(db);
await startTestRunner(db, {
  allowedHosts: ['127.0.0.1'],
  llm: { baseUrl: `${fake.url}/v1`, apiKey: 'k', timeoutMs: 2_000 },
});

/** A loopback API answering `GET /answer/<name>` with the JSON text set for that name. */
const answers = new Map<string, string>();
const callsTo = new Map<string, number>();
const api = createServer((req, res) => {
  const name = (req.url ?? '').replace(/^\/answer\//, '');
  callsTo.set(name, (callsTo.get(name) ?? 0) + 1);
  const text = answers.get(name);
  res.writeHead(text === undefined ? 404 : 200, { 'content-type': 'application/json' });
  res.end(text ?? '{}');
});
api.listen(0, '127.0.0.1');
await once(api, 'listening');
const apiUrl = `http://127.0.0.1:${(api.address() as AddressInfo).port}`;
afterAll(() => new Promise<void>((resolve) => api.close(() => resolve())));

let client: RunsClient;
beforeAll(async () => {
  client = new RunsClient(gateway, (await createTestUser(gateway, 'outsider')).api_key);
});

const settled = (run: RunView) => client.get(run.workflow_run_id, '?wait=true&wait_ms=15000');

async function retry(runId: string): Promise<{ status: number; run: RunView }> {
  const response = await client.request(`/v1/runs/${runId}/retry`, {
    method: 'POST',
    json: { step_id: 's' },
  });
  return { status: response.status, run: (await response.json()) as RunView };
}

describe('an api.fetch answer', () => {
  let versionId = '';
  beforeAll(async () => {
    versionId = await client.submitJson({
      workflow_id: 'fetcher',
      steps: [
        {
          step_id: 's',
          modules: [
            {
              module_id: 'api.fetch',
              name: 'get',
              inputs: { url: '{{ state.url }}' },
              // Retries allowed: the refusal must still not be retried (the same answer would come).
              retry: { max_attempts: 3, backoff_ms: 20 },
              outputs_to_state: { body: 'answer' },
            },
          ],
        },
      ],
    });
  });

  it.each([
    ['nul', '{"items": [{"a\\u0000b": 1}]}', 'body.items[0]["a\\0b"]', 'NUL'],
    ['proto', '{"x": {"__proto__": {"admin": true}}}', 'body.x.__proto__', "'__proto__'"],
    ['ctor', '{"constructor": "Ferrari"}', 'body.constructor', "'constructor'"],
    ['prototype', '[{"y": {"prototype": 1}}]', 'body[0].y.prototype', "'prototype'"],
  ])(
    'with an unstorable key (%s) fails the run with a clear error; a retry then applies at once',
    async (name, text, path, reason) => {
      answers.set(name, text);
      const url = `${apiUrl}/answer/${name}`;
      const { run } = await client.start({
        workflow_version_id: versionId,
        initial_state: { url },
      });
      const failed = await settled(run);
      expect(failed.status).toBe('error');
      expect(failed.error?.code).toBe('HTTP_RESPONSE_UNSTORABLE');
      expect(failed.error?.message).toContain(`the answer from ${url} has a key that cannot be`);
      expect(failed.error?.message).toContain(`at ${path}: `);
      expect(failed.error?.message).toContain(reason);
      // One call left the system: the refusal is not retried.
      expect(callsTo.get(name)).toBe(1);
      const events = await expectConsistentLog(client, run.workflow_run_id);
      expect(
        events.filter((e) => e.event_type === 'module_failed').map((e) => e.data['will_retry']),
      ).toEqual([false]);
      expect(events.some((e) => e.event_type === 'module_completed')).toBe(false);

      // The API mends its answer: a retry is applied and the run completes within the request.
      answers.set(name, '{"items": [1, 2]}');
      const retried = await retry(run.workflow_run_id);
      expect(retried.status).toBe(200);
      expect(retried.run.status).toBe('completed');
      expect((await client.state(run.workflow_run_id)).state['answer']).toEqual({ items: [1, 2] });
      expect(callsTo.get(name)).toBe(2);
      await expectConsistentLog(client, run.workflow_run_id);
    },
  );

  it('nested deeper than can be stored fails the run with a clear error', async () => {
    // MongoDB refuses documents nested deeper than 100 levels (the stand-in in tests does not).
    answers.set('deep', `{"a": ${'['.repeat(99)}${']'.repeat(99)}}`);
    const url = `${apiUrl}/answer/deep`;
    const { run } = await client.start({ workflow_version_id: versionId, initial_state: { url } });
    const failed = await settled(run);
    expect(failed.error).toEqual({
      code: 'HTTP_RESPONSE_UNSTORABLE',
      message: `the answer from ${url} nests deeper than 64 levels, which cannot be stored`,
    });
    expect(callsTo.get('deep')).toBe(1);
    await expectConsistentLog(client, run.workflow_run_id);
  });

  it('with `$` and dotted keys is stored and reads back exactly', async () => {
    const body = {
      $defs: { pet: { $ref: '#/$defs/cat', 'a.b': [{ $x: 1 }] } },
      'x.y.z': { $gt: 2 },
    };
    answers.set('dollars', JSON.stringify(body));
    const { run } = await client.start({
      workflow_version_id: versionId,
      initial_state: { url: `${apiUrl}/answer/dollars` },
    });
    expect((await settled(run)).status).toBe('completed');
    expect((await client.state(run.workflow_run_id)).state['answer']).toEqual(body);
    const events = await expectConsistentLog(client, run.workflow_run_id);
    const completed = events.find((e) => e.event_type === 'module_completed');
    expect((completed?.data['outputs'] as { body: unknown }).body).toEqual(body);
  });
});

describe('an api.llm JSON output', () => {
  const schema = { type: 'object', required: ['n'], properties: { n: { type: 'object' } } };
  const asker = (maxAttempts: number) =>
    client.submitJson({
      workflow_id: 'asker',
      steps: [
        {
          step_id: 's',
          modules: [
            {
              module_id: 'api.llm',
              name: 'ask',
              inputs: { model: 'm', prompt: 'Hi', json_schema: schema },
              retry: { max_attempts: maxAttempts, backoff_ms: 20 },
              outputs_to_state: { json: 'answer' },
            },
          ],
        },
      ],
    });
  const usageOf = async (runId: string) =>
    (await (await client.request(`/v1/runs/${runId}/usage`)).json()) as RunUsage;

  it('with an unstorable key is retried like any stray output, and recorded', async () => {
    const chatsBefore = fake.chats.length;
    fake.script.push(
      { body: completion('{"n": {"a\\u0000b": 1}}') },
      { body: completion('{"n": {"ok": 1}}') },
    );
    const { run } = await client.start({ workflow_version_id: await asker(2) });
    const done = await settled(run);
    expect(done.status).toBe('completed');
    expect((await client.state(run.workflow_run_id)).state['answer']).toEqual({ n: { ok: 1 } });
    const failures = (await expectConsistentLog(client, run.workflow_run_id)).filter(
      (e) => e.event_type === 'module_failed',
    );
    expect(failures.map((e) => e.data['error'])).toEqual([
      {
        code: 'LLM_OUTPUT_INVALID',
        message:
          'the model\'s JSON has a key that cannot be stored, at json.n["a\\0b"]: a key may not contain the NUL character',
      },
    ]);
    // Two calls left the system, and both were answered and paid for.
    expect(fake.chats.length - chatsBefore).toBe(2);
    const usage = await usageOf(run.workflow_run_id);
    expect(usage.items.map((item) => item.status)).toEqual(['completed', 'completed']);
  });

  it('with an unstorable key and no attempt left fails the run; a retry then applies at once', async () => {
    fake.script.push({ body: completion('[{"n": {"constructor": {}}}]') });
    const { run } = await client.start({ workflow_version_id: await asker(1) });
    const failed = await settled(run);
    expect(failed.status).toBe('error');
    expect(failed.error).toEqual({
      code: 'LLM_OUTPUT_INVALID',
      message:
        "the model's JSON has a key that cannot be stored, at json[0].n.constructor: 'constructor' is a reserved key",
    });
    fake.script.push({ body: completion('{"n": {"$defs": {"a.b": 1}}}') });
    const retried = await retry(run.workflow_run_id);
    expect(retried.status).toBe(200);
    expect(retried.run.status).toBe('completed');
    expect((await client.state(run.workflow_run_id)).state['answer']).toEqual({
      n: { $defs: { 'a.b': 1 } },
    });
    expect((await usageOf(run.workflow_run_id)).totals.calls).toBe(2);
    await expectConsistentLog(client, run.workflow_run_id);
  });
});
