import { Queue } from 'bullmq';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { queueKeyPrefix, type EventView, type RunView } from '@stepwise/shared';
import { useTestDatabases } from './support/databases.js';
import {
  TEST_ADMIN_TOKEN,
  createTestUser,
  startTestGateway,
  startTestResolver,
} from './support/gateway.js';
import {
  logRecord,
  startQuickRecoveryRunner,
  startServiceProcess,
  type ServiceProcess,
} from './support/processes.js';
import { RunsClient, expectConsistentLog } from './support/runs.js';
import { dueAtOf, interactionOf, ofType, runWaiter } from './support/deadline-runs.js';
import { startTestRunner } from './support/runner.js';

/**
 * Deadline timers are durable (people.md, "Notifications and deadlines"): a timer set before the
 * gateway and the runner are killed with SIGKILL still fires once they are back, and a timer Redis
 * lost is set again from the log by the runner's sweep. The runners (and, in the restart, the
 * gateway) are real processes of the built services; an in-process gateway and resolver take the
 * submissions and read the log. And a timer's command applied by a runner whose clock is behind
 * the one whose timer fired still times the question out.
 */
const db = await useTestDatabases('deadlines_restart');
const observer = await startTestGateway(db);
await startTestResolver(db);
const { api_key: apiKey } = await createTestUser(observer, 'restarter');
const client = new RunsClient(observer, apiKey);
const runQueue = new Queue('runs', {
  connection: db.redis,
  prefix: queueKeyPrefix(db.queuePrefix, 'runs'),
});
afterAll(() => runQueue.close());

/** Generous: a restart and a sweep take seconds, and a slow machine waits rather than fails. */
const WAIT = { timeout: 45_000, interval: 200 };
/** The quick-recovery runner's RUNNER_STALE_AFTER_MS: how long past due a lost timer is swept. */
const STALE_AFTER_MS = 3_000;

const processes: ServiceProcess[] = [];
afterAll(() => {
  for (const service of processes) service.child.kill('SIGKILL');
});

async function startRunner(): Promise<ServiceProcess> {
  const runner = await startQuickRecoveryRunner(db);
  processes.push(runner);
  return runner;
}

/** A gateway process on the file's stores; resolves with it and the address it listens at. */
async function startGateway(): Promise<{ service: ServiceProcess; url: string }> {
  const service = startServiceProcess('gateway', {
    MONGO_URL: db.mongoUrl,
    REDIS_URL: db.redisUrl,
    QUEUE_PREFIX: db.queuePrefix,
    ADMIN_TOKEN: TEST_ADMIN_TOKEN,
    HOST: '127.0.0.1',
    PORT: '0',
    LOG_LEVEL: 'info',
  });
  processes.push(service);
  const listening = logRecord(
    await service.waitForLine((line) => line.includes('gateway listening')),
  );
  return { service, url: `http://127.0.0.1:${String(listening?.['port'])}` };
}

async function kill(service: ServiceProcess): Promise<void> {
  service.child.kill('SIGKILL');
  expect(await service.exited).toBe('SIGKILL');
}

/** The run as a gateway process serves it. */
async function runAt(url: string, path: string, init: RequestInit = {}): Promise<RunView> {
  const response = await fetch(`${url}${path}`, {
    ...init,
    headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
  });
  const body = (await response.json()) as RunView;
  expect(response.status, JSON.stringify(body)).toBeLessThan(300);
  return body;
}

type Module = Record<string, unknown>;
/** A question with a deadline, then one without it (a run answered in time waits there). */
function questions(workflowId: string, deadline: Module) {
  return {
    workflow_id: workflowId,
    steps: [
      {
        step_id: 'ask',
        modules: [
          { module_id: 'user.confirm', name: 'ask', inputs: { message: 'Go on?' }, ...deadline },
        ],
      },
      {
        step_id: 'after',
        modules: [{ module_id: 'user.confirm', name: 'after', inputs: { message: 'Done?' } }],
      },
    ],
  };
}

const runWhen = runWaiter(client, WAIT);

/** What a `fail` deadline leaves: the question timed out, the module and the run failed. */
async function expectTimedOut(run: RunView): Promise<EventView[]> {
  const failed = await runWhen(run.workflow_run_id, (r) => r.status !== 'awaiting_input');
  expect(failed.status).toBe('error');
  const events = await expectConsistentLog(client, run.workflow_run_id);
  expect(events.slice(-3).map((event) => [event.event_type, event.data['interaction_id']])).toEqual(
    [
      ['interaction_timed_out', interactionOf(run)],
      ['module_failed', undefined],
      ['run_failed', undefined],
    ],
  );
  expect(ofType(events, 'module_failed')[0]?.data['error']).toMatchObject({
    code: 'INTERACTION_TIMED_OUT',
  });
  const timedOut = ofType(events, 'interaction_timed_out')[0];
  expect(Date.parse(timedOut?.timestamp ?? '')).toBeGreaterThanOrEqual(Date.parse(dueAtOf(run)));
  return events;
}

describe('a gateway and a runner killed between asking and the deadline', () => {
  it('leave the timer to fire once they are back', async () => {
    const failing = await client.submitJson(
      questions('restart_fail', { timeout: 6_000, on_timeout: 'fail' }),
    );
    const reminding = await client.submitJson(
      questions('restart_remind', { timeout: 6_000, on_timeout: 'remind', remind_every: 1_000 }),
    );
    let gateway = await startGateway();
    let runner = await startRunner();
    const start = (versionId: string) =>
      runAt(gateway.url, '/v1/runs?wait_ms=20000', {
        method: 'POST',
        body: JSON.stringify({ workflow_version_id: versionId, project_name: 'restart' }),
      });
    const [failRun, remindRun] = await Promise.all([start(failing), start(reminding)]);
    for (const run of [failRun, remindRun]) {
      expect(run.status).toBe('awaiting_input');
      expect(dueAtOf(run)).not.toBe('');
    }
    // Both asked: kill everything at once, before either deadline.
    await Promise.all([kill(gateway.service), kill(runner)]);
    gateway = await startGateway();
    runner = await startRunner();

    await expectTimedOut(failRun);
    // The restarted gateway serves the run as it now is.
    expect((await runAt(gateway.url, `/v1/runs/${failRun.workflow_run_id}`)).status).toBe('error');

    // Reminders go on after the restart: the first is due when the question said, the second is
    // set by the restarted runner.
    const reminders = await vi.waitFor(async () => {
      const sent = ofType(await client.events(remindRun.workflow_run_id), 'reminder_sent');
      if (sent.length < 2) throw new Error(`${sent.length} reminders so far`);
      return sent;
    }, WAIT);
    expect(
      reminders.slice(0, 2).map((event) => [event.data['reminder'], event.data['due_at']]),
    ).toEqual([
      [1, dueAtOf(remindRun)],
      [2, reminders[0]?.data['next_due_at']],
    ]);
    const reminded = await client.get(remindRun.workflow_run_id);
    expect(reminded.status).toBe('awaiting_input');
    expect(reminded.pending_interaction?.interaction_id).toBe(interactionOf(remindRun));
    // Stop the reminders: answer (through the restarted gateway).
    const answered = await runAt(
      gateway.url,
      `/v1/runs/${remindRun.workflow_run_id}/interactions/${interactionOf(remindRun)}?wait_ms=20000`,
      { method: 'POST', body: JSON.stringify({ response: { confirmed: true } }) },
    );
    expect(answered.current_step).toBe('after');
  }, 120_000);
});

describe('a deadline timer that Redis lost', () => {
  it('is set again from the log by the sweep, and fires; an answered run is left alone', async () => {
    await startRunner();
    const versionId = await client.submitJson(
      questions('lost_timer', { timeout: 1_500, on_timeout: 'fail' }),
    );
    // Answered at once: waits at the next question, which has no deadline.
    const { run: inTime } = await client.start(
      { workflow_version_id: versionId },
      '?wait_ms=10000',
    );
    const answeredInTime = await client.answerPending(inTime, { confirmed: true });
    expect(answeredInTime.current_step).toBe('after');
    const inTimeEvents = await client.events(inTime.workflow_run_id);

    const { run } = await client.start({ workflow_version_id: versionId }, '?wait_ms=10000');
    expect(run.status).toBe('awaiting_input');
    const jobId = `deadline-${interactionOf(run)}-${Date.parse(dueAtOf(run))}`;
    // The timer is set once the commit's outbox is written: wait for it, then lose it.
    const job = await vi.waitFor(async () => {
      const found = await runQueue.getJob(jobId);
      if (!found) throw new Error(`no job ${jobId} yet`);
      return found;
    }, WAIT);
    expect(await job.getState()).toBe('delayed');
    await job.remove();
    expect(await runQueue.getJob(jobId)).toBeUndefined();

    await expectTimedOut(run);
    // It was the sweep's timer that fired, once the deadline was stale.
    const swept = (await runQueue.getJobs(['completed', 'active', 'waiting', 'delayed'])).filter(
      (candidate) =>
        candidate.id?.startsWith(
          `sweep-deadline-${interactionOf(run)}-${Date.parse(dueAtOf(run))}-`,
        ),
    );
    expect(swept.length).toBeGreaterThan(0);
    // (Any runner of the file may have swept: one sweeps at a time.)
    const sweepLine = processes
      .flatMap((service) => service.lines)
      .map(logRecord)
      .find(
        (record) => record?.['msg'] === 'sweep re-enqueued work' && Number(record['deadlines']) > 0,
      );
    expect(sweepLine).toBeDefined();
    const timedOut = ofType(await client.events(run.workflow_run_id), 'interaction_timed_out')[0];
    expect(Date.parse(timedOut?.timestamp ?? '')).toBeGreaterThanOrEqual(
      Date.parse(dueAtOf(run)) + STALE_AFTER_MS,
    );

    // The run answered in time was asked first, so the sweeps have been past its deadline too:
    // it is exactly as its answer left it, and no timeout was ever sent to it.
    expect(await expectConsistentLog(client, inTime.workflow_run_id)).toEqual(inTimeEvents);
    const now = await client.get(inTime.workflow_run_id);
    expect([now.status, now.current_step, now.last_seq]).toEqual([
      'awaiting_input',
      'after',
      answeredInTime.last_seq,
    ]);
    expect(
      await db.models.runCommands.collection.countDocuments({
        workflow_run_id: inTime.workflow_run_id,
        type: 'timeout',
      }),
    ).toBe(0);
  }, 120_000);
});

/** How far behind the clock of the runner that applies commands is, in the test below. */
const SKEW_MS = 5_000;

/**
 * A store whose only runner applies commands with a clock SKEW_MS behind the real one, while its
 * timers fire (and are judged due) by the real clock: as when the runner holding a run's lease
 * runs behind the one whose timer fired.
 */
async function startSkewedStack() {
  const skewed = await useTestDatabases('deadlines_skew');
  const gateway = await startTestGateway(skewed);
  await startTestResolver(skewed);
  await startTestRunner(skewed, { clockBehindMs: SKEW_MS, concurrency: 4 });
  return new RunsClient(gateway, (await createTestUser(gateway, 'skewed')).api_key);
}

describe('timers whose commands are applied by a runner with a slower clock', () => {
  it('still time the question out, and space reminders by remind_every', async () => {
    const skewClient = await startSkewedStack();
    // Due a second from now by the real clock (the questions are asked by the slow one).
    const timeout = SKEW_MS + 1_000;
    const [failing, reminding] = await Promise.all([
      skewClient.submitJson(questions('skewed_fail', { timeout, on_timeout: 'fail' })),
      skewClient.submitJson(
        questions('skewed_remind', { timeout, on_timeout: 'remind', remind_every: 1_000 }),
      ),
    ]);
    const [{ run }, { run: remindRun }] = await Promise.all([
      skewClient.start({ workflow_version_id: failing }, '?wait_ms=10000'),
      skewClient.start({ workflow_version_id: reminding }, '?wait_ms=10000'),
    ]);
    expect([run.status, remindRun.status]).toEqual(['awaiting_input', 'awaiting_input']);

    const failed = await vi.waitFor(async () => {
      const now = await skewClient.get(run.workflow_run_id);
      if (now.status === 'awaiting_input') throw new Error('the question still waits');
      return now;
    }, WAIT);
    expect(failed.status).toBe('error');
    const events = await expectConsistentLog(skewClient, run.workflow_run_id);
    expect(ofType(events, 'interaction_timed_out').map((event) => event.data)).toEqual([
      { interaction_id: interactionOf(run), on_timeout: 'fail', due_at: dueAtOf(run) },
    ]);

    // Each reminder is due remind_every after the one before, by the clock that set the deadline.
    const reminders = await vi.waitFor(async () => {
      const sent = ofType(await skewClient.events(remindRun.workflow_run_id), 'reminder_sent');
      if (sent.length < 2) throw new Error(`${sent.length} reminders so far`);
      return sent;
    }, WAIT);
    let dueAt = dueAtOf(remindRun);
    for (const event of reminders) {
      expect(event.data['due_at']).toBe(dueAt);
      const next = String(event.data['next_due_at']);
      expect(Date.parse(next) - Date.parse(dueAt)).toBeGreaterThanOrEqual(1_000);
      dueAt = next;
    }
    await skewClient.answerPending(await skewClient.get(remindRun.workflow_run_id), {
      confirmed: true,
    });
  }, 60_000);
});
