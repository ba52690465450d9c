import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it, vi } from 'vitest';
import type { DeliveryView, RunView, WebhookView } from '@stepwise/shared';
import { useTestDatabases } from './support/databases.js';
import {
  createTestUser,
  startTestGateway,
  startTestResolver,
  type TestGateway,
} from './support/gateway.js';
import { startQuickRecoveryRunner, type ServiceProcess } from './support/processes.js';
import { startTestRunner } from './support/runner.js';
import { RunsClient } from './support/runs.js';
import {
  WEBHOOK_WAIT,
  byWebhookId,
  checkedNotifications,
  deliveryLog,
  outboxWritten,
  settledRun,
  signatureHeaders,
  startWebhookReceiver,
  subscribe,
  subscription,
  summary,
  verifyWebhook,
  type ReceivedRequest,
} from './support/webhook-receiver.js';

/**
 * Signed webhooks (people.md, "Notifications and deadlines"), end to end: real gateway, runners
 * and databases, and a loopback receiver that counts what actually left the system and checks each
 * request with the `standardwebhooks` library, as a subscriber would.
 *
 * Three stores: `live` has an in-process runner (signatures, payloads, an outage); `crash` has
 * none, its runners are processes the tests kill; `disable` has a runner that disables an endpoint
 * after 1.5 s of failures. Each has its own queue prefix, so no runner takes another's deliveries.
 */
const PUBLIC_URL = 'https://stepwise.example.test';
/** Conditions are polled for; tests time out later, so a wait that fails says what it waited for. */
const WAIT = WEBHOOK_WAIT;
const TEST_TIMEOUT = 60_000;
const outbound = { outboundAllowedHosts: ['127.0.0.1'] };

const live = await useTestDatabases('webhook_live');
const liveGateway = await startTestGateway(live, { settings: outbound });
await startTestResolver(live);
await startTestRunner(live, {
  allowedHosts: ['127.0.0.1'],
  publicUrl: PUBLIC_URL,
  webhooks: { retryBaseMs: 100, retryMaxMs: 1_000 },
});
const liveReceiver = await startWebhookReceiver();
/** The `/patient` endpoint answers 503 while this holds (the outage test). */
let patientDown = true;
liveReceiver.respondWith((request) => (request.path === '/patient' && patientDown ? 503 : 200));

const crash = await useTestDatabases('webhook_crash');
const crashGateway = await startTestGateway(crash, { settings: outbound });
await startTestResolver(crash);
const crashReceiver = await startWebhookReceiver();
const crashRunnerEnv = {
  OUTBOUND_ALLOWED_HOSTS: '127.0.0.1',
  PUBLIC_URL,
  WEBHOOK_RETRY_BASE_MS: '200',
  WEBHOOK_RETRY_MAX_MS: '1000',
  WEBHOOK_TIMEOUT_MS: '2000',
};

const disable = await useTestDatabases('webhook_disable');
const disableGateway = await startTestGateway(disable, { settings: outbound });
await startTestResolver(disable);
await startTestRunner(disable, {
  allowedHosts: ['127.0.0.1'],
  publicUrl: PUBLIC_URL,
  webhooks: { retryBaseMs: 200, retryMaxMs: 1_000, disableAfterMs: 1_500 },
});
const disableReceiver = await startWebhookReceiver();
disableReceiver.respondWith((request) => (request.path === '/failing' ? 500 : 200));

// --- workflows (built-in modules, and the test plugin's where an in-process runner runs them) ---

const steps = (modules: Record<string, unknown[]>) =>
  Object.entries(modules).map(([step_id, list]) => ({ step_id, modules: list }));
const askFlow = (prompt: string) => ({
  workflow_id: 'wh_ask',
  steps: steps({
    ask: [{ module_id: 'user.text_input', name: 'codename', inputs: { prompt } }],
  }),
});
const failFlow = {
  workflow_id: 'wh_fail',
  steps: steps({ boom: [{ module_id: 'test.flaky', name: 'boom', inputs: { fail_times: 1 } }] }),
};
const cancelFlow = {
  workflow_id: 'wh_cancel',
  steps: steps({
    ok: [{ module_id: 'user.confirm', name: 'ok', inputs: { message: 'Go ahead?' } }],
  }),
};
const quickFlow = {
  workflow_id: 'wh_quick',
  steps: steps({ echo: [{ module_id: 'test.echo', name: 'echo', inputs: { value: 1 } }] }),
};

// --- helpers ---

async function userClient(gateway: TestGateway, name: string): Promise<RunsClient> {
  const suffix = randomBytes(3).toString('hex');
  return new RunsClient(gateway, (await createTestUser(gateway, `${name}${suffix}`)).api_key);
}

async function stop(runner: ServiceProcess): Promise<void> {
  if (runner.child.exitCode === null && runner.child.signalCode === null) {
    runner.child.kill('SIGTERM');
  }
  await runner.exited;
}

// --- the checks ---

describe('signatures', () => {
  it(
    'verify with the library, and fail for a changed byte, an old timestamp or another secret',
    async () => {
      const client = await userClient(liveGateway, 'signer');
      const { id, secret } = await subscribe(client, {
        url: `${liveReceiver.base}/signer`,
        events: ['interaction.requested'],
      });
      const { run } = await client.start({
        workflow_version_id: await client.submitJson(askFlow('Name?')),
      });
      expect(run.status).toBe('awaiting_input');
      await vi.waitFor(() => expect(liveReceiver.at('/signer').length).toBeGreaterThan(0), WAIT);
      expect(liveReceiver.at('/signer')).toHaveLength(1);
      const [request] = liveReceiver.at('/signer') as [ReceivedRequest];

      const [notification] = await checkedNotifications(client, secret, [request]);
      expect(notification?.data.workflow_run_id).toBe(run.workflow_run_id);
      const [delivery] = await deliveryLog(client, id);
      expect(request.headers['webhook-id']).toBe(delivery?.delivery_id);

      // One byte of the real body changed: the signature no longer matches.
      const tampered = Buffer.from(request.rawBody);
      const middle = Math.floor(tampered.length / 2);
      tampered[middle] = (tampered[middle] ?? 0) ^ 0x01;
      expect(tampered.equals(request.rawBody)).toBe(false);
      expect(() => verifyWebhook(secret, tampered, request.headers)).toThrow(/signature/i);

      // The real headers, replayed ten minutes older: refused as too old.
      const sentAt = Number(request.headers['webhook-timestamp']);
      expect(Math.abs(sentAt - Date.now() / 1000)).toBeLessThan(120);
      const old = signatureHeaders(request, { 'webhook-timestamp': String(sentAt - 600) });
      expect(() => verifyWebhook(secret, request.rawBody, old)).toThrow(/too old/);
      // Ten seconds older, within the tolerance: the timestamp is signed too, so it still fails.
      const shifted = signatureHeaders(request, { 'webhook-timestamp': String(sentAt - 10) });
      expect(() => verifyWebhook(secret, request.rawBody, shifted)).toThrow(/signature/i);
      // The same request under another secret.
      const otherSecret = `whsec_${randomBytes(32).toString('base64')}`;
      expect(() => verifyWebhook(otherSecret, request.rawBody, request.headers)).toThrow(
        /signature/i,
      );
      // The untouched request still verifies: the failures above are the changes' doing.
      expect(verifyWebhook(secret, request.rawBody, signatureHeaders(request))).toEqual(
        notification,
      );
    },
    TEST_TIMEOUT,
  );
});

describe('notifications', () => {
  it(
    'tell each subscriber of every type, with seq and answer link, by template and owner only',
    async () => {
      const alice = await userClient(liveGateway, 'alice');
      const bob = await userClient(liveGateway, 'bob');
      const all = ['interaction.requested', 'run.completed', 'run.failed', 'run.cancelled'];
      const everything = await subscribe(alice, { url: `${liveReceiver.base}/alice`, events: all });
      const onlyAsk = await subscribe(alice, {
        url: `${liveReceiver.base}/alice-ask`,
        events: all,
        templates: ['wh_ask'],
      });
      const slack = await subscribe(alice, {
        url: `${liveReceiver.base}/alice-slack`,
        events: ['interaction.requested'],
        format: 'slack',
      });
      const bobs = await subscribe(bob, { url: `${liveReceiver.base}/bob`, events: all });

      const prompt = 'What is the codename?';
      const ask = (
        await alice.start({ workflow_version_id: await alice.submitJson(askFlow(prompt)) })
      ).run;
      const question = ask.pending_interaction?.interaction_id ?? '';
      await alice.answerPending(ask, { value: 'falcon' });
      const failed = (await alice.start({ workflow_version_id: await alice.submitJson(failFlow) }))
        .run;
      expect(failed.status).toBe('error');
      const toCancel = (
        await alice.start({ workflow_version_id: await alice.submitJson(cancelFlow) })
      ).run;
      const cancelQuestion = toCancel.pending_interaction?.interaction_id ?? '';
      const cancelled = await alice.request(`/v1/runs/${toCancel.workflow_run_id}/cancel`, {
        method: 'POST',
      });
      expect(cancelled.status).toBe(200);
      const bobRun = (
        await bob.start({ workflow_version_id: await bob.submitJson(askFlow('Bob?')) })
      ).run;
      await bob.answerPending(bobRun, { value: 'otter' });

      await vi.waitFor(() => {
        expect(liveReceiver.at('/alice').length).toBeGreaterThanOrEqual(5);
        expect(liveReceiver.at('/alice-ask').length).toBeGreaterThanOrEqual(2);
        expect(liveReceiver.at('/alice-slack').length).toBeGreaterThanOrEqual(2);
        expect(liveReceiver.at('/bob').length).toBeGreaterThanOrEqual(2);
      }, WAIT);
      const runs = [ask, failed, toCancel, bobRun].map((r) => r.workflow_run_id);
      for (const runId of runs) await outboxWritten(live, runId);

      const got = await checkedNotifications(alice, everything.secret, liveReceiver.at('/alice'));
      expect(summary(got)).toEqual(
        [
          `${ask.workflow_run_id} interaction.requested`,
          `${ask.workflow_run_id} run.completed`,
          `${failed.workflow_run_id} run.failed`,
          `${toCancel.workflow_run_id} interaction.requested`,
          `${toCancel.workflow_run_id} run.cancelled`,
        ].sort(),
      );
      const link = (runId: string, interaction: string) =>
        `${PUBLIC_URL}/app/runs/${runId}/interactions/${interaction}`;
      const asked = got.find(
        (n) => n.type === 'interaction.requested' && n.data.workflow_run_id === ask.workflow_run_id,
      );
      expect(asked?.data).toMatchObject({
        workflow_template_name: 'wh_ask',
        status: 'awaiting_input',
        answer_url: link(ask.workflow_run_id, question),
        run_url: `${PUBLIC_URL}/app/runs/${ask.workflow_run_id}`,
        interaction: { interaction_id: question, prompt },
      });
      expect(got.find((n) => n.type === 'run.failed')?.data.error?.message).toBe(
        'flaky failure on attempt 1',
      );
      // Every delivery reached the receiver once, under the id its log shows.
      const ids = [...byWebhookId(liveReceiver.at('/alice')).keys()].sort();
      expect(ids).toHaveLength(5);
      expect((await deliveryLog(alice, everything.id)).map((d) => d.delivery_id).sort()).toEqual(
        ids,
      );

      // The template filter: only wh_ask's run, in what was sent and in what was ever recorded.
      const filtered = await checkedNotifications(
        alice,
        onlyAsk.secret,
        liveReceiver.at('/alice-ask'),
      );
      expect(summary(filtered)).toEqual(
        [
          `${ask.workflow_run_id} interaction.requested`,
          `${ask.workflow_run_id} run.completed`,
        ].sort(),
      );
      expect(new Set((await deliveryLog(alice, onlyAsk.id)).map((d) => d.workflow_run_id))).toEqual(
        new Set([ask.workflow_run_id]),
      );

      // Another tenant: Bob hears of his run only, and Alice's endpoints never of his.
      const bobGot = await checkedNotifications(bob, bobs.secret, liveReceiver.at('/bob'));
      expect(summary(bobGot)).toEqual(
        [
          `${bobRun.workflow_run_id} interaction.requested`,
          `${bobRun.workflow_run_id} run.completed`,
        ].sort(),
      );
      expect(new Set((await deliveryLog(bob, bobs.id)).map((d) => d.workflow_run_id))).toEqual(
        new Set([bobRun.workflow_run_id]),
      );
      const aliceBodies = ['/alice', '/alice-ask', '/alice-slack'].flatMap((path) =>
        liveReceiver.at(path).map((r) => r.rawBody.toString('utf8')),
      );
      expect(aliceBodies.filter((body) => body.includes(bobRun.workflow_run_id))).toEqual([]);
      expect((await alice.request(`/v1/webhooks/${bobs.id}/deliveries`)).status).toBe(404);

      // Slack: a plain, signed {text} with the question and its answer link.
      const texts = liveReceiver.at('/alice-slack').map((request) => {
        const body = verifyWebhook(slack.secret, request.rawBody, request.headers);
        expect(Object.keys(body as object)).toEqual(['text']);
        return (body as { text: string }).text;
      });
      expect(texts).toHaveLength(2);
      const askText = texts.find((text) => text.includes(ask.workflow_run_id));
      expect(askText).toContain(prompt);
      expect(askText).toContain(link(ask.workflow_run_id, question));
      const cancelText = texts.find((text) => text.includes(toCancel.workflow_run_id));
      expect(cancelText).toContain('Go ahead?');
      expect(cancelText).toContain(link(toCancel.workflow_run_id, cancelQuestion));
    },
    TEST_TIMEOUT,
  );
});

describe('a subscription deleted while its delivery is in flight', () => {
  it(
    'leaves the delivery given up: the attempt that was under way records nothing and queues no retry',
    async () => {
      const client = await userClient(liveGateway, 'deleter');
      const { id } = await subscribe(client, {
        url: `${liveReceiver.base}/held-delete`,
        events: ['interaction.requested'],
      });
      const held = liveReceiver.hold('/held-delete');
      await client.start({ workflow_version_id: await client.submitJson(askFlow('Still there?')) });
      await held.arrived;
      const deleted = await client.request(`/v1/webhooks/${id}`, { method: 'DELETE' });
      expect(deleted.status).toBe(204);
      // The receiver fails the attempt once the delivery is already given up.
      held.release(503);
      // Retries come 100 ms apart here: a retry queued by that failure would have been sent.
      await sleep(1_500);
      expect(liveReceiver.at('/held-delete')).toHaveLength(1);
      const [delivery] = await live.models.webhookDeliveries.find({ subscription_id: id }).lean();
      expect(delivery).toMatchObject({
        status: 'failed',
        failure_reason: 'subscription deleted',
        next_attempt_at: null,
        attempts: [],
      });
    },
    TEST_TIMEOUT,
  );
});

describe('a receiver that is down for a while', () => {
  it(
    'gets every notification once it is up, none again after its 2xx, and the log shows the failures',
    async () => {
      const client = await userClient(liveGateway, 'patient');
      const { id, secret } = await subscribe(client, {
        url: `${liveReceiver.base}/patient`,
        events: ['interaction.requested', 'run.completed'],
      });
      const quick = await client.submitJson(quickFlow);
      const started: RunView[] = [];
      for (let i = 0; i < 3; i++)
        started.push((await client.start({ workflow_version_id: quick })).run);
      started.push(
        (await client.start({ workflow_version_id: await client.submitJson(askFlow('Up yet?')) }))
          .run,
      );
      // Down until every notification has been refused at least twice.
      await vi.waitFor(() => {
        const groups = [...byWebhookId(liveReceiver.at('/patient')).values()];
        expect(groups.length).toBeGreaterThanOrEqual(4);
        for (const group of groups)
          expect(group.filter((r) => r.answeredWith === 503).length).toBeGreaterThanOrEqual(2);
      }, WAIT);
      patientDown = false;

      let log: DeliveryView[] = [];
      await vi.waitFor(async () => {
        log = await deliveryLog(client, id);
        expect(log.map((d) => d.status)).toEqual([
          'delivered',
          'delivered',
          'delivered',
          'delivered',
        ]);
      }, WAIT);
      const received = byWebhookId(liveReceiver.at('/patient'));
      expect([...received.keys()].sort()).toEqual(log.map((d) => d.delivery_id).sort());
      for (const delivery of log) {
        const requests = received.get(delivery.delivery_id) ?? [];
        const codes = delivery.attempts.map((attempt) => attempt.status_code);
        // The log: the refusals with their status, then the success.
        expect(codes.length).toBeGreaterThanOrEqual(3);
        expect(codes).toEqual([...codes.slice(0, -1).map(() => 503), 200]);
        expect(delivery.attempts.slice(0, -1).every((a) => a.error === 'HTTP 503')).toBe(true);
        // What the receiver saw matches it attempt for attempt: nothing came after the 2xx.
        expect(requests.map((r) => r.answeredWith)).toEqual(codes);
        expect(new Set(requests.map((r) => r.rawBody.toString('utf8'))).size).toBe(1);
      }
      const last = [...received.values()].map((requests) => requests.at(-1) as ReceivedRequest);
      const notifications = await checkedNotifications(client, secret, last);
      expect(summary(notifications)).toEqual(
        [
          ...started.slice(0, 3).map((run) => `${run.workflow_run_id} run.completed`),
          `${started[3]?.workflow_run_id ?? ''} interaction.requested`,
        ].sort(),
      );
    },
    TEST_TIMEOUT,
  );
});

describe('crashes', () => {
  it('a dispatcher killed between sending and recording sends the same webhook-id again, recorded once', async () => {
    const client = await userClient(crashGateway, 'crasher');
    const { id, secret } = await subscribe(client, {
      url: `${crashReceiver.base}/crash`,
      events: ['interaction.requested', 'run.completed'],
    });
    const versionId = await client.submitJson(askFlow('Still there?'));
    const first = await startQuickRecoveryRunner(crash, crashRunnerEnv);
    let second: ServiceProcess | null = null;
    try {
      // The first request kills its sender before it is answered: the sender never learns of it.
      let killed = false;
      crashReceiver.respondWith(async (request) => {
        if (request.path === '/crash' && !killed) {
          killed = true;
          first.child.kill('SIGKILL');
          await first.exited;
        }
        return 200;
      });
      const { run } = await client.start({ workflow_version_id: versionId }, '?wait_ms=0');
      expect(await first.exited).toBe('SIGKILL');
      expect(crashReceiver.at('/crash')).toHaveLength(1);

      second = await startQuickRecoveryRunner(crash, crashRunnerEnv);
      const waiting = await settledRun(client, run.workflow_run_id, 'awaiting_input');
      await vi.waitFor(async () => {
        expect(crashReceiver.at('/crash').length).toBeGreaterThanOrEqual(2);
        expect((await deliveryLog(client, id)).map((d) => d.status)).toEqual(['delivered']);
      }, WAIT);
      await client.answerPending(waiting, { value: 'yes' });
      await vi.waitFor(async () => {
        expect(crashReceiver.at('/crash').length).toBeGreaterThanOrEqual(3);
        const log = await deliveryLog(client, id);
        expect(log.map((d) => d.status)).toEqual(['delivered', 'delivered']);
      }, WAIT);
      await outboxWritten(crash, run.workflow_run_id);

      // Three requests in all: no other repeat.
      expect(crashReceiver.at('/crash')).toHaveLength(3);
      const [again, once] = [...byWebhookId(crashReceiver.at('/crash')).values()];
      // The question's delivery came twice with one id and the same signed bytes; the next once.
      expect(again?.map((r) => r.headers['webhook-id'])).toEqual([
        again?.[0]?.headers['webhook-id'],
        again?.[0]?.headers['webhook-id'],
      ]);
      expect(again?.[1]?.rawBody.equals(again[0]?.rawBody ?? Buffer.alloc(0))).toBe(true);
      expect(once).toHaveLength(1);
      const notifications = await checkedNotifications(client, secret, [
        ...(again ?? []),
        ...(once ?? []),
      ]);
      expect(notifications.map((n) => n.type)).toEqual([
        'interaction.requested',
        'interaction.requested',
        'run.completed',
      ]);
      // Each is recorded delivered once: the killed attempt left no record, the retry one 200.
      const log = await deliveryLog(client, id);
      expect(log.map((d) => d.attempts.map((a) => a.status_code))).toEqual([[200], [200]]);
      expect(new Set(log.map((d) => d.delivery_id))).toEqual(
        new Set([again?.[0]?.headers['webhook-id'], once?.[0]?.headers['webhook-id']]),
      );
    } finally {
      crashReceiver.respondWith(() => 200);
      if (second) await stop(second);
    }
  }, 90_000);

  it('a runner killed right after committing a question still gets its notification out', async () => {
    const client = await userClient(crashGateway, 'failpoint');
    const { id, secret } = await subscribe(client, {
      url: `${crashReceiver.base}/failpoint`,
      events: ['interaction.requested'],
    });
    const versionId = await client.submitJson(askFlow('Who survives?'));
    const doomed = await startQuickRecoveryRunner(crash, {
      ...crashRunnerEnv,
      RUNNER_FAILPOINT: 'exit_after_commit:interaction_requested',
    });
    const { run } = await client.start({ workflow_version_id: versionId }, '?wait_ms=0');
    expect(await doomed.exited).toBe('SIGKILL');
    // Committed, but its outbox never written: nothing recorded, nothing sent.
    const committed = await client.get(run.workflow_run_id);
    expect(committed.status).toBe('awaiting_input');
    expect(await deliveryLog(client, id)).toEqual([]);
    expect(crashReceiver.at('/failpoint')).toEqual([]);

    const healthy = await startQuickRecoveryRunner(crash, crashRunnerEnv);
    try {
      await vi.waitFor(async () => {
        expect(crashReceiver.at('/failpoint').length).toBeGreaterThan(0);
        expect((await deliveryLog(client, id)).map((d) => d.status)).toEqual(['delivered']);
      }, WAIT);
      expect(crashReceiver.at('/failpoint')).toHaveLength(1);
      const [notification] = await checkedNotifications(
        client,
        secret,
        crashReceiver.at('/failpoint'),
      );
      const interactionId = committed.pending_interaction?.interaction_id ?? '';
      expect(notification?.data).toMatchObject({
        workflow_run_id: run.workflow_run_id,
        answer_url: `${PUBLIC_URL}/app/runs/${run.workflow_run_id}/interactions/${interactionId}`,
        interaction: { interaction_id: interactionId, prompt: 'Who survives?' },
      });
    } finally {
      await stop(healthy);
    }
  }, 90_000);
});

describe('an endpoint that keeps failing', () => {
  it(
    'is disabled with the reason, and later events make no deliveries for it',
    async () => {
      const client = await userClient(disableGateway, 'unlucky');
      const failing = await subscribe(client, {
        url: `${disableReceiver.base}/failing`,
        events: ['run.completed'],
      });
      // A second endpoint of the same owner that works: proof the later event was notified at all.
      const control = await subscribe(client, {
        url: `${disableReceiver.base}/control`,
        events: ['run.completed'],
      });
      const versionId = await client.submitJson(quickFlow);
      const before = (await client.start({ workflow_version_id: versionId })).run;

      let view: WebhookView | null = null;
      await vi.waitFor(async () => {
        view = await subscription(client, failing.id);
        expect(view.status).toBe('disabled');
      }, WAIT);
      expect((view as unknown as WebhookView).disabled_reason).toMatch(/HTTP 500/);
      expect((view as unknown as WebhookView).disabled_at).not.toBeNull();
      // Its pending delivery is given up at its next try; every attempt made is in the log.
      let log: DeliveryView[] = [];
      await vi.waitFor(async () => {
        log = await deliveryLog(client, failing.id);
        expect(log.map((d) => d.status)).toEqual(['failed']);
      }, WAIT);
      expect(log[0]?.workflow_run_id).toBe(before.workflow_run_id);
      expect(log[0]?.failure_reason).toMatch(/disabled/);
      const codes = log[0]?.attempts.map((a) => a.status_code) ?? [];
      expect(codes.length).toBeGreaterThanOrEqual(2);
      expect(new Set(codes)).toEqual(new Set([500]));
      const sent = disableReceiver.at('/failing');
      expect(sent.map((r) => r.answeredWith)).toEqual(codes);
      await checkedNotifications(client, failing.secret, sent);

      const after = (await client.start({ workflow_version_id: versionId })).run;
      await vi.waitFor(() => {
        const bodies = disableReceiver.at('/control').map((r) => r.rawBody.toString('utf8'));
        expect(bodies.some((body) => body.includes(after.workflow_run_id))).toBe(true);
      }, WAIT);
      await outboxWritten(disable, after.workflow_run_id);
      expect((await deliveryLog(client, failing.id)).map((d) => d.delivery_id)).toEqual([
        log[0]?.delivery_id,
      ]);
      expect(disableReceiver.at('/failing')).toHaveLength(sent.length);
      expect((await deliveryLog(client, control.id)).map((d) => d.status)).toEqual([
        'delivered',
        'delivered',
      ]);
    },
    TEST_TIMEOUT,
  );
});
