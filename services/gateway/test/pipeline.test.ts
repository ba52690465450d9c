import { beforeAll, describe, expect, it } from 'vitest';
import type { RunView } from '@stepwise/shared';
import { readTree, zipFiles } from '../../../test/support/bundles.js';
import { useTestDatabases } from '../../../test/support/databases.js';
import { startFakeServices } from '../../../test/support/fake-services.js';
import {
  createTestUser,
  startTestGateway,
  startTestResolver,
} from '../../../test/support/gateway.js';
import { startTestRunner } from '../../../test/support/runner.js';
import { RunsClient, expectConsistentLog } from '../../../test/support/runs.js';

const LLM_KEY = 'sk-test-provider-key-never-logged';
const db = await useTestDatabases('pipeline');
const fake = await startFakeServices();
const gateway = await startTestGateway(db);
await startTestResolver(db);
await startTestRunner(db, {
  allowedHosts: ['127.0.0.1'],
  llm: {
    baseUrl: `${fake.url}/v1`,
    apiKey: LLM_KEY,
    prices: { 'gpt-4o-mini': { input_per_1k_tokens: 0.15, output_per_1k_tokens: 0.6 } },
  },
});

// The pipeline as it was before it used the stub providers: an LLM, a render service reached with
// api.fetch, keyword history (examples/content-pipeline now renders with api.job; see its README).
const exampleDir = new URL('../../../test/fixtures/pipeline-fetch/', import.meta.url).pathname;
let client: RunsClient;
let versionId: string;
beforeAll(async () => {
  client = new RunsClient(gateway, (await createTestUser(gateway, 'creator')).api_key);
  versionId = await client.submitZip(await zipFiles(readTree(exampleDir)));
});

async function runPipeline(pick: number): Promise<RunView> {
  const { run } = await client.start({
    workflow_version_id: versionId,
    project_name: 'weekly',
    initial_state: { render_url: `${fake.url}/render` },
  });
  expect(run, JSON.stringify(run.error)).toMatchObject({
    status: 'awaiting_input',
    current_step: 'choose',
    current_module: 'pick',
  });
  let current = await client.answerPending(run, { selected_indices: [pick] });
  expect(current, JSON.stringify(current.error)).toMatchObject({
    status: 'awaiting_input',
    current_step: 'approve',
  });
  current = await client.answerPending(current, { confirmed: true });
  expect(current.status).toBe('completed');
  return current;
}

describe('the content pipeline example', () => {
  it('runs end to end against the loopback LLM and render services, and the second run sees the first', async () => {
    const first = await runPipeline(1);
    const state = (await client.state(first.workflow_run_id)).state;
    expect(state).toMatchObject({
      idea: 'Cat in a box',
      published: true,
      render: { job: 'render-1' },
    });
    expect(state['video_prompt']).toContain('Scene: Cat in a box.');

    // The LLM was called once with the structured-output request; the render service got the prompt.
    expect(fake.chats).toHaveLength(1);
    expect(fake.chats[0]?.headers.authorization).toBe(`Bearer ${LLM_KEY}`);
    expect(fake.chats[0]?.body.response_format?.json_schema?.schema).toMatchObject({
      required: ['ideas'],
    });
    expect(fake.renders[0]?.body).toMatchObject({ prompt: state['video_prompt'], seconds: 15 });
    expect(fake.renders[0]?.headers['x-api-key']).toBe('demo-render-key');

    // Usage and cost recorded.
    const usage = (await (
      await client.request(`/v1/runs/${first.workflow_run_id}/usage`)
    ).json()) as {
      items: unknown[];
      totals: { calls: number; input_tokens: number; output_tokens: number; total_cost: number };
    };
    expect(usage.items).toHaveLength(1);
    expect(usage.totals).toEqual({
      calls: 1,
      input_tokens: 120,
      output_tokens: 80,
      total_cost: 0.066,
    });

    // Artifacts kept and readable, with their sha256 as ETag.
    const artifacts = (await (
      await client.request(`/v1/runs/${first.workflow_run_id}/artifacts`)
    ).json()) as {
      items: {
        artifact_id: string;
        name: string;
        sha256: string;
        size: number;
        event_id: string | null;
        kind: string;
      }[];
    };
    expect(artifacts.items.map((a) => [a.name, a.kind])).toEqual([
      ['prompt.txt', 'deliverable'],
      ['render.json', 'debug'],
    ]);
    const prompt = artifacts.items[0];
    expect(prompt?.event_id).toMatch(/^evt_/);
    const content = await client.request(`/v1/artifacts/${prompt?.artifact_id}/content`);
    expect(content.status).toBe(200);
    expect(content.headers.get('etag')).toBe(`"${prompt?.sha256}"`);
    expect(content.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    expect(await content.text()).toBe(state['video_prompt']);
    const cached = await client.request(`/v1/artifacts/${prompt?.artifact_id}/content`, {
      headers: { 'if-none-match': `"${prompt?.sha256}"` },
    });
    expect(cached.status).toBe(304);
    expect(await cached.text()).toBe('');

    // Secrets stay out of the log: the render key is redacted, the provider key never appears.
    const events = await expectConsistentLog(client, first.workflow_run_id);
    const renderStarted = events.find(
      (e) => e.event_type === 'module_started' && e.module_name === 'render',
    );
    expect((renderStarted?.data['inputs'] as { headers: Record<string, string> }).headers).toEqual({
      'x-api-key': '[redacted]',
    });
    const renderDone = events.find(
      (e) => e.event_type === 'module_completed' && e.module_name === 'render',
    );
    expect(
      (renderDone?.data['outputs'] as { headers: Record<string, unknown> }).headers['set-cookie'],
    ).toBe('[redacted]');
    const everything = JSON.stringify(events);
    expect(everything).not.toContain(LLM_KEY);
    expect(everything).not.toContain('demo-render-key');
    expect(everything).not.toContain('render-secret');

    // The second run: the select shows when the first run chose its option, and the LLM prompt
    // carries the keywords the first run saved.
    const { run: second } = await client.start({
      workflow_version_id: versionId,
      project_name: 'weekly',
      initial_state: { render_url: `${fake.url}/render` },
    });
    const options = (
      second.pending_interaction?.request as {
        options: { value: string; key: string; last_used: string | null }[];
      }
    ).options;
    expect(options.map((o) => [o.key, o.last_used === null])).toEqual([
      ['idea:cat vs cucumber', true],
      ['idea:cat in a box', false],
      ['idea:cat at 3am', true],
    ]);
    expect(fake.chats[1]?.body.messages.at(-1)?.content).toContain(
      'Recently used, so avoid repeating: box, cosy, hide.',
    );

    const usageByOption = (await (
      await client.request('/v1/templates/content_pipeline/option-usage')
    ).json()) as { options: Record<string, string> };
    expect(Object.keys(usageByOption.options)).toEqual(['idea:cat in a box']);
    const keywords = (await (
      await client.request('/v1/templates/content_pipeline/keywords')
    ).json()) as {
      items: { keyword: string; total_weight: number; source: string; category: string }[];
    };
    expect(keywords.items.map((k) => [k.keyword, k.total_weight, k.source, k.category])).toEqual([
      ['box', 1, 'selected', 'idea'],
      ['cosy', 1, 'selected', 'idea'],
      ['hide', 1, 'selected', 'idea'],
    ]);
  });
});
