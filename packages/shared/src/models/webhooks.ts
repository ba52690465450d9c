import { Schema, type Connection } from 'mongoose';
import type {
  WebhookDeliveryRecord,
  WebhookSubscriptionRecord,
} from '../notifications/webhook-records.js';

const subscriptionSchema = new Schema<WebhookSubscriptionRecord>(
  {
    subscription_id: { type: String, required: true },
    user_id: { type: String, required: true },
    url: { type: String, required: true },
    events: { type: [String], required: true },
    templates: { type: [String], default: null },
    format: { type: String, required: true },
    description: { type: String, default: '' },
    secret: { type: String, required: true },
    status: { type: String, required: true },
    disabled_reason: { type: String, default: null },
    disabled_at: { type: Date, default: null },
    failing_since: { type: Date, default: null },
    created_at: { type: Date, required: true },
    updated_at: { type: Date, required: true },
  },
  { collection: 'webhook_subscriptions', versionKey: false },
);
subscriptionSchema.index({ subscription_id: 1 }, { unique: true });
// A commit's notifications are found by the run's owner.
subscriptionSchema.index({ user_id: 1, status: 1 });

const deliverySchema = new Schema<WebhookDeliveryRecord>(
  {
    delivery_id: { type: String, required: true },
    subscription_id: { type: String, required: true },
    user_id: { type: String, required: true },
    workflow_run_id: { type: String, required: true },
    event_id: { type: String, required: true },
    seq: { type: Number, required: true },
    type: { type: String, required: true },
    event_at: { type: Date, required: true },
    body: { type: String, required: true },
    status: { type: String, required: true },
    attempts: { type: Schema.Types.Mixed, default: [] },
    created_at: { type: Date, required: true },
    next_attempt_at: { type: Date, default: null },
    sending_until: { type: Date, default: null },
    delivered_at: { type: Date, default: null },
    failure_reason: { type: String, default: null },
  },
  { collection: 'webhook_deliveries', versionKey: false },
);
// Sharded by owner (shard-keys.ts): the delivery log and the dispatcher both know whose it is.
deliverySchema.index({ user_id: 1, delivery_id: 1 }, { unique: true });
// One notification per subscription and event: an outbox written twice adds nothing.
deliverySchema.index({ user_id: 1, subscription_id: 1, event_id: 1 }, { unique: true });
// The delivery log, newest first.
deliverySchema.index({ user_id: 1, subscription_id: 1, created_at: -1, delivery_id: -1 });
// The dispatcher's sweep for deliveries no job carries.
deliverySchema.index({ status: 1, next_attempt_at: 1 });

export function createWebhookModels(connection: Connection) {
  return {
    webhookSubscriptions: connection.model<WebhookSubscriptionRecord>(
      'WebhookSubscription',
      subscriptionSchema,
    ),
    webhookDeliveries: connection.model<WebhookDeliveryRecord>('WebhookDelivery', deliverySchema),
  };
}
