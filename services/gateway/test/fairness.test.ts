import { describe, expect, it, vi } from 'vitest';
import { fairShareKey, newId } from '@stepwise/shared';
import { useTestDatabases } from '../../../test/support/databases.js';
import {
  createTestUser,
  startTestGateway,
  startTestResolver,
} from '../../../test/support/gateway.js';
import { startTestRunner } from '../../../test/support/runner.js';
import { RunsClient } from '../../../test/support/runs.js';

const db = await useTestDatabases('fairness');
const gateway = await startTestGateway(db);
await startTestResolver(db);

const tinyWorkflow = {
  workflow_id: 'tiny',
  steps: [
    {
      step_id: 's',
      modules: [
        {
          module_id: 'transform.set',
          name: 'set',
          inputs: { value: 1 },
          outputs_to_state: { value: 'v' },
        },
      ],
    },
  ],
};

describe("a user's place in line", () => {
  // Before any runner starts: queued jobs keep their places, so the counter shows exactly what
  // the gateway took and gave back.
  it('is taken for a command that is queued, and given back for one that is not', async () => {
    const created = await createTestUser(gateway, 'placed');
    const client = new RunsClient(gateway, created.api_key);
    const other = new RunsClient(gateway, (await createTestUser(gateway, 'other')).api_key);
    const places = async () =>
      Number((await db.redis.get(fairShareKey(db.queuePrefix, created.user.user_id))) ?? 0);
    const { run } = await client.start(
      { workflow_version_id: await client.submitJson(tinyWorkflow) },
      '?wait_ms=0',
    );
    const { run: othersRun } = await other.start(
      { workflow_version_id: await other.submitJson(tinyWorkflow) },
      '?wait_ms=0',
    );
    const cancel = (runId: string, key: string) =>
      client.request(`/v1/runs/${runId}/cancel?wait_ms=0`, {
        method: 'POST',
        headers: { 'idempotency-key': key },
      });
    const before = await places();
    expect(before).toBe(1); // the run's start

    // Refused: no such run, another user's run. The place taken alongside is given back.
    expect((await cancel(newId('run'), 'k1')).status).toBe(404);
    expect((await cancel(othersRun.workflow_run_id, 'k2')).status).toBe(404);
    await vi.waitFor(async () => expect(await places()).toBe(before), { timeout: 2_000 });

    // Queued: one place more, and a repeat of the same request takes none.
    expect((await cancel(run.workflow_run_id, 'k3')).status).toBe(202);
    expect(await places()).toBe(before + 1);
    expect((await cancel(run.workflow_run_id, 'k3')).status).toBe(202);
    await vi.waitFor(async () => expect(await places()).toBe(before + 1), { timeout: 2_000 });
  });
});

describe('per-user fairness on the runs queue', () => {
  it("one user's 500 queued runs do not starve another user's single run", async () => {
    const heavyUser = await createTestUser(gateway, 'heavy');
    const heavy = new RunsClient(gateway, heavyUser.api_key);
    const light = new RunsClient(gateway, (await createTestUser(gateway, 'light')).api_key);
    const heavyVersion = await heavy.submitJson(tinyWorkflow);
    const lightVersion = await light.submitJson(tinyWorkflow);

    // All of the heavy user's work is queued before any runner starts; then one run of the other's.
    for (let batch = 0; batch < 10; batch++) {
      await Promise.all(
        Array.from({ length: 50 }, () =>
          heavy.start({ workflow_version_id: heavyVersion }, '?wait_ms=0'),
        ),
      );
    }
    const { run: lightRun } = await light.start(
      { workflow_version_id: lightVersion },
      '?wait_ms=0',
    );
    expect(lightRun.status).toBe('running');

    // One runner, one job at a time: the order of jobs is the queue's order.
    await startTestRunner(db, { concurrency: 1 });
    const settled = await light.get(lightRun.workflow_run_id, '?wait=true&wait_ms=30000');
    expect(settled.status).toBe('completed');
    // Counted by commit time, not at the moment the answer arrives: the runner goes on with the
    // heavy user's work meanwhile, and how far it gets depends on the store's latency.
    const lightDoneAt = (
      await db.models.runs.findOne({ workflow_run_id: lightRun.workflow_run_id })
    )?.updated_at;
    expect(lightDoneAt).toBeInstanceOf(Date);
    const heavyDone = await db.models.runs.countDocuments({
      user_id: heavyUser.user.user_id,
      status: 'completed',
      updated_at: { $lte: lightDoneAt },
    });
    // FIFO would have run all 500 first; fair shares put it behind at most the heavy user's first.
    expect(heavyDone).toBeLessThanOrEqual(2);
  }, 60_000);
});
