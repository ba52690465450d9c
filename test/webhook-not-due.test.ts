import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import {
  newId,
  type WebhookDeliveryRecord,
  type WebhookSubscriptionRecord,
} from '@stepwise/shared';
import { JobQueue } from '@stepwise/shared/node';
import { deliverWebhook } from '../services/runner/src/notifications/deliver-webhook.js';
import { useTestDatabases } from './support/databases.js';
import { startWebhookReceiver } from './support/webhook-receiver.js';

/**
 * A delivery job that arrives before the delivery's next attempt is due (a sweep, an enqueue
 * repeated, or a runner whose clock runs ahead of the one that scheduled the retry) sends
 * nothing: it lets go of its claim and puts a job back for the due time.
 */
const db = await useTestDatabases('webhook_not_due');
const queue = new JobQueue('webhookDelivery', db.redis, db.queuePrefix);
const receiver = await startWebhookReceiver();

describe('an early delivery job', () => {
  it('sends nothing and is put back for the time the delivery is due', async () => {
    const now = new Date();
    const userId = newId('user');
    const subscription: WebhookSubscriptionRecord = {
      subscription_id: newId('webhook'),
      user_id: userId,
      url: `${receiver.base}/hook`,
      events: ['run.completed'],
      templates: null,
      format: 'standard',
      description: '',
      secret: `whsec_${Buffer.from('a'.repeat(32)).toString('base64')}`,
      status: 'enabled',
      disabled_reason: null,
      disabled_at: null,
      failing_since: null,
      created_at: now,
      updated_at: now,
    };
    const dueAt = new Date(now.getTime() + 60_000);
    const delivery: WebhookDeliveryRecord = {
      delivery_id: newId('delivery'),
      subscription_id: subscription.subscription_id,
      user_id: userId,
      workflow_run_id: newId('run'),
      event_id: newId('event'),
      seq: 3,
      type: 'run.completed',
      event_at: now,
      body: '{}',
      status: 'pending',
      attempts: [{ attempted_at: now, status_code: 503, error: null, duration_ms: 5 }],
      created_at: now,
      next_attempt_at: dueAt,
      sending_until: null,
      delivered_at: null,
      failure_reason: null,
    };
    await db.models.webhookSubscriptions.create(subscription);
    await db.models.webhookDeliveries.create(delivery);

    const outcome = await deliverWebhook(
      {
        models: db.models,
        redis: db.redis,
        queuePrefix: db.queuePrefix,
        queue,
        logger: pino({ level: 'silent' }),
        settings: {
          policy: { allowedHosts: ['127.0.0.1'] },
          timeoutMs: 2_000,
          retryBaseMs: 100,
          retryMaxMs: 1_000,
          giveUpAfterMs: 3_600_000,
          disableAfterMs: 3_600_000,
        },
      },
      { delivery_id: delivery.delivery_id, user_id: userId },
    );

    expect(outcome).toBe('not_due');
    expect(receiver.requests).toHaveLength(0);
    const stored = await db.models.webhookDeliveries
      .findOne({ delivery_id: delivery.delivery_id })
      .lean();
    // The claim is let go at once, and nothing about the delivery changed.
    expect(stored?.sending_until).toBeNull();
    expect(stored?.status).toBe('pending');
    expect(stored?.attempts).toHaveLength(1);
    const again = await queue.queue.getJob(`${delivery.delivery_id}-due-${dueAt.getTime()}`);
    expect(again?.data).toEqual({ delivery_id: delivery.delivery_id, user_id: userId });
    expect(again?.opts.delay).toBeGreaterThan(55_000);
    expect(again?.opts.delay).toBeLessThanOrEqual(60_000);
    expect(await again?.isDelayed()).toBe(true);
  });
});
