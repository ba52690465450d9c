import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createModuleCatalog, type DisplayItem, type RunView } from '@stepwise/shared';
import { readSubmission } from '../packages/cli/src/bundle.js';
import { buildVersion } from '../services/resolver/src/build-version.js';
import { useTestDatabases } from './support/databases.js';
import {
  createTestUser,
  startTestGateway,
  startTestResolver,
  testBundleLimits,
} from './support/gateway.js';
import { sha256 } from './support/media.js';
import { startTestRunner } from './support/runner.js';
import { RunsClient, expectConsistentLog } from './support/runs.js';
import {
  DEFAULT_STUB_PORT,
  exportLines,
  parseExports,
  runnerOptionsFromSettings,
  stubSettings,
  useStubProviders,
} from './support/stub-providers.js';

/**
 * The examples as their READMEs tell a person to run them: the stub providers started, the runner
 * configured with exactly the settings `npm run stubs` prints, each example folder submitted as
 * the CLI zips it, and every question answered over the real HTTP API. The stubs' own tests are in
 * stub-providers.test.ts.
 */

const root = new URL('../', import.meta.url).pathname;
const db = await useTestDatabases('examples_e2e');
// The providers the runner calls.
const stubs = await useStubProviders();
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
