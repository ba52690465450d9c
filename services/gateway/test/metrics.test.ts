import { describe, expect, it } from 'vitest';
import { useTestDatabases } from '../../../test/support/databases.js';
import {
  createTestUser,
  startTestGateway,
  startTestResolver,
} from '../../../test/support/gateway.js';
import { startTestRunner } from '../../../test/support/runner.js';
import { RunsClient } from '../../../test/support/runs.js';

const db = await useTestDatabases('metrics');
const gateway = await startTestGateway(db);
await startTestResolver(db);
await startTestRunner(db);

function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  const wanted = Object.entries(labels).map(([key, value]) => `${key}="${value}"`);
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const [series, value] = [
      line.slice(0, line.lastIndexOf(' ')),
      line.slice(line.lastIndexOf(' ') + 1),
    ];
    if (series.split('{')[0] !== name) continue;
    if (wanted.every((label) => series.includes(label))) return Number(value);
  }
  return Number.NaN;
}

describe('/metrics', () => {
  it('reports request latency, queue depth, job durations, events appended and runs by status', async () => {
    const client = new RunsClient(gateway, (await createTestUser(gateway, 'watched')).api_key);
    const versionId = await client.submitJson({
      workflow_id: 'm',
      steps: [
        {
          step_id: 's',
          modules: [{ module_id: 'transform.set', name: 'a', inputs: { value: 1 } }],
        },
      ],
    });
    const { run } = await client.start({ workflow_version_id: versionId });
    expect(run.status).toBe('completed');
    await new Promise((resolve) => setTimeout(resolve, 200));

    const response = await gateway.request('/metrics');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain/);
    const text = await response.text();
    expect(
      sample(text, 'stepwise_http_request_duration_seconds_count', {
        method: 'POST',
        route: '/v1/runs',
        status: '201',
      }),
    ).toBe(1);
    expect(
      sample(text, 'stepwise_queue_jobs', { queue: 'runs', state: 'completed' }),
    ).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'stepwise_queue_jobs', { queue: 'resolve', state: 'waiting' })).toBe(0);
    expect(
      sample(text, 'stepwise_job_duration_seconds_count', { queue: 'runs', outcome: 'completed' }),
    ).toBeGreaterThanOrEqual(1);
    expect(
      sample(text, 'stepwise_job_duration_seconds_count', {
        queue: 'resolve',
        outcome: 'completed',
      }),
    ).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'stepwise_events_appended_total')).toBe(run.last_seq);
    expect(sample(text, 'stepwise_runs', { status: 'completed' })).toBe(1);
    expect(sample(text, 'process_resident_memory_bytes')).toBeGreaterThan(0);
  });
});
