import {
  type DeliveryStatus,
  type DeliveryView,
  type WebhookDeliveryRecord,
} from '@stepwise/shared';
import type { Models } from '@stepwise/shared/node';
import { afterTimeCursor, decodeTimeCursor, encodeTimeCursor } from '../http/page-cursor.js';
import { findSubscription } from './subscriptions.js';

/** A subscription's delivery log, newest first, as its owner reads it. */

export function deliveryView(record: WebhookDeliveryRecord): DeliveryView {
  return {
    delivery_id: record.delivery_id,
    subscription_id: record.subscription_id,
    type: record.type,
    workflow_run_id: record.workflow_run_id,
    seq: record.seq,
    event_id: record.event_id,
    status: record.status,
    attempts: record.attempts.map((attempt) => ({
      attempted_at: attempt.attempted_at.toISOString(),
      status_code: attempt.status_code,
      error: attempt.error,
      duration_ms: attempt.duration_ms,
    })),
    created_at: record.created_at.toISOString(),
    next_attempt_at: record.next_attempt_at?.toISOString() ?? null,
    delivered_at: record.delivered_at?.toISOString() ?? null,
    failure_reason: record.failure_reason,
  };
}

export interface DeliveryLogQuery {
  status?: DeliveryStatus | undefined;
  limit: number;
  cursor?: string | undefined;
}

export async function listDeliveries(
  models: Models,
  userId: string,
  subscriptionId: string,
  query: DeliveryLogQuery,
): Promise<{ items: DeliveryView[]; next_cursor: string | null }> {
  // A cursor is refused before the subscription is looked up, as any malformed query is.
  const after = query.cursor === undefined ? undefined : decodeTimeCursor(query.cursor, 'delivery');
  await findSubscription(models, userId, subscriptionId);
  const filter: Record<string, unknown> = { subscription_id: subscriptionId, user_id: userId };
  if (query.status) filter['status'] = query.status;
  if (after) Object.assign(filter, afterTimeCursor(after, 'delivery_id'));
  // One more than a page, to know whether another follows.
  const rows = await models.webhookDeliveries
    .find(filter)
    .select({ body: 0, sending_until: 0 })
    .sort({ created_at: -1, delivery_id: -1 })
    .limit(query.limit + 1)
    .lean<WebhookDeliveryRecord[]>();
  const page = rows.slice(0, query.limit);
  const last = page.at(-1);
  return {
    items: page.map(deliveryView),
    next_cursor:
      rows.length > query.limit && last
        ? encodeTimeCursor({ createdAt: last.created_at, id: last.delivery_id })
        : null,
  };
}
