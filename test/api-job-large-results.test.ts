import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { RunView } from '@stepwise/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useTestDatabases } from './support/databases.js';
import { createTestUser, startTestGateway, startTestResolver } from './support/gateway.js';
import { rssBytes, storedArtifacts } from './support/media.js';
import { startServiceProcess, type ServiceProcess } from './support/processes.js';
import { RunsClient } from './support/runs.js';
import { stubImage } from './support/stub-providers.js';

/**
 * An outside job's result files are stored as they arrive (media.md): a result far larger than
 * what a runner may hold is written to GridFS chunk by chunk, the runner process's memory growing
 * by much less than the file, and one past MAX_ARTIFACT_BYTES is cut off with JOB_RESULT_TOO_LARGE
 * and nothing of it kept. The provider is a loopback server of this file's that answers with the
 * file's URL and then streams the file (a real PNG's head, then filler).
 */
const MiB = 1024 * 1024;
const LIMIT = 100 * MiB;
const db = await useTestDatabases('api_job_large');
const gateway = await startTestGateway(db);
await startTestResolver(db);

const png = await stubImage('large result', 0, 16);
let served = 0;
const provider: Server = createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://provider');
  if (url.pathname === '/submit') {
    const size = Number(url.searchParams.get('size'));
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ status: 'succeeded', files: [`${base()}/file.png?size=${size}`] }));
    return;
  }
  // The file: the PNG, then filler up to `size`, written with backpressure.
  const size = Number(url.searchParams.get('size'));
  const filler = Buffer.alloc(256 * 1024, 0x5a);
  res.setHeader('content-type', 'image/png');
  let sent = 0;
  const pump = () => {
    while (sent < size) {
      const chunk = sent === 0 ? png : filler.subarray(0, Math.min(filler.length, size - sent));
      sent += chunk.length;
      served += chunk.length;
      if (!res.write(chunk)) return void res.once('drain', pump);
    }
    res.end();
  };
  pump();
});
provider.listen(0, '127.0.0.1');
await once(provider, 'listening');
const base = () => `http://127.0.0.1:${(provider.address() as AddressInfo).port}`;
afterAll(() => new Promise((resolve) => provider.close(resolve)));

let runner: ServiceProcess;
let client: RunsClient;
let versionId: string;
beforeAll(async () => {
  runner = startServiceProcess('runner', {
    MONGO_URL: db.mongoUrl,
    REDIS_URL: db.redisUrl,
    QUEUE_PREFIX: db.queuePrefix,
    LOG_LEVEL: 'info',
    OUTBOUND_ALLOWED_HOSTS: '127.0.0.1',
    MAX_ARTIFACT_BYTES: String(LIMIT),
    FETCH_TIMEOUT_MS: '60000',
  });
  await runner.waitForLine((line) => line.includes('runner ready'));
  client = new RunsClient(gateway, (await createTestUser(gateway, 'large-results')).api_key);
  versionId = await client.submitJson({
    workflow_id: 'large_result',
    initial_state: {},
    steps: [
      {
        step_id: 'make',
        modules: [
          {
            module_id: 'api.job',
            name: 'render',
            inputs: {
              submit: { url: `${base()}/submit?size={{ state.size }}`, method: 'GET' },
              result_path: '$.files[*]',
              accept: ['image/png'],
            },
            outputs_to_state: { artifact_ids: 'files' },
          },
        ],
      },
    ],
  });
});
afterAll(async () => {
  runner.child.kill('SIGTERM');
  await runner.exited;
});

async function runWith(size: number): Promise<RunView> {
  const { run } = await client.start({
    workflow_version_id: versionId,
    project_name: `size-${size}`,
    initial_state: { size },
  });
  const deadline = Date.now() + 90_000;
  let current = run;
  while (current.status === 'running' && Date.now() < deadline) {
    await sleep(100);
    current = await client.get(run.workflow_run_id);
  }
  return current;
}

describe('large result files of an outside job', () => {
  it('are stored as they arrive, with the runner holding much less than the file', async () => {
    // Warm-up: the code paths and the young generation reach the size they keep.
    expect((await runWith(20 * MiB)).status).toBe('completed');
    const pid = runner.child.pid ?? 0;
    const baseline = rssBytes(pid);
    let peak = baseline;
    const sampler = setInterval(() => (peak = Math.max(peak, rssBytes(pid))), 20);
    const size = 80 * MiB;
    const done = await runWith(size);
    clearInterval(sampler);
    const growth = peak - baseline;
    console.log(
      `runner RSS while storing an ${size / MiB} MiB result: baseline ${(baseline / MiB).toFixed(1)} MiB, peak ${(peak / MiB).toFixed(1)} MiB, growth ${(growth / MiB).toFixed(1)} MiB`,
    );
    expect(done.status, JSON.stringify(done.error)).toBe('completed');
    const [id] = (await client.state(done.workflow_run_id)).state['files'] as string[];
    const stored = await db.models.artifacts.findOne({ artifact_id: id }).lean();
    expect([stored?.size, stored?.content_type]).toEqual([size, 'image/png']);
    // Held whole, the file alone would have grown the process by its size.
    expect(growth).toBeLessThan(size / 2);
  }, 180_000);

  it('past MAX_ARTIFACT_BYTES is cut off, fails the module, and leaves nothing stored', async () => {
    const before = await storedArtifacts(db);
    const servedBefore = served;
    const done = await runWith(LIMIT + 20 * MiB);
    expect(done.status).toBe('error');
    expect(done.error?.code).toBe('JOB_RESULT_TOO_LARGE');
    expect(await storedArtifacts(db)).toEqual(before);
    // The download stopped at the limit rather than reading the whole file.
    expect(served - servedBefore).toBeLessThan(LIMIT + 16 * MiB);
  }, 180_000);
});
