import type {
  DeliveryStatus,
  NotificationType,
  WebhookFormat,
  WebhookStatus,
} from './webhook-api.js';

/** One attempt of a delivery, as stored (the API shows the time as ISO text). */
export interface StoredDeliveryAttempt {
  attempted_at: Date;
  status_code: number | null;
  error: string | null;
  duration_ms: number;
}

/** A webhook subscription as stored (collection `webhook_subscriptions`). */
export interface WebhookSubscriptionRecord {
  subscription_id: string;
  user_id: string;
  url: string;
  events: NotificationType[];
  /** Template names; null: every template. */
  templates: string[] | null;
  format: WebhookFormat;
  description: string;
  /** `whsec_…`: kept to sign with, never shown after creation. */
  secret: string;
  status: WebhookStatus;
  disabled_reason: string | null;
  disabled_at: Date | null;
  failing_since: Date | null;
  created_at: Date;
  updated_at: Date;
}

/**
 * One notification for one subscription (collection `webhook_deliveries`): the outbox row its
 * dispatcher delivers from. One per (subscription, event), so writing a commit's notifications
 * again adds nothing.
 */
export interface WebhookDeliveryRecord {
  delivery_id: string;
  subscription_id: string;
  user_id: string;
  workflow_run_id: string;
  event_id: string;
  seq: number;
  type: NotificationType;
  /** When the event was committed: delivery latency is measured from here. */
  event_at: Date;
  /** The exact body sent on every attempt (the signature covers it). */
  body: string;
  status: DeliveryStatus;
  attempts: StoredDeliveryAttempt[];
  created_at: Date;
  /** When the dispatcher should try (again); null once delivered or given up. */
  next_attempt_at: Date | null;
  /** A dispatcher is sending it until then (a claim, so two never send at once). */
  sending_until: Date | null;
  delivered_at: Date | null;
  failure_reason: string | null;
}
