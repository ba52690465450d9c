import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useTestDatabases } from './support/databases.js';
import { createTestUser, startTestGateway, startTestResolver } from './support/gateway.js';
import { startServiceProcess, type ServiceProcess } from './support/processes.js';
import type { RunView } from '@stepwise/shared';
import { RunsClient } from './support/runs.js';
import { startStubProviders } from './support/stub-providers.js';

/**
 * `api.job` against the shipped stub image provider, over HTTP with a real runner process
 * (media.md, "Providers that take their time"; effects.md, rule 8): submit → several polls →
 * done, four real PNGs stored as artifacts and offered to a person by artifact; a provider that
 * fails, a job that never ends, a result that is not an image; and a runner killed while it
 * polls resumes polling without submitting again (the stub counts submissions).
 */
const db = await useTestDatabases('api_job');
const gateway = await startTestGateway(db);
await startTestResolver(db);
const stubs = await startStubProviders({ pollsToFinish: 3 });
afterAll(() => stubs.close());

const runnerEnv = () => ({
  MONGO_URL: db.mongoUrl,
  REDIS_URL: db.redisUrl,
  QUEUE_PREFIX: db.queuePrefix,
  LOG_LEVEL: 'info',
  OUTBOUND_ALLOWED_HOSTS: '127.0.0.1',
  // Short locks, sweeps and leases, so that a killed runner's work comes back within seconds.
  RUNNER_LOCK_MS: '1500',
  RUNNER_SWEEP_INTERVAL_MS: '1000',
  RUNNER_STALE_AFTER_MS: '3000',
  RUN_LEASE_MS: '2000',
});

async function startRunner(): Promise<ServiceProcess> {
  const runner = startServiceProcess('runner', runnerEnv());
  await runner.waitForLine((line) => line.includes('runner ready'));
  return runner;
}

function imageWorkflow(
  workflowId: string,
  poll = { initial_ms: 200, max_ms: 400, factor: 2 },
  timeoutMs = 4_000,
) {
  return {
    workflow_id: workflowId,
    initial_state: {},
    steps: [
      {
        step_id: 'generate',
        modules: [
          {
            module_id: 'api.job',
            name: 'images',
            inputs: {
              submit: {
                url: `${stubs.imagesBaseUrl}/jobs`,
                body: { prompt: '{{ run.project_name }} a cat in a hat', n: 4, size: 64 },
              },
              job_id_path: '$.id',
              status: { url: `${stubs.imagesBaseUrl}/jobs/{job_id}` },
              result_path: '$.output[*]',
              accept: ['image/png'],
              name: 'cat',
              poll,
              timeout_ms: timeoutMs,
            },
            outputs_to_state: { artifact_ids: 'images' },
          },
        ],
      },
      {
        step_id: 'pick',
        modules: [
          {
            module_id: 'user.select',
            name: 'best',
            inputs: { prompt: 'Which one is best?', options: '{{ state.images }}' },
            outputs_to_state: { selected: 'chosen' },
          },
        ],
      },
    ],
  };
}

let client: RunsClient;
let versionId: string;
let runner: ServiceProcess;
beforeAll(async () => {
  runner = await startRunner();
  client = new RunsClient(gateway, (await createTestUser(gateway, 'job-maker')).api_key);
  versionId = await client.submitJson(imageWorkflow('image_job'));
});
afterAll(async () => {
  runner.child.kill('SIGTERM');
  await runner.exited;
});

async function waitFor(runId: string, done: (run: RunView) => boolean, ms = 30_000) {
  const deadline = Date.now() + ms;
  let run = await client.get(runId);
  while (!done(run) && Date.now() < deadline) {
    await sleep(100);
    run = await client.get(runId);
  }
  return run;
}

const tag = randomBytes(3).toString('hex');
const submissionsOf = (project: string) =>
  stubs
    .recent()
    .images.filter((event) => event.kind === 'jobs' && event.prompt.startsWith(project));

describe('api.job with the stub image provider', () => {
  it('submits once, polls until done, stores four PNGs and offers them to a person', async () => {
    const project = `cats-${tag}`;
    const { run } = await client.start({ workflow_version_id: versionId, project_name: project });
    const waiting = await waitFor(run.workflow_run_id, (r) => r.status !== 'running');
    expect(waiting.status, JSON.stringify(waiting.error)).toBe('awaiting_input');

    const events = await client.events(run.workflow_run_id);
    const types = events.map((event) => event.event_type);
    expect(types.filter((type) => type === 'job_submitted')).toHaveLength(1);
    // queued → running → succeeded: the status changed once between submission and the end.
    expect(types.filter((type) => type === 'job_polled').length).toBeGreaterThanOrEqual(1);
    expect(types.indexOf('job_completed')).toBeLessThan(types.indexOf('module_completed'));
    expect(submissionsOf(project)).toHaveLength(1);
    const submitted = events.find((event) => event.event_type === 'job_submitted');
    const started = events.find(
      (event) => event.event_type === 'module_started' && event.module_name === 'images',
    );
    // The submission carried the attempt's key.
    expect(submissionsOf(project)[0]?.idempotency_key).toBe(started?.data['idempotency_key']);
    expect(submitted?.data['idempotency_key']).toBe(started?.data['idempotency_key']);

    // The person is offered the four images by artifact.
    const request = waiting.pending_interaction?.request as {
      options: { value: string; image?: string }[];
    };
    expect(request.options).toHaveLength(4);
    for (const option of request.options) expect(option.image).toBe(option.value);

    const list = await client.request(`/v1/runs/${run.workflow_run_id}/artifacts`);
    const artifacts = (
      (await list.json()) as {
        items: { artifact_id: string; event_id: string | null; content_type: string }[];
      }
    ).items;
    expect(artifacts.map((artifact) => artifact.artifact_id).sort()).toEqual(
      request.options.map((option) => option.value).sort(),
    );
    const shas = new Set<string>();
    for (const artifact of artifacts) {
      expect(artifact.content_type).toBe('image/png');
      expect(artifact.event_id, 'linked to the event that recorded it').not.toBeNull();
      const content = await client.request(`/v1/artifacts/${artifact.artifact_id}/content`);
      expect(content.status).toBe(200);
      const bytes = Buffer.from(await content.arrayBuffer());
      const meta = await sharp(bytes).metadata();
      expect([meta.format, meta.width, meta.height]).toEqual(['png', 64, 64]);
      shas.add(bytes.toString('base64'));
    }
    expect(shas.size, 'four different images').toBe(4);

    const picked = await client.answerPending(waiting, { selected_indices: [2] });
    const done = await waitFor(picked.workflow_run_id, (r) => r.status !== 'running');
    expect(done.status).toBe('completed');
    const state = await client.state(run.workflow_run_id);
    expect(state.state['chosen']).toBe(request.options[2]?.value);
  });

  it('a provider that fails, a job that never ends and a result that is not an image fail the module with the reason', async () => {
    const cases = [
      { marker: '[fail]', code: 'JOB_FAILED', message: /refused this prompt/ },
      { marker: '[never]', code: 'JOB_TIMEOUT', message: /did not finish/ },
      { marker: '[not-image]', code: 'JOB_RESULT_REFUSED', message: /not image\/png/ },
    ];
    const failing = await client.submitJson({
      ...imageWorkflow('image_job_failing'),
      steps: imageWorkflow('image_job_failing').steps.slice(0, 1),
    });
    for (const { marker, code, message } of cases) {
      const project = `${marker}-${tag}`;
      const { run } = await client.start({ workflow_version_id: failing, project_name: project });
      const ended = await waitFor(run.workflow_run_id, (r) => r.status !== 'running');
      expect(ended.status, marker).toBe('error');
      expect(ended.error?.code, marker).toBe(code);
      expect(ended.error?.message, marker).toMatch(message);
      const types = (await client.events(run.workflow_run_id)).map((event) => event.event_type);
      expect(types, marker).toContain('job_failed');
      expect(types.indexOf('job_failed'), marker).toBeLessThan(types.indexOf('module_failed'));
      expect(submissionsOf(project), marker).toHaveLength(1);
      // Nothing of a failed job stays: a refused result is not kept as an artifact of the run.
      const linked = await db.models.artifacts.collection.countDocuments({
        workflow_run_id: run.workflow_run_id,
        event_id: { $ne: null },
      });
      expect(linked, marker).toBe(0);
    }
  });

  it('a provider that answers with the files at once is the same module with no polling', async () => {
    const synchronous = await client.submitJson({
      workflow_id: 'image_sync',
      initial_state: {},
      steps: [
        {
          step_id: 'generate',
          modules: [
            {
              module_id: 'api.job',
              name: 'images',
              inputs: {
                submit: {
                  url: `${stubs.imagesBaseUrl}/generate`,
                  body: { prompt: 'sync {{ run.project_name }}', n: 2, size: 32 },
                },
                result_path: '$.images[*].b64',
                result_encoding: 'base64',
                accept: ['image/*'],
              },
              outputs_to_state: { artifact_ids: 'images' },
            },
          ],
        },
      ],
    });
    const { run } = await client.start({
      workflow_version_id: synchronous,
      project_name: `sync-${tag}`,
    });
    const done = await waitFor(run.workflow_run_id, (r) => r.status !== 'running');
    expect(done.status, JSON.stringify(done.error)).toBe('completed');
    const events = await client.events(run.workflow_run_id);
    const types = events.map((event) => event.event_type);
    expect(types).not.toContain('job_submitted');
    const completed = events.find((event) => event.event_type === 'job_completed');
    expect(completed?.data).toMatchObject({ job_id: null });
    const ids = (await client.state(run.workflow_run_id)).state['images'] as string[];
    expect(ids).toHaveLength(2);
    for (const id of ids) {
      const bytes = Buffer.from(
        await (await client.request(`/v1/artifacts/${id}/content`)).arrayBuffer(),
      );
      expect((await sharp(bytes).metadata()).width).toBe(32);
    }
  });

  it('a provider that answers with the file itself (not JSON) gives that file', async () => {
    // A finished job of the stub's: its file URL answers image/png bytes, as a synchronous
    // provider that returns the picture would.
    const submitted = await fetch(`${stubs.imagesBaseUrl}/jobs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ prompt: `raw file ${tag} [polls=1]`, size: 24 }),
    });
    const { id } = (await submitted.json()) as { id: string };
    const view = (await (await fetch(`${stubs.imagesBaseUrl}/jobs/${id}`)).json()) as {
      output: string[];
    };
    const raw = await client.submitJson({
      workflow_id: 'image_raw',
      initial_state: {},
      steps: [
        {
          step_id: 'fetch',
          modules: [
            {
              module_id: 'api.job',
              name: 'picture',
              inputs: { submit: { url: view.output[0], method: 'GET' }, accept: ['image/png'] },
              outputs_to_state: { 'artifacts.0.artifact_id': 'picture' },
            },
          ],
        },
      ],
    });
    const { run } = await client.start({ workflow_version_id: raw, project_name: 'raw' });
    const done = await waitFor(run.workflow_run_id, (r) => r.status !== 'running');
    expect(done.status, JSON.stringify(done.error)).toBe('completed');
    const picture = (await client.state(run.workflow_run_id)).state['picture'] as string;
    const bytes = Buffer.from(
      await (await client.request(`/v1/artifacts/${picture}/content`)).arrayBuffer(),
    );
    expect((await sharp(bytes).metadata()).width).toBe(24);
  });

  it('keeps to the outbound rules of api.fetch: a refused destination gets no request', async () => {
    const refused = await client.submitJson({
      workflow_id: 'image_refused',
      initial_state: {},
      steps: [
        {
          step_id: 'generate',
          modules: [
            {
              module_id: 'api.job',
              name: 'images',
              inputs: {
                // Link-local (a cloud metadata address): refused before any packet is sent.
                submit: { url: 'http://169.254.169.254/v1/jobs', body: { prompt: 'x' } },
                job_id_path: '$.id',
                status: { url: 'http://169.254.169.254/v1/jobs/{job_id}' },
                result_path: '$.output[*]',
              },
            },
          ],
        },
      ],
    });
    const { run } = await client.start({ workflow_version_id: refused, project_name: 'refused' });
    const done = await waitFor(run.workflow_run_id, (r) => r.status !== 'running');
    expect(done.status).toBe('error');
    expect(done.error?.code).toBe('DESTINATION_REFUSED');
  });

  it('a runner killed while it polls resumes polling and never submits again', async () => {
    // Slow enough that the kill lands between checks: the job finishes on its sixth poll.
    const slow = await client.submitJson({
      ...imageWorkflow('image_job_slow', { initial_ms: 300, max_ms: 600, factor: 2 }, 30_000),
    });
    const project = `killed-${tag}`;
    const { run } = await client.start({
      workflow_version_id: slow,
      project_name: `${project} [polls=6]`,
    });
    // Submitted: the job id is in the log; then the runner dies between two checks.
    const deadline = Date.now() + 10_000;
    while (
      !(await client.events(run.workflow_run_id)).some((e) => e.event_type === 'job_submitted') &&
      Date.now() < deadline
    )
      await sleep(50);
    const atKill = await client.get(run.workflow_run_id);
    expect([atKill.status, atKill.current_module]).toEqual(['running', 'images']);
    runner.child.kill('SIGKILL');
    await runner.exited;
    const pollsBefore = stubs.stats().images.polls;
    await sleep(1_500);
    runner = await startRunner();
    const done = await waitFor(run.workflow_run_id, (r) => r.status !== 'running');
    expect(done.status, JSON.stringify(done.error)).toBe('awaiting_input');
    expect(stubs.stats().images.polls).toBeGreaterThan(pollsBefore);
    expect(submissionsOf(project), 'one submission, however the runner died').toHaveLength(1);
    const ofImages = (await client.events(run.workflow_run_id))
      .filter((event) => event.module_name === 'images')
      .map((event) => event.event_type);
    expect(ofImages.filter((type) => type === 'job_submitted')).toHaveLength(1);
    expect(ofImages.filter((type) => type === 'module_started')).toHaveLength(1);
    expect(ofImages).not.toContain('module_interrupted');
  });

  it('with two runners and a cancel mid-poll, each run submits once and a cancelled job is checked no more', async () => {
    const second = await startRunner();
    try {
      const slow = await client.submitJson(
        imageWorkflow('image_job_two_runners', { initial_ms: 200, max_ms: 300, factor: 2 }, 30_000),
      );
      const projects = [0, 1, 2, 3, 4, 5].map((i) => `pair-${tag}-${i}`);
      const runs = await Promise.all(
        projects.map(async (project) => {
          const { run } = await client.start({
            workflow_version_id: slow,
            project_name: `${project} [polls=8]`,
          });
          return run.workflow_run_id;
        }),
      );
      // Half are cancelled while they wait on their job, the same moment an answer-less wake may
      // be running on either runner.
      const jobOf = async (runId: string) => {
        const deadline = Date.now() + 10_000;
        for (;;) {
          const submitted = (await client.events(runId)).find(
            (e) => e.event_type === 'job_submitted',
          );
          if (submitted) return String(submitted.data['job_id']);
          if (Date.now() > deadline) throw new Error(`no job for ${runId}`);
          await sleep(50);
        }
      };
      const cancelled = runs.slice(0, 3);
      const pollsAtCancel = new Map<string, number>();
      const pollsOf = (jobId: string) =>
        stubs.recent().images.filter((event) => event.kind === 'poll' && event.job_id === jobId)
          .length;
      await Promise.all(
        cancelled.map(async (runId) => {
          const jobId = await jobOf(runId);
          const reply = await client.request(`/v1/runs/${runId}/cancel`, { method: 'POST' });
          expect([200, 202]).toContain(reply.status);
          pollsAtCancel.set(jobId, pollsOf(jobId));
        }),
      );
      const ended = await Promise.all(
        runs.map((runId) => waitFor(runId, (r) => r.status !== 'running', 40_000)),
      );
      for (const [i, run] of ended.entries())
        expect(run.status, projects[i]).toBe(i < 3 ? 'cancelled' : 'awaiting_input');
      await sleep(1_500);
      // Counted at the provider: one submission per run, whoever polled it.
      for (const project of projects) expect(submissionsOf(project), project).toHaveLength(1);
      // A cancelled run's job is checked at most once more (a check already under way).
      for (const [jobId, atCancel] of pollsAtCancel)
        expect(pollsOf(jobId) - atCancel, jobId).toBeLessThanOrEqual(1);
      for (const runId of runs) {
        const types = (await client.events(runId)).map((event) => event.event_type);
        expect(
          types.filter((type) => type === 'job_submitted'),
          runId,
        ).toHaveLength(1);
      }
    } finally {
      second.child.kill('SIGTERM');
      await second.exited;
    }
  }, 90_000);

  it('a run waiting on a poll timer holds no lease and is not stale for the sweeper', async () => {
    const patient = await client.submitJson(
      imageWorkflow('image_job_patient', { initial_ms: 5_000, max_ms: 5_000, factor: 1 }, 30_000),
    );
    const project = `patient-${tag}`;
    const { run } = await client.start({ workflow_version_id: patient, project_name: project });
    const deadline = Date.now() + 10_000;
    let doc: Record<string, unknown> | null = null;
    while (Date.now() < deadline) {
      doc = await db.models.runs.collection.findOne({ workflow_run_id: run.workflow_run_id });
      const snapshot = doc?.['snapshot'] as { cursor?: { phase?: string } } | undefined;
      if (snapshot?.cursor?.phase === 'job_wait' && doc?.['lease_holder'] === null) break;
      await sleep(50);
    }
    const snapshot = doc?.['snapshot'] as {
      cursor?: { phase?: string };
      job?: { job_id?: string };
    };
    expect(snapshot.cursor?.phase).toBe('job_wait');
    expect(snapshot.job?.job_id).toMatch(/^job_/);
    expect(doc?.['lease_holder'], 'no lease while it waits').toBeNull();
    // Its timer is ahead: the sweeper (every second here, stale after 3 s) leaves it alone, so the
    // provider sees no check before the first poll is due.
    const polls = () =>
      stubs
        .recent()
        .images.filter((event) => event.kind === 'poll' && event.job_id === snapshot.job?.job_id)
        .length;
    await sleep(3_500);
    expect(polls()).toBe(0);
    const done = await waitFor(run.workflow_run_id, (r) => r.status !== 'running', 40_000);
    expect(done.status).toBe('awaiting_input');
    expect(submissionsOf(project)).toHaveLength(1);
  });
});
