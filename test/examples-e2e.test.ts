import { createHash } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createModuleCatalog, type DisplayItem, type RunView } from '@stepwise/shared';
import { runnerEnvSchema } from '@stepwise/shared/node';
import { readSubmission } from '../packages/cli/src/bundle.js';
import { buildVersion } from '../services/resolver/src/build-version.js';
import { useTestDatabases } from './support/databases.js';
import {
  createTestUser,
  startTestGateway,
  startTestResolver,
  testBundleLimits,
} from './support/gateway.js';
import { startProcess } from './support/processes.js';
import { startTestRunner } from './support/runner.js';
import { RunsClient, expectConsistentLog } from './support/runs.js';
import {
  DEFAULT_STUB_PORT,
  FAIL_MESSAGE,
  STUB_API_KEY,
  exportLines,
  parseExports,
  runnerOptionsFromSettings,
  stubSettings,
  useStubProviders,
  type StubJobView,
} from './support/stub-providers.js';

/**
 * The examples as their READMEs tell a person to run them: the stub providers started, the runner
 * configured with exactly the settings `npm run stubs` prints, each example folder submitted as
 * the CLI zips it, and every question answered over the real HTTP API. Also the stubs themselves.
 */

const root = new URL('../', import.meta.url).pathname;
const db = await useTestDatabases('examples_e2e');
// The providers the runner calls, and a second instance for the stubs' own tests.
const stubs = await useStubProviders();
const probe = await useStubProviders();
const printed = exportLines(stubSettings(stubs));
const gateway = await startTestGateway(db);
await startTestResolver(db);
await startTestRunner(db, runnerOptionsFromSettings(parseExports(printed.join('\n'))));

let client: RunsClient;
beforeAll(async () => {
  client = new RunsClient(gateway, (await createTestUser(gateway, 'tourist')).api_key);
});

/**
 * An example folder as the CLI zips it, after the one edit its README asks for when the stubs
 * listen elsewhere than port 4010: `config.image_api` pointed at them.
 */
const copies: string[] = [];
afterAll(() => {
  for (const copy of copies) rmSync(copy, { recursive: true, force: true });
});

async function exampleBundle(name: string): Promise<Uint8Array> {
  const copy = mkdtempSync(join(tmpdir(), 'stepwise-example-'));
  copies.push(copy);
  const folder = join(copy, name);
  cpSync(join(root, 'examples', name), folder, { recursive: true });
  const entry = join(folder, 'workflow.json');
  const workflow = JSON.parse(readFileSync(entry, 'utf8')) as { config: Record<string, unknown> };
  expect(workflow.config['image_api']).toBe(`http://127.0.0.1:${DEFAULT_STUB_PORT}/images/v1`);
  workflow.config['image_api'] = stubs.imagesBaseUrl;
  writeFileSync(entry, `${JSON.stringify(workflow, null, 2)}\n`);
  return (await readSubmission(folder)).bytes;
}

async function submitExample(name: string): Promise<void> {
  const response = await client.request('/v1/workflows', {
    method: 'POST',
    headers: { 'content-type': 'application/zip' },
    body: await exampleBundle(name),
  });
  expect(response.status, await response.clone().text()).toBe(201);
}

/** Reads the run until `ready` holds; fails at once if it ended (or failed) otherwise. */
async function settle(
  runId: string,
  ready: (run: RunView) => boolean,
  timeoutMs = 30_000,
): Promise<RunView> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const run = await client.get(runId, '?wait=true&wait_ms=1000');
    if (ready(run)) return run;
    if (['failed', 'completed', 'cancelled'].includes(run.status) || Date.now() > deadline)
      throw new Error(
        `run ${runId} is ${run.status} at ${run.current_step}.${run.current_module}: ${JSON.stringify(run.error)}`,
      );
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const asking = (step: string, module: string) => (run: RunView) =>
  run.status === 'awaiting_input' && run.current_step === step && run.current_module === module;

/** Answers the pending question (the runner may still be working when the answer returns). */
async function answer(run: RunView, response: unknown): Promise<void> {
  const { status, body } = await client.answer(
    run.workflow_run_id,
    run.pending_interaction?.interaction_id ?? '',
    response,
  );
  expect([200, 202], JSON.stringify(body)).toContain(status);
}

function requestOf<T>(run: RunView): T {
  return run.pending_interaction?.request as T;
}

/** An artifact's bytes, checked to be a PNG of `size` pixels square. */
async function pngArtifact(artifactId: string, size: number): Promise<Buffer> {
  const response = await client.request(`/v1/artifacts/${artifactId}/content`);
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toMatch(/^image\/png/);
  const bytes = Buffer.from(await response.arrayBuffer());
  expect(await sharp(bytes).metadata()).toMatchObject({ format: 'png', width: size, height: size });
  return bytes;
}

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

describe('the examples validate', () => {
  it.each(['content-pipeline', 'image-pick', 'pet-clips'])(
    '%s, as the resolver checks a submission',
    async (name) => {
      const { bytes } = await readSubmission(join(root, 'examples', name));
      const built = await buildVersion(
        { bytes, sourceType: 'zip' },
        testBundleLimits,
        createModuleCatalog(),
      );
      expect(built.workflow.workflow_id).toBe(name.replace('-', '_'));
    },
  );
});

describe('content-pipeline against the stubs', () => {
  it('runs end to end: ideas sent back with feedback the LLM sees, a pick, an image, approval', async () => {
    await submitExample('content-pipeline');
    stubs.reset();
    const { run } = await client.start({
      workflow_template_name: 'content_pipeline',
      project_name: 'weekly',
    });
    const runId = run.workflow_run_id;
    const first = await settle(runId, asking('choose', 'pick'));
    const firstOptions = requestOf<{ options: { value: string }[] }>(first).options;
    expect(firstOptions).toHaveLength(3);
    expect(stubs.stats().llm.calls).toBe(1);

    // None fits: the ideas go back to the LLM with a person's feedback (run.feedback).
    const feedback = 'Only ideas with a cardboard box in them, please';
    const retried = await client.request(`/v1/runs/${runId}/retry`, {
      method: 'POST',
      json: { step_id: 'ideas', module_name: 'brainstorm', feedback },
    });
    expect([200, 202]).toContain(retried.status);
    const second = await settle(
      runId,
      (current) =>
        asking('choose', 'pick')(current) &&
        current.pending_interaction?.interaction_id !== first.pending_interaction?.interaction_id,
    );
    const llm = stubs.recent().llm;
    expect(llm).toHaveLength(2);
    const userPrompts = llm.map(
      (call) => call.messages.findLast((m) => m.role === 'user')?.content,
    );
    expect(userPrompts[0]).not.toContain(feedback);
    expect(userPrompts[1]).toContain(feedback);
    expect(llm.every((call) => call.response_format === 'json_schema')).toBe(true);
    const options = requestOf<{ options: { value: string }[] }>(second).options;
    expect(options.map((o) => o.value)).not.toEqual(firstOptions.map((o) => o.value));

    await answer(second, { selected_indices: [1] });
    const approving = await settle(runId, asking('approve', 'publish'));
    const { state } = await client.state(runId);
    expect(state['idea']).toBe(options[1]?.value);
    expect(state['image_prompt']).toContain(`Scene: ${options[1]?.value}.`);
    const display = requestOf<{ display: DisplayItem[] }>(approving).display;
    expect(display.map((item) => [item.label, item.kind])).toEqual([
      ['Cover image', 'image'],
      ['Image prompt', 'text'],
    ]);
    expect(display[0]?.value).toBe(state['image']);
    expect(String(state['image'])).toMatch(/^art_/);
    await pngArtifact(String(state['image']), 256);

    await answer(approving, { confirmed: true });
    const done = await settle(runId, (current) => current.status === 'completed');
    expect(done.error).toBeNull();
    expect((await client.state(runId)).state['published']).toBe(true);
    await expectConsistentLog(client, runId);

    const stats = stubs.stats();
    expect(stats.llm.calls).toBe(2);
    // Each LLM call and the image submission carried an attempt's idempotency key.
    expect(Object.values(stats.llm.by_idempotency_key).reduce((a, b) => a + b, 0)).toBe(2);
    expect(stats.images).toMatchObject({
      submissions: 1,
      jobs_created: 1,
      duplicate_submissions: 0,
      downloads: 1,
    });
    expect(stats.images.polls).toBeGreaterThanOrEqual(3);
    expect(Object.values(stats.images.by_idempotency_key)).toEqual([1]);
  }, 90_000);
});

describe('image-pick against the stubs', () => {
  it('makes four images, a person picks one, uploads a photo, and approves both', async () => {
    await submitExample('image-pick');
    stubs.reset();
    const { run } = await client.start({
      workflow_template_name: 'image_pick',
      project_name: 'fox',
    });
    const runId = run.workflow_run_id;
    const picking = await settle(runId, asking('pick', 'best'));
    const options = requestOf<{ options: { value: string }[] }>(picking).options;
    expect(options).toHaveLength(4);
    const candidates = options.map((option) => option.value);
    for (const id of candidates) expect(id).toMatch(/^art_/);
    const images = await Promise.all(candidates.map((id) => pngArtifact(id, 256)));
    expect(new Set(images.map(sha256)).size).toBe(4);

    await answer(picking, { selected_indices: [2] });
    const uploading = await settle(runId, asking('reference', 'photo'));
    expect(requestOf<Record<string, unknown>>(uploading)).toMatchObject({
      accept: ['image/png', 'image/jpeg', 'image/webp'],
      min_files: 1,
      max_files: 1,
    });
    const photo = await sharp({
      create: { width: 40, height: 30, channels: 3, background: { r: 30, g: 160, b: 90 } },
    })
      .png()
      .toBuffer();
    const uploaded = await client.request(`/v1/runs/${runId}/uploads?name=photo.png`, {
      method: 'POST',
      headers: { 'content-type': 'image/png' },
      body: photo,
    });
    const upload = (await uploaded.json()) as { artifact_id: string };
    expect(uploaded.status, JSON.stringify(upload)).toBe(201);
    expect(upload.artifact_id).toMatch(/^art_/);
    await answer(uploading, { artifact_ids: [upload.artifact_id] });

    const approving = await settle(runId, asking('approve', 'keep'));
    expect(requestOf<{ display: DisplayItem[] }>(approving).display).toEqual([
      { label: 'Your pick', kind: 'image', value: candidates[2] },
      { label: 'Your reference photo', kind: 'image', value: upload.artifact_id },
      { label: 'Prompt', kind: 'text', value: expect.stringContaining('red fox') },
    ]);
    const stored = await client.request(`/v1/artifacts/${upload.artifact_id}/content`);
    expect(Buffer.from(await stored.arrayBuffer()).equals(photo)).toBe(true);

    await answer(approving, { confirmed: true });
    const done = await settle(runId, (current) => current.status === 'completed');
    expect(done.error).toBeNull();
    expect((await client.state(runId)).state).toMatchObject({
      chosen: candidates[2],
      photo: upload.artifact_id,
      approved: true,
    });
    await expectConsistentLog(client, runId);
    // The chosen and the uploaded image both download with previews (WebP, never enlarged).
    for (const [id, width] of [
      [candidates[2] ?? '', 256],
      [upload.artifact_id, 40],
    ] as const) {
      const preview = await client.request(`/v1/artifacts/${id}/preview`);
      expect(preview.status, id).toBe(200);
      expect(preview.headers.get('content-type')).toBe('image/webp');
      const meta = await sharp(Buffer.from(await preview.arrayBuffer())).metadata();
      expect([meta.format, meta.width], id).toEqual(['webp', width]);
    }
    expect(stubs.stats().images).toMatchObject({
      submissions: 1,
      jobs_created: 1,
      duplicate_submissions: 0,
      downloads: 4,
    });
  }, 90_000);
});

// ---------------------------------------------------------------------------------------------
// The stubs themselves.

async function chat(body: unknown, headers: Record<string, string> = {}) {
  const response = await fetch(`${probe.llmBaseUrl}/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  return { status: response.status, text: await response.text() };
}

async function submitJob(body: unknown, key?: string) {
  const response = await fetch(`${probe.imagesBaseUrl}/jobs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(key ? { 'idempotency-key': key } : {}) },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as StubJobView };
}

async function poll(id: string): Promise<StubJobView> {
  const response = await fetch(`${probe.imagesBaseUrl}/jobs/${id}`);
  expect(response.status).toBe(200);
  return (await response.json()) as StubJobView;
}

async function download(url: string) {
  const response = await fetch(url);
  return {
    status: response.status,
    type: response.headers.get('content-type'),
    bytes: Buffer.from(await response.arrayBuffer()),
  };
}

describe('the stub LLM', () => {
  const ideasSchema = JSON.parse(
    readFileSync(join(root, 'examples/content-pipeline/schemas/ideas.json'), 'utf8'),
  ) as Record<string, unknown>;
  const richSchema = {
    type: 'object',
    additionalProperties: false,
    required: ['name', 'count', 'ratio', 'mood', 'tags', 'when', 'nested', 'maybe', 'pair'],
    properties: {
      name: { type: 'string', minLength: 30, maxLength: 40 },
      count: { type: 'integer', minimum: 7, maximum: 9 },
      ratio: { type: 'number', exclusiveMinimum: 0, maximum: 1 },
      mood: { enum: ['calm', 'wild'] },
      tags: { type: 'array', minItems: 5, uniqueItems: true, items: { type: 'string' } },
      when: { type: 'string', format: 'date-time' },
      nested: { $ref: '#/$defs/point' },
      maybe: { anyOf: [{ type: 'null' }, { type: 'boolean' }] },
      pair: { type: 'array', items: [{ type: 'integer' }, { const: 'x' }], additionalItems: false },
    },
    $defs: {
      point: {
        type: 'object',
        required: ['x', 'y'],
        properties: { x: { type: 'number' }, y: { type: 'number', multipleOf: 0.5 } },
      },
    },
  };
  const ajv = new Ajv({ allErrors: true, strict: false });

  it('answers a json_schema request with JSON that validates, the same for the same request', async () => {
    for (const schema of [ideasSchema, richSchema]) {
      const request = {
        model: 'gpt-4o-mini',
        messages: [
          { role: 'system', content: 'Answer in JSON.' },
          { role: 'user', content: 'Give 3 ideas for a video about otters.' },
        ],
        response_format: { type: 'json_schema', json_schema: { name: 'output', schema } },
      };
      const first = await chat(request);
      const again = await chat(request);
      expect(first.status).toBe(200);
      expect(again.text).toBe(first.text);
      const completion = JSON.parse(first.text) as {
        choices: { message: { content: string } }[];
        usage: { prompt_tokens: number; completion_tokens: number; total_tokens: number };
      };
      const json = JSON.parse(completion.choices[0]?.message.content ?? '') as unknown;
      const validate = ajv.compile(schema);
      expect(validate(json), ajv.errorsText(validate.errors)).toBe(true);
      expect(completion.usage.prompt_tokens).toBeGreaterThan(0);
      expect(completion.usage.total_tokens).toBe(
        completion.usage.prompt_tokens + completion.usage.completion_tokens,
      );
      // Another prompt, another answer.
      const other = await chat({
        ...request,
        messages: [{ role: 'user', content: 'Give 3 ideas for a video about owls.' }],
      });
      expect(other.text).not.toBe(first.text);
    }
    const ideas = JSON.parse(
      (
        JSON.parse(
          (
            await chat({
              model: 'm',
              messages: [{ role: 'user', content: 'ideas' }],
              response_format: {
                type: 'json_schema',
                json_schema: { name: 'o', schema: ideasSchema },
              },
            })
          ).text,
        ) as { choices: { message: { content: string } }[] }
      ).choices[0]?.message.content ?? '',
    ) as { ideas: unknown[] };
    expect(ideas.ideas).toHaveLength(3);
  });

  it('answers plain text quoting the prompt, fails on [llm-fail], and counts calls by key', async () => {
    probe.reset();
    const text = await chat(
      {
        model: 'm',
        messages: [{ role: 'user', content: 'Write a caption for two sleepy otters' }],
      },
      { 'idempotency-key': 'key-1' },
    );
    expect(text.status).toBe(200);
    const content = (JSON.parse(text.text) as { choices: { message: { content: string } }[] })
      .choices[0]?.message.content;
    expect(content).toContain('Write a caption for two sleepy otters');
    const failed = await chat(
      { model: 'm', messages: [{ role: 'user', content: 'break [llm-fail] now' }] },
      { 'idempotency-key': 'key-1' },
    );
    expect(failed.status).toBe(500);
    expect((await chat({ model: 'm' })).status).toBe(400);
    expect(probe.stats().llm).toEqual({ calls: 3, by_idempotency_key: { 'key-1': 2 } });
  });
});

describe('the stub image provider', () => {
  it('goes queued → running → succeeded at the 3rd poll, and serves deterministic PNGs', async () => {
    probe.reset();
    const submitted = await submitJob({ prompt: 'two otters holding hands', n: 3, size: 48 });
    expect(submitted).toMatchObject({ status: 202, body: { status: 'queued' } });
    const id = submitted.body.id;
    expect(id).toMatch(/^job_\d+$/);
    expect((await poll(id)).status).toBe('queued');
    expect(await poll(id)).toEqual({ id, status: 'running' });
    const done = await poll(id);
    expect(done.status).toBe('succeeded');
    expect(done.output).toEqual([0, 1, 2].map((i) => `${probe.url}/images/files/${id}/${i}.png`));
    expect((await poll(id)).status).toBe('succeeded');

    const files = await Promise.all((done.output ?? []).map(download));
    for (const file of files) {
      expect(file).toMatchObject({ status: 200, type: 'image/png' });
      expect(await sharp(file.bytes).metadata()).toMatchObject({
        format: 'png',
        width: 48,
        height: 48,
      });
    }
    expect(new Set(files.map((file) => sha256(file.bytes))).size).toBe(3);

    // The same prompt in another job: the same bytes.
    const again = await submitJob({ prompt: 'two otters holding hands', n: 1, size: 48, extra: 1 });
    await poll(again.body.id);
    await poll(again.body.id);
    const sameFirst = await download((await poll(again.body.id)).output?.[0] ?? '');
    expect(sameFirst.bytes.equals(files[0]?.bytes ?? Buffer.alloc(0))).toBe(true);

    expect(probe.stats().images).toEqual({
      submissions: 2,
      jobs_created: 2,
      duplicate_submissions: 0,
      polls: 7,
      downloads: 4,
      by_idempotency_key: {},
    });
    const overHttp = await fetch(`${probe.url}/_stub/stats`);
    expect(await overHttp.json()).toEqual(probe.stats());
    const reset = await fetch(`${probe.url}/_stub/reset`, { method: 'POST' });
    expect(reset.status).toBe(200);
    expect(probe.stats().images.polls).toBe(0);
  });

  it('returns the same job for a repeated Idempotency-Key and creates nothing', async () => {
    probe.reset();
    const first = await submitJob({ prompt: 'a heron' }, 'attempt-1');
    const second = await submitJob({ prompt: 'a heron' }, 'attempt-1');
    expect(second).toEqual(first);
    const other = await submitJob({ prompt: 'a heron' }, 'attempt-2');
    expect(other.body.id).not.toBe(first.body.id);
    expect(probe.stats().images).toMatchObject({
      submissions: 3,
      jobs_created: 2,
      duplicate_submissions: 1,
      by_idempotency_key: { 'attempt-1': 2, 'attempt-2': 1 },
    });
  });

  it('honours the markers [polls=N], [fail], [never] and [not-image]', async () => {
    const quick = await submitJob({ prompt: 'fast [polls=1]' });
    expect((await poll(quick.body.id)).status).toBe('succeeded');

    const failing = await submitJob({ prompt: 'refuse me [fail]' });
    expect((await poll(failing.body.id)).status).toBe('queued');
    expect(await poll(failing.body.id)).toEqual({
      id: failing.body.id,
      status: 'failed',
      error: { message: FAIL_MESSAGE },
    });

    const stuck = await submitJob({ prompt: 'wait for ever [never]' });
    const seen = [];
    for (let i = 0; i < 6; i += 1) seen.push((await poll(stuck.body.id)).status);
    expect(seen).toEqual(['queued', 'running', 'running', 'running', 'running', 'running']);

    const text = await submitJob({ prompt: 'trick [not-image] [polls=2]', n: 2 });
    await poll(text.body.id);
    const finished = await poll(text.body.id);
    expect(finished.status).toBe('succeeded');
    const file = await download(finished.output?.[1] ?? '');
    expect(file.status).toBe(200);
    expect(file.type).toMatch(/^text\/plain/);
    await expect(sharp(file.bytes).metadata()).rejects.toThrow();
  });

  it('answers synchronously with base64 PNGs, and refuses what it does not know', async () => {
    const response = await fetch(`${probe.imagesBaseUrl}/generate`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ prompt: 'a lighthouse', n: 2, size: 32 }),
    });
    expect(response.status).toBe(200);
    const body = (await response.json()) as { status: string; images: { b64: string }[] };
    expect(body.status).toBe('succeeded');
    expect(body.images).toHaveLength(2);
    for (const image of body.images)
      expect(await sharp(Buffer.from(image.b64, 'base64')).metadata()).toMatchObject({
        format: 'png',
        width: 32,
      });

    expect((await submitJob({ prompt: 'too many', n: 9 })).status).toBe(400);
    expect((await submitJob({ prompt: '' })).status).toBe(400);
    expect((await fetch(`${probe.imagesBaseUrl}/jobs/job_999999`)).status).toBe(404);
    const unknown = await fetch(`${probe.url}/nowhere`);
    expect(unknown.status).toBe(404);
    expect(unknown.headers.get('content-type')).toMatch(/^application\/json/);
    const unfinished = await submitJob({ prompt: 'not yet' });
    expect((await download(`${probe.url}/images/files/${unfinished.body.id}/0.png`)).status).toBe(
      404,
    );
  });
});

describe('npm run stubs', () => {
  it('prints the settings that make the runner use the stubs, and stops on Ctrl-C', async () => {
    const stubsProcess = startProcess('tools/stub-providers/main.mjs', ['--port', '0', '--quiet'], {
      OUTBOUND_ALLOWED_HOSTS: 'api.example.com',
    });
    await stubsProcess.waitForLine((line) => line.includes('Ctrl-C stops the stubs'));
    const output = stubsProcess.lines.join('\n');
    const settings = parseExports(output);
    const url = /ready at (http:\/\/127\.0\.0\.1:\d+)/.exec(output)?.[1] ?? '';
    expect(settings).toEqual({
      LLM_BASE_URL: `${url}/llm/v1`,
      LLM_API_KEY: STUB_API_KEY,
      OUTBOUND_ALLOWED_HOSTS: 'api.example.com,127.0.0.1',
    });
    // The runner's own schema accepts them.
    expect(
      runnerEnvSchema.parse({ MONGO_URL: 'mongodb://x/y', REDIS_URL: 'redis://x', ...settings })
        .OUTBOUND_ALLOWED_HOSTS,
    ).toEqual(['api.example.com', '127.0.0.1']);
    const stats = await fetch(`${url}/_stub/stats`);
    expect(stats.status).toBe(200);
    stubsProcess.child.kill('SIGINT');
    expect(await stubsProcess.exited).toBe(0);
  });

  it('prints for the default port exactly what the examples expect', () => {
    expect(
      exportLines(
        stubSettings({
          url: `http://127.0.0.1:${DEFAULT_STUB_PORT}`,
          llmBaseUrl: `http://127.0.0.1:${DEFAULT_STUB_PORT}/llm/v1`,
        }),
      ),
    ).toEqual([
      `export LLM_BASE_URL=http://127.0.0.1:${DEFAULT_STUB_PORT}/llm/v1`,
      `export LLM_API_KEY=${STUB_API_KEY}`,
      'export OUTBOUND_ALLOWED_HOSTS=127.0.0.1',
    ]);
    expect(printed[2]).toBe('export OUTBOUND_ALLOWED_HOSTS=127.0.0.1');
  });
});
