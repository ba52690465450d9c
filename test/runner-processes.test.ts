import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { beforeAll, describe, expect, it } from 'vitest';
import type { EventView, RunView } from '@stepwise/shared';
import { useTestDatabases } from './support/databases.js';
import {
  createTestUser,
  startTestGateway,
  startTestResolver,
  testPluginPath,
} from './support/gateway.js';
import { logRecord, startQuickRecoveryRunner, type ServiceProcess } from './support/processes.js';
import { RunsClient, expectConsistentLog } from './support/runs.js';

/**
 * Real runner processes against the real stores: two at once on one queue, and one killed with
 * SIGKILL over and over. The gateway and resolver run in this process.
 */
const db = await useTestDatabases('runner_processes');
const gateway = await startTestGateway(db);
await startTestResolver(db);

/** A runner with the test plugin whose killed work comes back within seconds. */
const startRunner = (extraEnv: Record<string, string> = {}): Promise<ServiceProcess> =>
  startQuickRecoveryRunner(db, { RUNNER_PLUGINS: testPluginPath, ...extraEnv });

let client: RunsClient;
beforeAll(async () => {
  client = new RunsClient(gateway, (await createTestUser(gateway, 'ops')).api_key);
});

/**
 * What must be equal between two runs of one workflow: the log without ids and clocks, and
 * without the `module_interrupted` records a recovery adds (their attempt is run again under the
 * same key, so everything else reads as if nothing had happened).
 */
function comparable(events: EventView[]) {
  return events
    .filter((event) => event.event_type !== 'module_interrupted')
    .map((event) => {
      const data = { ...event.data };
      delete data['interaction_id'];
      delete data['retry_at'];
      delete data['idempotency_key'];
      return [event.event_type, event.step_id, event.module_name, JSON.stringify(data)];
    });
}

async function waitUntilSettled(runIds: string[], timeoutMs: number): Promise<RunView[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const runs = await Promise.all(runIds.map((id) => client.get(id)));
    if (runs.every((run) => run.status !== 'running') || Date.now() > deadline) return runs;
    await sleep(250);
  }
}

describe('two runner processes on one queue', () => {
  it('take 200 runs in flight to completion with gap-free, duplicate-free logs', async () => {
    const versionId = await client.submitJson({
      workflow_id: 'pipeline',
      initial_state: { n: 0 },
      steps: [
        {
          step_id: 'a',
          modules: [
            {
              module_id: 'test.sleep',
              name: 'fetch',
              inputs: { ms: 5, value: '{{ run.project_name }}' },
              outputs_to_state: { value: 'id' },
            },
            {
              module_id: 'transform.set',
              name: 'count',
              inputs: { value: 1 },
              outputs_to_state: { value: 'n' },
            },
          ],
        },
        {
          step_id: 'b',
          modules: [
            {
              module_id: 'test.echo',
              name: 'echo',
              inputs: { value: '{{ state.n }}-{{ state.id | size }}' },
              outputs_to_state: { value: 'echo' },
            },
          ],
        },
      ],
    });
    const runners = [await startRunner(), await startRunner()];
    const runIds: string[] = [];
    await Promise.all(
      Array.from({ length: 200 }, async () => {
        const { status, run } = await client.start(
          { workflow_version_id: versionId },
          '?wait_ms=0',
        );
        expect([201, 202]).toContain(status);
        runIds.push(run.workflow_run_id);
      }),
    );
    const settled = await waitUntilSettled(runIds, 60_000);
    expect(settled.filter((run) => run.status !== 'completed')).toEqual([]);

    const reference = comparable(await expectConsistentLog(client, runIds[0] ?? ''));
    for (const runId of runIds) {
      const events = await expectConsistentLog(client, runId);
      expect(new Set(events.map((e) => e.event_id)).size).toBe(events.length);
      expect(comparable(events)).toEqual(reference);
    }
    // One log line per job, naming the run and the user it worked for.
    const jobLines = runners
      .flatMap((runner) => runner.lines.map(logRecord))
      .filter((record) => record?.['outcome'] === 'completed' && record['queue'] === 'runs');
    expect(jobLines.length).toBeGreaterThanOrEqual(200);
    expect(
      jobLines.every(
        (record) =>
          typeof record?.['run_id'] === 'string' &&
          typeof record['user_id'] === 'string' &&
          typeof record['job_id'] === 'string',
      ),
    ).toBe(true);
    expect(new Set(jobLines.map((record) => record?.['run_id']))).toEqual(new Set(runIds));
    // Both processes did part of the work.
    for (const runner of runners)
      expect(runner.lines.some((line) => logRecord(line)?.['outcome'] === 'completed')).toBe(true);
    for (const runner of runners) {
      runner.child.kill('SIGTERM');
      expect(await runner.exited).toBe(0);
    }
  }, 120_000);
});

describe('a runner killed with SIGKILL at random points', () => {
  it('leaves every run where an uninterrupted runner would have, none stuck in running', async () => {
    const versionId = await client.submitJson({
      workflow_id: 'crashy',
      initial_state: { topic: 'cats' },
      steps: [
        {
          step_id: 'work',
          modules: [
            {
              module_id: 'test.sleep',
              name: 'one',
              inputs: { ms: 200, value: '{{ state.topic }}-1' },
              outputs_to_state: { value: 'one' },
            },
            {
              module_id: 'test.sleep',
              name: 'two',
              inputs: { ms: 200, value: '{{ state.one }}-2' },
              outputs_to_state: { value: 'two' },
            },
            {
              module_id: 'test.flaky',
              name: 'flaky',
              inputs: { fail_times: 1, value: 'steady' },
              retry: { max_attempts: 2, backoff_ms: 100 },
              outputs_to_state: { value: 'flaky' },
            },
          ],
        },
        {
          step_id: 'ask',
          modules: [
            {
              module_id: 'user.select',
              name: 'pick',
              inputs: { prompt: 'Pick', options: '{{ state.two | split: "-" }}' },
              outputs_to_state: { selected: 'picked' },
            },
          ],
        },
        {
          step_id: 'finish',
          modules: [
            {
              module_id: 'test.sleep',
              name: 'three',
              inputs: { ms: 200, value: '{{ state.picked }}!' },
              outputs_to_state: { value: 'three' },
            },
            {
              module_id: 'transform.template',
              name: 'summary',
              inputs: { template: '{{ state.one }}/{{ state.two }}/{{ state.three }}' },
              outputs_to_state: { text: 'summary' },
            },
          ],
        },
      ],
    });

    // The reference: one run with a runner nobody disturbs.
    let runner = await startRunner();
    const { run: calm } = await client.start({ workflow_version_id: versionId });
    const calmWaiting = await client.get(calm.workflow_run_id, '?wait=true&wait_ms=10000');
    await client.answerPending(calmWaiting, { selected_indices: [1] });
    const calmDone = await client.get(calm.workflow_run_id, '?wait=true&wait_ms=10000');
    expect(calmDone.status).toBe('completed');
    const reference = comparable(await expectConsistentLog(client, calm.workflow_run_id));

    // Now 30 runs while the runner is killed every 150-700 ms, and answers arrive meanwhile. Each
    // execution of test.sleep is traced, so the test can tell that kills landed mid-advance.
    const traceFile = join(mkdtempSync(join(tmpdir(), 'stepwise-trace-')), 'executions');
    const traced = { STEPWISE_TEST_TRACE_FILE: traceFile };
    runner.child.kill('SIGTERM');
    await runner.exited;
    runner = await startRunner(traced);
    const runIds: string[] = [];
    for (let i = 0; i < 30; i++)
      runIds.push(
        (await client.start({ workflow_version_id: versionId }, '?wait_ms=0')).run.workflow_run_id,
      );
    const answered = new Set<string>();
    const KILLS = 12;
    for (let kill = 0; kill < KILLS; kill++) {
      await sleep(150 + Math.floor(Math.random() * 550));
      runner.child.kill('SIGKILL');
      await runner.exited;
      for (const runId of runIds) {
        if (answered.has(runId)) continue;
        const run = await client.get(runId);
        if (run.status === 'awaiting_input' && run.pending_interaction) {
          const reply = await client.request(
            `/v1/runs/${runId}/interactions/${run.pending_interaction.interaction_id}?wait_ms=0`,
            { method: 'POST', json: { response: { selected_indices: [1] } } },
          );
          expect([200, 202]).toContain(reply.status);
          answered.add(runId);
        }
      }
      runner = await startRunner(traced);
    }
    // Let the last runner finish, answering whatever still waits.
    const deadline = Date.now() + 60_000;
    for (;;) {
      const runs = await Promise.all(runIds.map((id) => client.get(id)));
      for (const run of runs) {
        if (
          run.status === 'awaiting_input' &&
          run.pending_interaction &&
          !answered.has(run.workflow_run_id)
        ) {
          await client.answerPending(run, { selected_indices: [1] });
          answered.add(run.workflow_run_id);
        }
      }
      if (runs.every((run) => run.status === 'completed') || Date.now() > deadline) {
        expect(
          runs
            .filter((run) => run.status !== 'completed')
            .map((run) => [run.workflow_run_id, run.status]),
        ).toEqual([]);
        break;
      }
      await sleep(250);
    }
    const completions: number[] = [];
    let interrupted = 0;
    for (const runId of runIds) {
      // A kill between a commit and its copy into the log leaves the events in the run's outbox
      // until the job's redelivery writes them: wait for that, then check the log.
      const caughtUp = Date.now() + 20_000;
      while ((await client.events(runId)).length < (await client.get(runId)).last_seq) {
        if (Date.now() > caughtUp) break;
        await sleep(100);
      }
      const events = await expectConsistentLog(client, runId);
      expect(comparable(events)).toEqual(reference);
      interrupted += events.filter((e) => e.event_type === 'module_interrupted').length;
      completions.push(
        events.filter(
          (e) =>
            e.event_type === 'module_completed' &&
            ['one', 'two', 'three'].includes(e.module_name ?? ''),
        ).length,
      );
    }
    // Kills landed mid-module: some attempts ran again after a recovery. Every extra execution is
    // accounted for by a `module_interrupted` in the log (at most the module in flight repeats).
    const executions = readFileSync(traceFile, 'utf8').trim().split('\n').length;
    const recorded = completions.reduce((a, b) => a + b, 0);
    expect(executions).toBeGreaterThan(recorded);
    expect(executions).toBeLessThanOrEqual(recorded + interrupted);
    runner.child.kill('SIGTERM');
    expect(await runner.exited).toBe(0);
  }, 180_000);
});

/** Resolves once the runner holds the job: the nap's start is committed before it sleeps. */
async function napStarted(runId: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!(await client.events(runId)).some((e) => e.event_type === 'module_started')) {
    if (Date.now() > deadline) throw new Error(`run ${runId} never started its nap`);
    await sleep(50);
  }
}

describe('a runner told to stop (SIGTERM)', () => {
  it('finishes the job it holds before exiting, or hands it back at the shutdown timeout', async () => {
    const versionId = await client.submitJson({
      workflow_id: 'long',
      steps: [
        {
          step_id: 's',
          modules: [
            {
              module_id: 'test.sleep',
              name: 'nap',
              inputs: { ms: 1_500, value: 'rested' },
              outputs_to_state: { value: 'v' },
            },
          ],
        },
      ],
    });

    // Enough time: the job in hand completes, then the process exits 0.
    const patient = await startRunner();
    const { run: first } = await client.start({ workflow_version_id: versionId }, '?wait_ms=0');
    await napStarted(first.workflow_run_id);
    patient.child.kill('SIGTERM');
    expect(await patient.exited).toBe(0);
    const firstNow = await client.get(first.workflow_run_id);
    expect(firstNow.status).toBe('completed');

    // Too little time: the process gives up (exit 1) and the job goes back to the queue, where
    // the next runner finds it.
    const hasty = await startRunner({ SHUTDOWN_TIMEOUT_MS: '300' });
    const { run: second } = await client.start({ workflow_version_id: versionId }, '?wait_ms=0');
    await napStarted(second.workflow_run_id);
    hasty.child.kill('SIGTERM');
    expect(await hasty.exited).toBe(1);
    expect((await client.get(second.workflow_run_id)).status).toBe('running');
    const next = await startRunner();
    expect((await client.get(second.workflow_run_id, '?wait=true&wait_ms=20000')).status).toBe(
      'completed',
    );
    const events = await expectConsistentLog(client, second.workflow_run_id);
    expect(events.filter((e) => e.event_type === 'module_completed')).toHaveLength(1);
    next.child.kill('SIGTERM');
    expect(await next.exited).toBe(0);
  }, 60_000);
});
