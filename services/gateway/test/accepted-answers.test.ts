import { beforeAll, describe, expect, it } from 'vitest';
import {
  createBranchResponseSchema,
  errorEnvelopeSchema,
  eventPageSchema,
  jobAcceptedSchema,
  runViewSchema,
  type RunView,
} from '@stepwise/shared';
import { useTestDatabases } from '../../../test/support/databases.js';
import {
  createTestUser,
  startTestGateway,
  startTestResolver,
} from '../../../test/support/gateway.js';
import { startTestRunner } from '../../../test/support/runner.js';
import { RunsClient } from '../../../test/support/runs.js';

/**
 * Every route that changes a run answers 202 when the runner has not applied its command within
 * `wait_ms` (api.md), with the body its document declares for 202: the run as accepted, or the
 * job of a workflow still resolving. The runner is stopped while the commands are sent, so each
 * answer is a 202 whatever the machine's speed; a new runner then applies every one of them.
 */

const db = await useTestDatabases('accepted');
const gateway = await startTestGateway(db);
await startTestResolver(db);
const firstRunner = await startTestRunner(db);

const workflow = (question: string) => ({
  workflow_id: 'accepts',
  steps: [
    {
      step_id: 'a',
      modules: [{ module_id: 'user.confirm', name: 'one', inputs: { message: question } }],
    },
    {
      step_id: 'b',
      modules: [{ module_id: 'user.confirm', name: 'two', inputs: { message: 'b?' } }],
    },
  ],
});

let alice: RunsClient;
let versionId: string;
const waiting: RunView[] = [];
beforeAll(async () => {
  alice = new RunsClient(gateway, (await createTestUser(gateway, 'alice')).api_key);
  versionId = await alice.submitJson(workflow('a?'));
  for (let i = 0; i < 6; i++) {
    const { status, run } = await alice.start({ workflow_version_id: versionId });
    expect([status, run.status]).toEqual([201, 'awaiting_input']);
    waiting.push(run);
  }
  await firstRunner.close();
});

async function post(path: string, json?: unknown, type?: string) {
  const response = await alice.request(path, {
    method: 'POST',
    ...(type ? { headers: { 'content-type': type }, body: JSON.stringify(json) } : { json }),
  });
  return { status: response.status, body: (await response.json()) as unknown };
}

describe('a command the runner has not applied within wait_ms', () => {
  const runAt = (index: number) => waiting[index] as RunView;

  it('answers 202 with the run as accepted, on every route that changes a run', async () => {
    const [answered, cancelled, retried, branched, resumed] = [
      runAt(0),
      runAt(1),
      runAt(2),
      runAt(3),
      runAt(4),
    ];
    const events = eventPageSchema.parse(
      await (await alice.request(`/v1/runs/${branched.workflow_run_id}/events`)).json(),
    );
    const answers = [
      await post('/v1/runs?wait_ms=0', { project_name: 'late', workflow_version_id: versionId }),
      await post(
        `/v1/runs/${answered.workflow_run_id}/interactions/${answered.pending_interaction?.interaction_id ?? ''}?wait_ms=0`,
        { response: { confirmed: true } },
      ),
      await post(`/v1/runs/${cancelled.workflow_run_id}/cancel?wait_ms=0`),
      await post(`/v1/runs/${retried.workflow_run_id}/retry?wait_ms=0`, { step_id: 'a' }),
      await post(`/v1/runs/${resumed.workflow_run_id}/resume?wait_ms=0`),
    ];
    for (const answer of answers) {
      expect(answer.status, JSON.stringify(answer.body)).toBe(202);
      runViewSchema.parse(answer.body);
    }
    const branch = await post(`/v1/runs/${branched.workflow_run_id}/branches?wait_ms=0`, {
      from_event_id: events.items[0]?.event_id,
    });
    expect(branch.status).toBe(202);
    expect(createBranchResponseSchema.parse(branch.body).branch).toBeNull();

    // A new runner applies each of them.
    await startTestRunner(db);
    await expect
      .poll(async () => (await alice.get(answered.workflow_run_id)).current_step)
      .toBe('b');
    await expect
      .poll(async () => (await alice.get(cancelled.workflow_run_id)).status)
      .toBe('cancelled');
    const started = runViewSchema.parse(answers[0]?.body);
    await expect
      .poll(async () => (await alice.get(started.workflow_run_id)).status)
      .toBe('awaiting_input');
  });

  it('resume with a workflow still resolving answers 202 {job_id}; confirm answers 202', async () => {
    const run = runAt(5);
    const changed = workflow('a, again?');
    const pending = await post(
      `/v1/runs/${run.workflow_run_id}/resume?wait_ms=0`,
      changed,
      'application/json',
    );
    expect(pending.status).toBe(202);
    expect(jobAcceptedSchema.strict().parse(pending.body).job_id).toMatch(/^job_/);

    const mismatch = await post(
      `/v1/runs/${run.workflow_run_id}/resume`,
      changed,
      'application/json',
    );
    expect(mismatch.status).toBe(409);
    const details = errorEnvelopeSchema.parse(mismatch.body).error.details as {
      submitted_version: string;
    };
    const confirmed = await post(`/v1/runs/${run.workflow_run_id}/resume/confirm?wait_ms=0`, {
      choice: 'continue_with_new',
      submitted_version_id: details.submitted_version,
    });
    expect(confirmed.status).toBe(202);
    runViewSchema.parse(confirmed.body);
    await expect
      .poll(async () => (await alice.get(run.workflow_run_id)).current_version_id)
      .toBe(details.submitted_version);
  });
});
