import {
  newId,
  type EventRecord,
  type PendingInteraction,
  type WebhookDeliveryRecord,
  type WebhookSubscriptionRecord,
} from '@stepwise/shared';
import type { JobQueue, Models } from '@stepwise/shared/node';
import type { OutboxFollower, RunRef } from '../engine/event-log.js';
import { isDuplicateOnly } from '../engine/event-log.js';
import type { RunFactsCache } from '../engine/run-facts.js';
import { deliveryBody, notificationOf, notificationTypeOf } from './notification-body.js';

/**
 * Turns a commit's events into webhook deliveries (people.md, "No notification is lost"). It runs
 * whenever the commit's outbox is written to the log, including again by whoever finds a commit
 * whose writer died, so a committed event always gets its notifications: one delivery record per
 * (subscription, event), written idempotently, then queued with the delivery id as the job id.
 */
export class NotificationOutbox implements OutboxFollower {
  constructor(
    private readonly models: Models,
    private readonly facts: RunFactsCache,
    private readonly queue: JobQueue<'webhookDelivery'>,
    private readonly publicUrl: string | undefined,
  ) {}

  async afterWrite(run: RunRef, events: readonly EventRecord[]): Promise<void> {
    const notable = notableEvents(events);
    if (notable.length === 0) return;
    const facts = await this.facts.of(run);
    if (!facts) return;
    const subscriptions = await this.models.webhookSubscriptions
      .find({ user_id: facts.user_id, status: 'enabled' })
      .lean<WebhookSubscriptionRecord[]>();
    if (subscriptions.length === 0) return;
    for (const { event, type } of notable) {
      const takers = subscriptions.filter(
        (subscription) =>
          subscription.events.includes(type) &&
          (subscription.templates === null ||
            subscription.templates.includes(facts.workflow_template_name)),
      );
      if (takers.length === 0) continue;
      const interaction =
        type === 'interaction.requested' ? await this.questionOf(run, event) : null;
      // A reminder for a question answered meanwhile tells nobody anything useful.
      if (type === 'interaction.requested' && !interaction) continue;
      const notification = notificationOf({
        type,
        event,
        facts,
        interaction,
        publicUrl: this.publicUrl,
      });
      for (const subscription of takers) {
        const delivery = await this.record(
          subscription,
          event,
          type,
          deliveryBody(notification, subscription.format),
        );
        if (delivery.status === 'pending')
          await this.queue.enqueue(
            { delivery_id: delivery.delivery_id, user_id: delivery.user_id },
            { jobId: delivery.delivery_id },
          );
      }
    }
  }

  /** The question an event asks (or reminds of). */
  private async questionOf(run: RunRef, event: EventRecord): Promise<PendingInteraction | null> {
    if (event.event_type === 'interaction_requested') {
      const data = event.data as Partial<PendingInteraction>;
      return {
        interaction_id: String(data.interaction_id),
        module_id: String(data.module_id),
        step_id: event.step_id ?? '',
        module_name: event.module_name ?? '',
        request: data.request as PendingInteraction['request'],
        ...(data.deadline ? { deadline: data.deadline } : {}),
      };
    }
    const current = await this.models.runs
      .findOne({ workflow_run_id: run.workflow_run_id, user_id: run.user_id })
      .select({ pending_interaction: 1 })
      .lean();
    const pending = current?.pending_interaction ?? null;
    return pending?.interaction_id === event.data['interaction_id'] ? pending : null;
  }

  /** The delivery of this event to this subscription: made once, found again after that. */
  private async record(
    subscription: WebhookSubscriptionRecord,
    event: EventRecord,
    type: WebhookDeliveryRecord['type'],
    body: string,
  ): Promise<Pick<WebhookDeliveryRecord, 'delivery_id' | 'user_id' | 'status'>> {
    const key = {
      user_id: subscription.user_id,
      subscription_id: subscription.subscription_id,
      event_id: event.event_id,
    };
    const now = new Date();
    const fresh: WebhookDeliveryRecord = {
      delivery_id: newId('delivery'),
      ...key,
      workflow_run_id: event.workflow_run_id,
      seq: event.seq,
      type,
      event_at: new Date(event.timestamp),
      body,
      status: 'pending',
      attempts: [],
      created_at: now,
      next_attempt_at: now,
      sending_until: null,
      delivered_at: null,
      failure_reason: null,
    };
    try {
      await this.models.webhookDeliveries.collection.insertOne({ ...fresh });
      return fresh;
    } catch (error) {
      if (!isDuplicateOnly(error)) throw error;
    }
    const existing = await this.models.webhookDeliveries
      .findOne(key)
      .select({ delivery_id: 1, user_id: 1, status: 1 })
      .lean<Pick<WebhookDeliveryRecord, 'delivery_id' | 'user_id' | 'status'>>();
    if (!existing) throw new Error(`delivery of ${event.event_id} vanished after a duplicate key`);
    return existing;
  }
}

/**
 * The events of a commit that notify, in order. A question answered in the same commit (an
 * earlier answer reused, a default given) waits for nobody, so it is not announced.
 */
function notableEvents(events: readonly EventRecord[]) {
  const answered = new Set(
    events
      .filter((event) => event.event_type === 'interaction_responded')
      .map((event) => String(event.data['interaction_id'])),
  );
  return events.flatMap((event) => {
    const type = notificationTypeOf(event);
    if (!type) return [];
    if (type === 'interaction.requested' && answered.has(String(event.data['interaction_id'])))
      return [];
    return [{ event, type }];
  });
}
