/** Redis keys for counters that several processes add to and the gateway reports. */
export function eventsAppendedKey(queuePrefix: string): string {
  return `${queuePrefix}:metrics:events_appended`;
}

/**
 * Webhook deliveries by outcome (a Redis hash: field = outcome, value = count), added to by every
 * runner's dispatcher. Outcomes: `delivered` (2xx), `failed` (an attempt that will be retried),
 * `given_up` (no success within the give-up window, or the subscription went away).
 */
export function webhookDeliveriesKey(queuePrefix: string): string {
  return `${queuePrefix}:metrics:webhook_deliveries`;
}
export const webhookDeliveryOutcomes = ['delivered', 'failed', 'given_up'] as const;
export type WebhookDeliveryOutcome = (typeof webhookDeliveryOutcomes)[number];

/**
 * Seconds from the event's commit to its delivery's success, as a cumulative histogram in a Redis
 * hash: one field per upper bound (`le:<seconds>`, and `le:+Inf`), plus `sum` and `count`.
 */
export function webhookLatencyKey(queuePrefix: string): string {
  return `${queuePrefix}:metrics:webhook_latency`;
}
export const webhookLatencyBuckets = [
  0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600,
] as const;
