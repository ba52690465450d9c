import type { RedisClient } from '@stepwise/shared/node';
import { Webhook } from 'standardwebhooks';
import {
  webhookDeliveriesKey,
  webhookLatencyBuckets,
  webhookLatencyKey,
  type StoredDeliveryAttempt,
  type WebhookDeliveryJob,
  type WebhookDeliveryOutcome,
  type WebhookDeliveryRecord,
  type WebhookSubscriptionRecord,
} from '@stepwise/shared';
import type { DestinationPolicy, JobQueue, Logger, Models } from '@stepwise/shared/node';
import { OutboundError, sendOutbound } from '../outbound/http-client.js';

export interface WebhookSettings {
  policy: DestinationPolicy;
  timeoutMs: number;
  retryBaseMs: number;
  retryMaxMs: number;
  giveUpAfterMs: number;
  disableAfterMs: number;
}

export interface DeliveryDependencies {
  models: Models;
  redis: RedisClient;
  queuePrefix: string;
  queue: JobQueue<'webhookDelivery'>;
  settings: WebhookSettings;
  logger: Logger;
}

/** The most of a receiver's answer read (it is not kept: only its status counts). */
const MAX_ANSWER_BYTES = 64 * 1024;

/** Thrown when a claim changed hands while it was read: the queue tries again shortly. */
export class DeliveryBusy extends Error {}

/**
 * One attempt of one delivery (people.md, "Notifications and deadlines"). The delivery is claimed
 * first (so two dispatchers never send it at once), then sent, signed with its subscription's
 * secret and the same `webhook-id` on every attempt, then the outcome is recorded. A dispatcher
 * killed between sending and recording leaves the claim to expire, and the delivery is sent again
 * with the same id: the one case in which a receiver sees it twice.
 */
export async function deliverWebhook(
  deps: DeliveryDependencies,
  job: WebhookDeliveryJob,
): Promise<'delivered' | 'retrying' | 'given_up' | 'not_due' | 'done'> {
  const { models, settings } = deps;
  const now = new Date();
  const claimed = await models.webhookDeliveries.collection.findOneAndUpdate(
    {
      user_id: job.user_id,
      delivery_id: job.delivery_id,
      status: 'pending',
      $or: [{ sending_until: null }, { sending_until: { $lte: now } }],
    },
    { $set: { sending_until: new Date(now.getTime() + settings.timeoutMs + 5_000) } },
    { returnDocument: 'after' },
  );
  if (!claimed) {
    const current = await models.webhookDeliveries
      .findOne({ user_id: job.user_id, delivery_id: job.delivery_id })
      .select({ status: 1, sending_until: 1 })
      .lean();
    if (current?.status !== 'pending') return 'done';
    // Another dispatcher holds the claim (or held it and died: then it runs out). Look again
    // when it ends, rather than retry blindly and perhaps give up before it does.
    const until = current.sending_until?.getTime() ?? now.getTime();
    if (until <= now.getTime()) throw new DeliveryBusy(`${job.delivery_id} was just claimed`);
    await deps.queue.enqueue(
      { delivery_id: job.delivery_id, user_id: job.user_id },
      { delay: until - now.getTime() + 100, jobId: `${job.delivery_id}-claim-${until}` },
    );
    return 'not_due';
  }
  const delivery = claimed as unknown as WebhookDeliveryRecord;
  // What this attempt records is written only while its claim still holds: a delivery given up
  // meanwhile (its subscription deleted) stays given up, and a claim that ran out and passed to
  // another dispatcher is that one's to record.
  const held = {
    user_id: delivery.user_id,
    delivery_id: delivery.delivery_id,
    status: 'pending',
    sending_until: delivery.sending_until,
  } as const;
  // An early job (a sweep, a repeated enqueue, or a runner whose clock is ahead of the one that
  // made the delivery) leaves a delivery that waits out its time; it is looked at again then.
  const dueAt = delivery.next_attempt_at?.getTime() ?? now.getTime();
  if (dueAt > now.getTime() + 1_000) {
    await release(models, delivery);
    await deps.queue.enqueue(
      { delivery_id: delivery.delivery_id, user_id: delivery.user_id },
      { delay: dueAt - now.getTime(), jobId: `${delivery.delivery_id}-due-${dueAt}` },
    );
    return 'not_due';
  }
  const subscription = await models.webhookSubscriptions
    .findOne({ subscription_id: delivery.subscription_id })
    .lean<WebhookSubscriptionRecord>();
  if (!subscription || subscription.status !== 'enabled') {
    const reason = !subscription
      ? 'subscription deleted'
      : `subscription ${subscription.status === 'paused' ? 'paused' : 'disabled'}`;
    await giveUp(deps, held, reason, null);
    return 'given_up';
  }

  const attempt = await send(settings, subscription, delivery, now);
  if (attempt.status_code !== null && attempt.status_code >= 200 && attempt.status_code < 300) {
    const recorded = await models.webhookDeliveries.updateOne(held, {
      $set: {
        status: 'delivered',
        delivered_at: new Date(),
        next_attempt_at: null,
        sending_until: null,
      },
      $push: { attempts: attempt },
    });
    if (recorded.matchedCount === 0) return 'done';
    await models.webhookSubscriptions.updateOne(
      { subscription_id: subscription.subscription_id, failing_since: { $ne: null } },
      { $set: { failing_since: null } },
    );
    await countOutcome(deps, 'delivered', (Date.now() - delivery.event_at.getTime()) / 1000);
    return 'delivered';
  }

  const failures = delivery.attempts.length + 1;
  const wait = Math.min(settings.retryBaseMs * 2 ** (failures - 1), settings.retryMaxMs);
  const nextAt = new Date(Date.now() + wait);
  await noteFailure(deps, subscription, attempt, now);
  if (nextAt.getTime() - delivery.created_at.getTime() > settings.giveUpAfterMs) {
    await giveUp(deps, held, `no success within ${describeMs(settings.giveUpAfterMs)}`, attempt);
    return 'given_up';
  }
  const recorded = await models.webhookDeliveries.updateOne(held, {
    $set: { next_attempt_at: nextAt, sending_until: null },
    $push: { attempts: attempt },
  });
  if (recorded.matchedCount === 0) return 'done';
  await countOutcome(deps, 'failed', null);
  await deps.queue.enqueue(
    { delivery_id: delivery.delivery_id, user_id: delivery.user_id },
    { delay: wait, jobId: `${delivery.delivery_id}-${failures}` },
  );
  return 'retrying';
}

async function send(
  settings: WebhookSettings,
  subscription: WebhookSubscriptionRecord,
  delivery: WebhookDeliveryRecord,
  now: Date,
): Promise<StoredDeliveryAttempt> {
  const signed = new Webhook(subscription.secret).sign(delivery.delivery_id, now, delivery.body);
  const started = performance.now();
  const attempt = (statusCode: number | null, error: string | null): StoredDeliveryAttempt => ({
    attempted_at: now,
    status_code: statusCode,
    error,
    duration_ms: Math.round(performance.now() - started),
  });
  try {
    const answer = await sendOutbound(settings.policy, {
      url: subscription.url,
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'user-agent': 'Stepwise-Webhooks/1',
        'webhook-id': delivery.delivery_id,
        'webhook-timestamp': String(Math.floor(now.getTime() / 1000)),
        'webhook-signature': signed,
      },
      body: delivery.body,
      timeoutMs: settings.timeoutMs,
      maxResponseBytes: MAX_ANSWER_BYTES,
    });
    const ok = answer.status >= 200 && answer.status < 300;
    return attempt(answer.status, ok ? null : `HTTP ${answer.status}`);
  } catch (error) {
    const message =
      error instanceof OutboundError ? `${error.code}: ${error.message}` : (error as Error).message;
    return attempt(null, message);
  }
}

/**
 * A failed attempt starts (or continues) the subscription's failing period; one that has lasted
 * WEBHOOK_DISABLE_AFTER_MS disables it, with the reason its owner sees in the app.
 */
async function noteFailure(
  deps: DeliveryDependencies,
  subscription: WebhookSubscriptionRecord,
  attempt: StoredDeliveryAttempt,
  now: Date,
): Promise<void> {
  const { models, settings } = deps;
  await models.webhookSubscriptions.updateOne(
    { subscription_id: subscription.subscription_id, failing_since: null },
    { $set: { failing_since: now } },
  );
  const failingBefore = new Date(now.getTime() - settings.disableAfterMs);
  const last = attempt.status_code === null ? attempt.error : `HTTP ${attempt.status_code}`;
  const disabled = await models.webhookSubscriptions.updateOne(
    {
      subscription_id: subscription.subscription_id,
      status: 'enabled',
      failing_since: { $lte: failingBefore },
    },
    {
      $set: {
        status: 'disabled',
        disabled_at: now,
        disabled_reason: `every delivery has failed for ${describeMs(settings.disableAfterMs)} (last: ${last}); fix the receiver, then enable the subscription again`,
        updated_at: now,
      },
    },
  );
  if (disabled.modifiedCount === 1)
    deps.logger.warn(
      { subscription_id: subscription.subscription_id, user_id: subscription.user_id },
      'webhook subscription disabled after failing too long',
    );
}

/** Gives up a delivery whose claim `held` names (its filter), if the claim still holds. */
async function giveUp(
  deps: DeliveryDependencies,
  held: { user_id: string; delivery_id: string; status: 'pending'; sending_until: Date | null },
  reason: string,
  attempt: StoredDeliveryAttempt | null,
): Promise<void> {
  const recorded = await deps.models.webhookDeliveries.updateOne(held, {
    $set: { status: 'failed', failure_reason: reason, next_attempt_at: null, sending_until: null },
    ...(attempt ? { $push: { attempts: attempt } } : {}),
  });
  if (recorded.matchedCount > 0) await countOutcome(deps, 'given_up', null);
}

async function release(
  models: Models,
  delivery: Pick<WebhookDeliveryRecord, 'user_id' | 'delivery_id'>,
): Promise<void> {
  await models.webhookDeliveries.updateOne(
    { user_id: delivery.user_id, delivery_id: delivery.delivery_id },
    { $set: { sending_until: null } },
  );
}

/** Counts an outcome (and a success's latency) for /metrics; best effort. */
async function countOutcome(
  deps: DeliveryDependencies,
  outcome: WebhookDeliveryOutcome,
  latencySeconds: number | null,
): Promise<void> {
  const pipeline = deps.redis.pipeline();
  pipeline.hincrby(webhookDeliveriesKey(deps.queuePrefix), outcome, 1);
  if (latencySeconds !== null) {
    const key = webhookLatencyKey(deps.queuePrefix);
    for (const bound of webhookLatencyBuckets)
      if (latencySeconds <= bound) pipeline.hincrby(key, `le:${bound}`, 1);
    pipeline.hincrby(key, 'le:+Inf', 1);
    pipeline.hincrbyfloat(key, 'sum', latencySeconds);
    pipeline.hincrby(key, 'count', 1);
  }
  await pipeline.exec().catch(() => undefined);
}

function describeMs(ms: number): string {
  if (ms % 86_400_000 === 0) return `${ms / 86_400_000} day${ms === 86_400_000 ? '' : 's'}`;
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000} h`;
  if (ms % 60_000 === 0) return `${ms / 60_000} min`;
  return `${ms / 1000} s`;
}
