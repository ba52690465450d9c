import { describe, expect, it } from 'vitest';
import { Webhook } from 'standardwebhooks';
import {
  createWebhookBodySchema,
  errorEnvelopeSchema,
  newId,
  webhookDeliveriesKey,
  webhookLatencyKey,
  type DeliveryStatus,
  type WebhookDeliveryRecord,
  type WebhookStatus,
} from '@stepwise/shared';
import { useTestDatabases } from '../../../test/support/databases.js';
import {
  createTestUser,
  startTestGateway,
  type TestGateway,
} from '../../../test/support/gateway.js';
import { createSubscription } from '../src/notifications/subscriptions.js';

/**
 * The webhook subscription API (people.md, "Notifications and deadlines"), over real HTTP. No
 * runner runs here: deliveries are arranged directly in MongoDB, as the runner would write them.
 */
const db = await useTestDatabases('webhook-subscriptions');
/** No OUTBOUND_ALLOWED_HOSTS: private and loopback addresses are refused. */
const gateway = await startTestGateway(db);
/** OUTBOUND_ALLOWED_HOSTS=127.0.0.1: that address, and only it, may be subscribed. */
const allowing = await startTestGateway(db, { settings: { outboundAllowedHosts: ['127.0.0.1'] } });
const alice = (await createTestUser(gateway, 'alice')).api_key;
const bob = (await createTestUser(gateway, 'bob')).api_key;

/** A public address written as an address, so that no name lookup is needed to accept it. */
const PUBLIC_URL = 'https://93.184.215.14/hooks/stepwise';

async function call(
  on: TestGateway,
  token: string,
  method: string,
  path: string,
  json?: unknown,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await on.request(path, {
    method,
    token,
    ...(json === undefined ? {} : { json }),
  });
  const text = await response.text();
  return {
    status: response.status,
    body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>),
  };
}

function expectError(answer: { status: number; body: unknown }, status: number, code: string) {
  expect(answer.status, JSON.stringify(answer.body)).toBe(status);
  const envelope = errorEnvelopeSchema.parse(answer.body);
  expect(envelope.error.code).toBe(code);
  return envelope.error;
}

/** POST /v1/webhooks with a valid body, changed by `body`. */
const post = (token: string, body: Record<string, unknown>, on = gateway) =>
  call(on, token, 'POST', '/v1/webhooks', { url: PUBLIC_URL, events: ['run.failed'], ...body });

const idsOf = (answer: { body: Record<string, unknown> }) =>
  (answer.body['items'] as { subscription_id: string }[]).map((item) => item.subscription_id);

async function subscribe(token: string, body: Record<string, unknown> = {}, on = gateway) {
  const answer = await post(token, body, on);
  expect(answer.status, JSON.stringify(answer.body)).toBe(201);
  return answer.body as { subscription_id: string; secret: string } & Record<string, unknown>;
}

const countSubscriptions = () => db.models.webhookSubscriptions.countDocuments();

describe('webhook subscriptions', () => {
  it('shows the signing secret once, in the Standard Webhooks form, and never again', async () => {
    const created = await subscribe(alice, {
      events: ['run.completed', 'run.failed'],
      templates: ['onboarding'],
      format: 'slack',
      description: 'team channel',
    });
    expect(created).toMatchObject({
      url: PUBLIC_URL,
      events: ['run.completed', 'run.failed'],
      templates: ['onboarding'],
      format: 'slack',
      description: 'team channel',
      status: 'enabled',
      disabled_reason: null,
      disabled_at: null,
      failing_since: null,
    });
    expect(created.subscription_id).toMatch(/^whk_[0-9a-f]{24}$/);
    expect(created.secret).toMatch(/^whsec_[A-Za-z0-9+/]+=*$/);
    expect(Buffer.from(created.secret.slice('whsec_'.length), 'base64')).toHaveLength(32);
    // A receiver verifies with the secret exactly as shown.
    const signer = new Webhook(created.secret);
    const payload = '{"type":"run.completed"}';
    const headers = {
      'webhook-id': 'msg_1',
      'webhook-timestamp': String(Math.floor(Date.now() / 1000)),
      'webhook-signature': signer.sign('msg_1', new Date(), payload),
    };
    expect(signer.verify(payload, headers)).toEqual({ type: 'run.completed' });

    const stored = await db.models.webhookSubscriptions
      .findOne({ subscription_id: created.subscription_id })
      .lean();
    expect(stored?.secret).toBe(created.secret);
    for (const path of ['/v1/webhooks', `/v1/webhooks/${created.subscription_id}`]) {
      const read = await call(gateway, alice, 'GET', path);
      expect(read.status).toBe(200);
      expect(JSON.stringify(read.body)).not.toContain(created.secret);
      expect(JSON.stringify(read.body)).not.toContain('"secret"');
    }
    const patched = await call(gateway, alice, 'PATCH', `/v1/webhooks/${created.subscription_id}`, {
      description: 'renamed',
    });
    expect(patched.body).not.toHaveProperty('secret');
  });

  it('lists only the caller’s subscriptions, newest first; patches and deletes them', async () => {
    const first = await subscribe(bob);
    // Made in the same millisecond, two would be listed in an order of their ids.
    await db.models.webhookSubscriptions.updateOne(
      { subscription_id: first.subscription_id },
      { $set: { created_at: new Date('2020-01-01T00:00:00Z') } },
    );
    const second = await subscribe(bob, { events: ['run.failed'] });
    const listed = await call(gateway, bob, 'GET', '/v1/webhooks');
    expect(listed.status).toBe(200);
    expect(idsOf(listed)).toEqual([second.subscription_id, first.subscription_id]);

    const patched = await call(gateway, bob, 'PATCH', `/v1/webhooks/${first.subscription_id}`, {
      events: ['run.cancelled', 'run.completed'],
      templates: null,
      enabled: false,
    });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({
      events: ['run.cancelled', 'run.completed'],
      templates: null,
      status: 'paused',
    });
    expect((await call(gateway, bob, 'GET', `/v1/webhooks/${first.subscription_id}`)).body).toEqual(
      patched.body,
    );

    const path = `/v1/webhooks/${first.subscription_id}`;
    expect((await call(gateway, bob, 'DELETE', path)).status).toBe(204);
    expectError(await call(gateway, bob, 'GET', path), 404, 'NOT_FOUND');
    expectError(await call(gateway, bob, 'DELETE', path), 404, 'NOT_FOUND');
    expect(idsOf(await call(gateway, bob, 'GET', '/v1/webhooks'))).toEqual([
      second.subscription_id,
    ]);
  });

  it('answers 404 to another user for every route, and changes nothing', async () => {
    const owned = await subscribe(alice);
    const pending = await insertDelivery(owned.subscription_id, { status: 'pending' });
    const path = `/v1/webhooks/${owned.subscription_id}`;
    const attempts = [
      await call(gateway, bob, 'GET', path),
      await call(gateway, bob, 'PATCH', path, { enabled: false, url: 'https://93.184.215.15/x' }),
      await call(gateway, bob, 'DELETE', path),
      await call(gateway, bob, 'GET', `${path}/deliveries`),
    ];
    for (const answer of attempts) expectError(answer, 404, 'NOT_FOUND');
    const unchanged = await call(gateway, alice, 'GET', path);
    expect(unchanged.body).toMatchObject({ url: PUBLIC_URL, status: 'enabled' });
    const delivery = await db.models.webhookDeliveries.findOne({ delivery_id: pending }).lean();
    expect(delivery?.status).toBe('pending');
    const mine = await call(gateway, bob, 'GET', '/v1/webhooks');
    expect(JSON.stringify(mine.body)).not.toContain(owned.subscription_id);
  });

  it('refuses hostile input with the error envelope and stores nothing', async () => {
    const before = await countSubscriptions();
    const cases: [Record<string, unknown>, string][] = [
      [{ url: 'not a url' }, 'body.url'],
      [{ url: 'ftp://93.184.215.14/x' }, 'body.url'],
      [{ url: `${PUBLIC_URL}/${'a'.repeat(2_000)}` }, 'body.url'],
      [{ url: 'https://user:secret@93.184.215.14/x' }, 'body.url'],
      [{ events: ['run.exploded'] }, 'body.events[0]'],
      [{ events: ['run.failed', 'run.failed'] }, 'body.events'],
      [{ events: [] }, 'body.events'],
      [{ templates: ['Not A Template'] }, 'body.templates[0]'],
      [{ secret: 'whsec_mine' }, 'body.secret'],
    ];
    for (const [overrides, path] of cases) {
      const error = expectError(await post(alice, overrides), 400, 'BAD_REQUEST');
      expect(error.details, JSON.stringify(overrides)).toEqual(
        expect.arrayContaining([expect.objectContaining({ path })]),
      );
    }
    const huge = await post(alice, { description: 'x'.repeat(5 * 1024 * 1024) });
    expectError(huge, 413, 'PAYLOAD_TOO_LARGE');
    expectError(await call(gateway, alice, 'GET', '/v1/webhooks/whk_nope'), 400, 'BAD_REQUEST');
    expect(await countSubscriptions()).toBe(before);
  });

  it('refuses private and loopback destinations unless OUTBOUND_ALLOWED_HOSTS names them', async () => {
    const before = await countSubscriptions();
    for (const url of ['http://127.0.0.1:9/x', 'http://10.0.0.1/x', 'http://localhost:9/']) {
      const error = expectError(await post(alice, { url }), 400, 'BAD_REQUEST');
      expect(error.details).toEqual([
        { path: 'body.url', message: expect.stringContaining('OUTBOUND_ALLOWED_HOSTS') },
      ]);
    }
    // A name is refused without saying where it resolves: that would map the internal network
    // for any user (which names exist, and their addresses).
    for (const url of ['http://localhost:9/', 'http://no-such-host.invalid/']) {
      const { message } = expectError(await post(alice, { url }), 400, 'BAD_REQUEST');
      expect(message).toContain('does not resolve, or resolves to a private');
      expect(message).not.toMatch(/127\.0\.0\.1|::1/);
    }
    expect(await countSubscriptions()).toBe(before);

    const allowed = await subscribe(alice, { url: 'http://127.0.0.1:9/x' }, allowing);
    expect(allowed.url).toBe('http://127.0.0.1:9/x');
    // The list allows that address only, not the rest of the private ranges.
    expectError(await post(alice, { url: 'http://10.0.0.1/x' }, allowing), 400, 'BAD_REQUEST');
    // A changed URL is checked as at creation; an unchanged one is not checked again.
    const path = `/v1/webhooks/${allowed.subscription_id}`;
    expectError(
      await call(gateway, alice, 'PATCH', path, { url: 'http://10.0.0.1/y' }),
      400,
      'BAD_REQUEST',
    );
    const kept = await call(gateway, alice, 'PATCH', path, {
      url: 'http://127.0.0.1:9/x',
      description: 'd',
    });
    expect(kept.status).toBe(200);
    expect((await call(gateway, alice, 'GET', path)).body).toMatchObject({
      url: 'http://127.0.0.1:9/x',
    });
  });

  it('enables a disabled subscription again, clearing why and since when it was disabled', async () => {
    const created = await subscribe(alice);
    const disabledAt = new Date('2030-01-04T00:00:00Z');
    await db.models.webhookSubscriptions.updateOne(
      { subscription_id: created.subscription_id },
      {
        $set: {
          status: 'disabled',
          disabled_reason: 'failing for 3 days',
          disabled_at: disabledAt,
          failing_since: new Date('2030-01-01T00:00:00Z'),
        },
      },
    );
    const path = `/v1/webhooks/${created.subscription_id}`;
    expect((await call(gateway, alice, 'GET', path)).body).toMatchObject({
      status: 'disabled',
      disabled_reason: 'failing for 3 days',
      disabled_at: disabledAt.toISOString(),
      failing_since: '2030-01-01T00:00:00.000Z',
    });
    const enabled = await call(gateway, alice, 'PATCH', path, { enabled: true });
    expect(enabled.status).toBe(200);
    expect(enabled.body).toMatchObject({
      status: 'enabled',
      disabled_reason: null,
      disabled_at: null,
      failing_since: null,
    });
    expectError(await call(gateway, alice, 'PATCH', path, {}), 400, 'BAD_REQUEST');
  });

  it('keeps at most 20 subscriptions per user', async () => {
    const carol = (await createTestUser(gateway, 'carol')).api_key;
    for (let made = 0; made < 20; made++) await subscribe(carol);
    const before = await countSubscriptions();
    const refused = expectError(await post(carol, {}), 409, 'CONFLICT');
    expect(refused.message).toContain('20');
    expect(await countSubscriptions()).toBe(before);
  });

  it('keeps the limit when creations race past its check', async () => {
    const dave = await createTestUser(gateway, 'dave');
    for (let made = 0; made < 19; made++) await subscribe(dave.api_key);
    // Every creation has passed the limit check before any of them inserts.
    const racers = 4;
    let arrived = 0;
    let releaseAll = () => {};
    const allChecked = new Promise<void>((resolve) => (releaseAll = resolve));
    const deps = {
      models: db.models,
      destinations: { allowedHosts: [] },
      beforeInsert: async () => {
        if (++arrived === racers) releaseAll();
        await allChecked;
      },
    };
    const body = createWebhookBodySchema.parse({ url: PUBLIC_URL, events: ['run.failed'] });
    const outcomes = await Promise.allSettled(
      Array.from({ length: racers }, () => createSubscription(deps, dave.user.user_id, body)),
    );
    expect(arrived).toBe(racers);
    for (const outcome of outcomes) {
      if (outcome.status === 'rejected') expect(outcome.reason).toMatchObject({ code: 'CONFLICT' });
    }
    const kept = outcomes.filter((outcome) => outcome.status === 'fulfilled').length;
    const stored = await db.models.webhookSubscriptions.countDocuments({
      user_id: dave.user.user_id,
    });
    expect(stored).toBe(19 + kept);
    expect(stored).toBeLessThanOrEqual(20);
  });
});

let deliveryClock = Date.parse('2030-02-01T00:00:00Z');

/** Arranges a delivery as the runner's outbox writes it. */
async function insertDelivery(
  subscriptionId: string,
  overrides: Partial<WebhookDeliveryRecord> = {},
): Promise<string> {
  const subscription = await db.models.webhookSubscriptions
    .findOne({ subscription_id: subscriptionId })
    .lean();
  const createdAt = new Date((deliveryClock += 1_000));
  const record: WebhookDeliveryRecord = {
    delivery_id: newId('delivery'),
    subscription_id: subscriptionId,
    user_id: subscription?.user_id ?? 'usr_missing',
    workflow_run_id: newId('run'),
    event_id: newId('event'),
    seq: 3,
    type: 'interaction.requested',
    event_at: createdAt,
    body: '{}',
    status: 'pending',
    attempts: [],
    created_at: createdAt,
    next_attempt_at: new Date(createdAt.getTime() + 5_000),
    sending_until: null,
    delivered_at: null,
    failure_reason: null,
    ...overrides,
  };
  await db.models.webhookDeliveries.create(record);
  return record.delivery_id;
}

/** A page of alice's delivery log of subscription `id`. */
const readLog = (id: string, query: string) =>
  call(gateway, alice, 'GET', `/v1/webhooks/${id}/deliveries${query}`);

describe('the delivery log', () => {
  it('pages newest first with an opaque cursor, filters by status, and refuses foreign cursors', async () => {
    const { subscription_id: id } = await subscribe(alice);
    const other = await subscribe(alice);
    await insertDelivery(other.subscription_id);
    const statuses: DeliveryStatus[] = ['delivered', 'failed', 'pending', 'delivered', 'pending'];
    const inserted: string[] = [];
    for (const status of statuses) {
      inserted.push(
        await insertDelivery(id, {
          status,
          attempts: [
            {
              attempted_at: new Date('2030-02-01T00:00:00Z'),
              status_code: status === 'delivered' ? 204 : 500,
              error: status === 'delivered' ? null : 'HTTP 500',
              duration_ms: 12,
            },
          ],
          ...(status === 'delivered' ? { delivered_at: new Date(), next_attempt_at: null } : {}),
        }),
      );
    }
    // Two made in the same millisecond are ordered by id.
    const tiedAt = new Date((deliveryClock += 1_000));
    const tied = [
      await insertDelivery(id, { created_at: tiedAt }),
      await insertDelivery(id, { created_at: tiedAt }),
    ].sort();
    const newestFirst = [...tied.reverse(), ...inserted.reverse()];

    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const query: string = cursor ? `?limit=3&cursor=${cursor}` : '?limit=3';
      const page = await readLog(id, query);
      expect(page.status).toBe(200);
      const items = page.body['items'] as { delivery_id: string }[];
      expect(items.length).toBeLessThanOrEqual(3);
      seen.push(...items.map((item) => item.delivery_id));
      cursor = page.body['next_cursor'] as string | null;
    } while (cursor);
    expect(seen).toEqual(newestFirst);

    const items = (await readLog(id, '?status=delivered')).body['items'] as Record<
      string,
      unknown
    >[];
    expect(items.map((item) => item['delivery_id'])).toEqual([inserted[1], inserted[4]]);
    expect(items[0]).toMatchObject({
      subscription_id: id,
      type: 'interaction.requested',
      seq: 3,
      status: 'delivered',
      next_attempt_at: null,
      failure_reason: null,
      attempts: [
        {
          attempted_at: '2030-02-01T00:00:00.000Z',
          status_code: 204,
          error: null,
          duration_ms: 12,
        },
      ],
    });
    expect(items[0]).not.toHaveProperty('body');
    expect(new Date(String(items[0]?.['created_at'])).toISOString()).toBe(items[0]?.['created_at']);

    const valid = Buffer.from(`${tiedAt.getTime()}:${tied[0]}`).toString('base64url');
    for (const foreign of [
      'abc',
      Buffer.from('1:run_x').toString('base64url'),
      `${valid}A`,
      '*'.repeat(8),
    ]) {
      const answer = await readLog(id, `?cursor=${foreign}`);
      expect(expectError(answer, 400, 'BAD_REQUEST').details).toEqual([
        expect.objectContaining({ path: 'query.cursor' }),
      ]);
    }
  });

  it('gives up the pending deliveries of a deleted subscription and leaves the rest', async () => {
    const { subscription_id: id } = await subscribe(alice);
    const pending = await insertDelivery(id, { status: 'pending' });
    const delivered = await insertDelivery(id, {
      status: 'delivered',
      delivered_at: new Date(),
      next_attempt_at: null,
    });
    expect((await call(gateway, alice, 'DELETE', `/v1/webhooks/${id}`)).status).toBe(204);
    const given = await db.models.webhookDeliveries.findOne({ delivery_id: pending }).lean();
    expect(given).toMatchObject({
      status: 'failed',
      failure_reason: 'subscription deleted',
      next_attempt_at: null,
    });
    const kept = await db.models.webhookDeliveries.findOne({ delivery_id: delivered }).lean();
    expect(kept).toMatchObject({ status: 'delivered', failure_reason: null });
  });
});

function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  const wanted = Object.entries(labels).map(([key, value]) => `${key}="${value}"`);
  const line = text
    .split('\n')
    .find(
      (candidate) =>
        candidate.split(/[{ ]/)[0] === name && wanted.every((label) => candidate.includes(label)),
    );
  return line === undefined ? Number.NaN : Number(line.slice(line.lastIndexOf(' ') + 1));
}

describe('webhook metrics', () => {
  it('reports deliveries by outcome, their latency histogram and subscriptions by status', async () => {
    await db.redis.hset(webhookDeliveriesKey(db.queuePrefix), {
      delivered: 7,
      failed: 3,
      given_up: 1,
    });
    await db.redis.hset(webhookLatencyKey(db.queuePrefix), {
      'le:0.05': 1,
      'le:1': 3,
      'le:3600': 4,
      'le:+Inf': 5,
      sum: 4000.25,
      count: 5,
    });
    const byStatus = async (status: WebhookStatus) =>
      db.models.webhookSubscriptions.countDocuments({ status });
    const expected = {
      enabled: await byStatus('enabled'),
      paused: await byStatus('paused'),
      disabled: await byStatus('disabled'),
    };
    expect(expected.enabled).toBeGreaterThan(0);

    const text = await (await gateway.request('/metrics')).text();
    expect(sample(text, 'stepwise_webhook_deliveries_total', { outcome: 'delivered' })).toBe(7);
    expect(sample(text, 'stepwise_webhook_deliveries_total', { outcome: 'failed' })).toBe(3);
    expect(sample(text, 'stepwise_webhook_deliveries_total', { outcome: 'given_up' })).toBe(1);
    const bucket = 'stepwise_webhook_delivery_latency_seconds_bucket';
    expect(sample(text, bucket, { le: '0.05' })).toBe(1);
    expect(sample(text, bucket, { le: '0.1' })).toBe(0);
    expect(sample(text, bucket, { le: '1' })).toBe(3);
    expect(sample(text, bucket, { le: '3600' })).toBe(4);
    expect(sample(text, bucket, { le: '+Inf' })).toBe(5);
    expect(sample(text, 'stepwise_webhook_delivery_latency_seconds_sum')).toBe(4000.25);
    expect(sample(text, 'stepwise_webhook_delivery_latency_seconds_count')).toBe(5);
    for (const [status, count] of Object.entries(expected)) {
      expect(sample(text, 'stepwise_webhook_subscriptions', { status })).toBe(count);
    }
    expect(sample(text, 'stepwise_queue_jobs', { queue: 'webhooks', state: 'waiting' })).toBe(0);
  });
});
