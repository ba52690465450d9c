import { readFileSync } from 'node:fs';
import { Ajv } from 'ajv';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { runnerEnvSchema } from '@stepwise/shared/node';
import { sha256 } from './support/media.js';
import { startProcess } from './support/processes.js';
import {
  DEFAULT_STUB_PORT,
  FAIL_MESSAGE,
  STUB_API_KEY,
  exportLines,
  parseExports,
  stubSettings,
  useStubProviders,
  type StubJobView,
} from './support/stub-providers.js';

/**
 * The stub providers themselves (tools/stub-providers), over HTTP as the runner calls them, and
 * `npm run stubs` as a person starts it. The examples run against them in examples-e2e.test.ts.
 */

const stubs = await useStubProviders();

async function chat(body: unknown, headers: Record<string, string> = {}) {
  const response = await fetch(`${stubs.llmBaseUrl}/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  return { status: response.status, text: await response.text() };
}

async function submitJob(body: unknown, key?: string) {
  const response = await fetch(`${stubs.imagesBaseUrl}/jobs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(key ? { 'idempotency-key': key } : {}) },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as StubJobView };
}

async function poll(id: string): Promise<StubJobView> {
  const response = await fetch(`${stubs.imagesBaseUrl}/jobs/${id}`);
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
    readFileSync(
      new URL('../examples/content-pipeline/schemas/ideas.json', import.meta.url),
      'utf8',
    ),
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
    stubs.reset();
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
    expect(stubs.stats().llm).toEqual({ calls: 3, by_idempotency_key: { 'key-1': 2 } });
  });
});

describe('the stub image provider', () => {
  it('goes queued → running → succeeded at the 3rd poll, and serves deterministic PNGs', async () => {
    stubs.reset();
    const submitted = await submitJob({ prompt: 'two otters holding hands', n: 3, size: 48 });
    expect(submitted).toMatchObject({ status: 202, body: { status: 'queued' } });
    const id = submitted.body.id;
    expect(id).toMatch(/^job_\d+$/);
    expect((await poll(id)).status).toBe('queued');
    expect(await poll(id)).toEqual({ id, status: 'running' });
    const done = await poll(id);
    expect(done.status).toBe('succeeded');
    expect(done.output).toEqual([0, 1, 2].map((i) => `${stubs.url}/images/files/${id}/${i}.png`));
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

    expect(stubs.stats().images).toEqual({
      submissions: 2,
      jobs_created: 2,
      duplicate_submissions: 0,
      polls: 7,
      downloads: 4,
      by_idempotency_key: {},
    });
    const overHttp = await fetch(`${stubs.url}/_stub/stats`);
    expect(await overHttp.json()).toEqual(stubs.stats());
    const reset = await fetch(`${stubs.url}/_stub/reset`, { method: 'POST' });
    expect(reset.status).toBe(200);
    expect(stubs.stats().images.polls).toBe(0);
  });

  it('returns the same job for a repeated Idempotency-Key and creates nothing', async () => {
    stubs.reset();
    const first = await submitJob({ prompt: 'a heron' }, 'attempt-1');
    const second = await submitJob({ prompt: 'a heron' }, 'attempt-1');
    expect(second).toEqual(first);
    const other = await submitJob({ prompt: 'a heron' }, 'attempt-2');
    expect(other.body.id).not.toBe(first.body.id);
    expect(stubs.stats().images).toMatchObject({
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
    const response = await fetch(`${stubs.imagesBaseUrl}/generate`, {
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
    expect((await fetch(`${stubs.imagesBaseUrl}/jobs/job_999999`)).status).toBe(404);
    const unknown = await fetch(`${stubs.url}/nowhere`);
    expect(unknown.status).toBe(404);
    expect(unknown.headers.get('content-type')).toMatch(/^application\/json/);
    const unfinished = await submitJob({ prompt: 'not yet' });
    expect((await download(`${stubs.url}/images/files/${unfinished.body.id}/0.png`)).status).toBe(
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
    // As an instance on a free port prints it, which is what the examples' runner is given.
    expect(exportLines(stubSettings(stubs))[2]).toBe('export OUTBOUND_ALLOWED_HOSTS=127.0.0.1');
  });
});
