import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useTestDatabases } from './support/databases.js';
import { createTestUser, startTestGateway, startTestResolver } from './support/gateway.js';
import { startServiceProcess, type ServiceProcess } from './support/processes.js';
import { RunsClient } from './support/runs.js';
import { effectfulWorkflow, startFakeProvider } from './support/fake-provider.mjs';
import { verifyEffects } from '../soak/verify.mjs';

/**
 * A runner process killed with SIGKILL while the provider holds its LLM call (effects.md, "How it
 * is checked"): after another runner recovers the run, the call that lost its answer is still
 * accounted for (a `tokens` record `lost`), the attempt is recorded as interrupted and run again
 * with the same key, and nothing is stuck. The gateway and resolver run in this process.
 */
const KILLS = 5;
/** How long the fake holds a run's first LLM call: far longer than it takes to kill the runner. */
const HOLD_MS = 30_000;

const db = await useTestDatabases('effects_sigkill');
const gateway = await startTestGateway(db);
await startTestResolver(db);
const provider = await startFakeProvider();
afterAll(() => provider.close());
// The first call of every run is held (the runner is killed during it); the recovery's is not.
provider.delayMs = (call) => (call.kind === 'chat' && call.indexForMarker === 0 ? HOLD_MS : 0);

const runnerEnv = () => ({
  MONGO_URL: db.mongoUrl,
  REDIS_URL: db.redisUrl,
  QUEUE_PREFIX: db.queuePrefix,
  LOG_LEVEL: 'info',
  RUNNER_CONCURRENCY: '8',
  LLM_BASE_URL: provider.baseUrl,
  LLM_TIMEOUT_MS: String(HOLD_MS * 2),
  OUTBOUND_ALLOWED_HOSTS: '127.0.0.1',
  // Short locks, sweeps and leases, so that a killed runner's run comes back within seconds.
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

let client: RunsClient;
let versionId: string;
beforeAll(async () => {
  client = new RunsClient(gateway, (await createTestUser(gateway, 'killer')).api_key);
  versionId = await client.submitJson(effectfulWorkflow({ renderUrl: provider.renderUrl }));
});

describe('a runner killed with SIGKILL during an LLM call', () => {
  it('leaves every call accounted for once another runner has recovered the run', async () => {
    const tag = randomBytes(3).toString('hex');
    const runIds: string[] = [];
    let runner = await startRunner();
    for (let i = 0; i < KILLS; i++) {
      const projectName = `kill-${tag}-${i}`;
      const { run } = await client.start(
        { workflow_version_id: versionId, project_name: projectName },
        '?wait_ms=20000',
      );
      expect(run.status).toBe('awaiting_input');
      runIds.push(run.workflow_run_id);
      const reply = await client.request(
        `/v1/runs/${run.workflow_run_id}/interactions/${run.pending_interaction?.interaction_id ?? ''}?wait_ms=0`,
        { method: 'POST', json: { response: { value: `cats, take ${i}` } } },
      );
      expect([200, 202]).toContain(reply.status);
      // The call is open at the provider: kill the runner making it.
      await provider.waitForCall((call) => call.kind === 'chat' && call.marker === projectName);
      runner.child.kill('SIGKILL');
      await runner.exited;
      runner = await startRunner();
      // Recovered: the chain went on to the review question. (Polled rather than waited on with
      // `wait=true`: a runner that commits nothing before the chain ends leaves the run looking
      // settled at the topic question until then.)
      const recoveredBy = Date.now() + 30_000;
      let recovered = await client.get(run.workflow_run_id);
      while (
        (recovered.status === 'running' || recovered.current_step === 'ask') &&
        Date.now() < recoveredBy
      ) {
        await sleep(200);
        recovered = await client.get(run.workflow_run_id);
      }
      expect(recovered.status, `run ${i} after the kill`).toBe('awaiting_input');
      expect(recovered.current_step).toBe('review');
    }

    // Quiet: no call open (a killed runner's socket closes), no run running, no command pending.
    const deadline = Date.now() + 30_000;
    for (;;) {
      const [running, pending] = await Promise.all([
        db.models.runs.collection.countDocuments({
          workflow_run_id: { $in: runIds },
          status: 'running',
        }),
        db.models.runCommands.collection.countDocuments({
          workflow_run_id: { $in: runIds },
          status: 'pending',
        }),
      ]);
      if ((running === 0 && pending === 0 && provider.inFlight() === 0) || Date.now() > deadline) {
        expect({ running, pending, open: provider.inFlight() }).toEqual({
          running: 0,
          pending: 0,
          open: 0,
        });
        break;
      }
      await sleep(200);
    }

    const tokens = await db.models.tokens.collection
      .find({ workflow_run_id: { $in: runIds } })
      .toArray();
    const books = runIds.map((runId, i) => {
      const marker = `kill-${tag}-${i}`;
      const calls = provider.callsOf('chat', marker);
      const records = tokens.filter((t) => t['workflow_run_id'] === runId);
      const settledOfKey = (key: string | null) =>
        records.filter(
          (t) =>
            t['idempotency_key'] === key && ['completed', 'lost'].includes(String(t['status'])),
        ).length;
      const callsOfKey = (key: string | null) =>
        calls.filter((c) => c.idempotencyKey === key).length;
      const completedKeys = records
        .filter((t) => t['status'] === 'completed')
        .map((t) => String(t['idempotency_key']));
      return {
        run: marker,
        // Calls without a key, or with fewer completed/lost tokens records of their key than calls.
        unaccountedCalls: calls.filter(
          (c) => !c.idempotencyKey || settledOfKey(c.idempotencyKey) < callsOfKey(c.idempotencyKey),
        ).length,
        duplicateCompletedKeys: completedKeys.length - new Set(completedKeys).size,
        callStates: calls.map((c) => c.state),
        keys: new Set(calls.map((c) => c.idempotencyKey)).size,
        tokenStatuses: records.map((t) => String(t['status'])).sort(),
      };
    });
    // Every provider call has a tokens record of its key, completed or lost…
    expect(books.filter((b) => b.unaccountedCalls > 0)).toEqual([]);
    // …and no two completed records share a key.
    expect(books.filter((b) => b.duplicateCompletedKeys > 0)).toEqual([]);

    // Calls <= attempts recorded + interrupted ones; every logged artifact holds its bytes.
    const { violations, rows } = await verifyEffects(db.models, {
      calls: provider.calls,
      runIds,
      crashes: true,
    });
    expect(
      rows.filter(
        (row) => row.llm_calls > row.llm.completed + row.llm.failed + row.llm.interrupted,
      ),
    ).toEqual([]);
    expect(violations).toEqual([]);

    // What each kill should have left: the held call aborted, the attempt recorded as interrupted
    // and run again with the same key, the lost answer's record `lost`, the second `completed`.
    expect(books).toEqual(
      books.map((b) => ({
        ...b,
        callStates: ['aborted', 'answered'],
        keys: 1,
        tokenStatuses: ['completed', 'lost'],
      })),
    );
    expect(rows.map((row) => row.llm)).toEqual(
      rows.map(() => ({ started: 1, completed: 1, failed: 0, interrupted: 1 })),
    );
    runner.child.kill('SIGTERM');
    expect(await runner.exited).toBe(0);
  }, 180_000);
});
