import { describe, expect, it } from 'vitest';
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

describe('per-user fairness on the runs queue', () => {
  it("one user's 500 queued runs do not starve another user's single run", async () => {
    const heavy = new RunsClient(gateway, (await createTestUser(gateway, 'heavy')).api_key);
    const light = new RunsClient(gateway, (await createTestUser(gateway, 'light')).api_key);
    const workflow = {
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
    const heavyVersion = await heavy.submitJson(workflow);
    const lightVersion = await light.submitJson(workflow);

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
      workflow_template_id: { $ne: settled.workflow_template_id },
      status: 'completed',
      updated_at: { $lte: lightDoneAt },
    });
    // FIFO would have run all 500 first; fair shares put it behind at most the heavy user's first.
    expect(heavyDone).toBeLessThanOrEqual(2);
  }, 60_000);
});
