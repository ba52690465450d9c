/**
 * Every Redis key and channel Stepwise uses, in one place, laid out for Redis Cluster
 * (docs/scaling.md, "Redis key layout"). A multi-key operation (a BullMQ script, MULTI, MGET, a
 * pipeline) works on a cluster only when all its keys hash to one slot, which a shared `{hash tag}`
 * guarantees. So each family gets the narrowest tag its multi-key operations need:
 *
 * - each queue its own tag, `{<ns>:<queue>}`: BullMQ's scripts touch only one queue's keys, and
 *   separate tags let the cluster spread the queues over its masters;
 * - each user one tag, `{<ns>:user:<user_id>}`: the rate-limit window, the fair-share counter and
 *   the sessions with the user's session set (created and ended together in one MULTI), and the
 *   key-revocation epoch (read in the same MULTI as the rate-limit count);
 * - the counters the gateway reports one tag, `{<ns>:metrics}` (updated together in a pipeline);
 * - keys only ever used alone (failed-login counters, the sweeper's lock) no tag, so they spread.
 *
 * `<ns>` is the namespace from QUEUE_PREFIX (`{stepwise}` or `stepwise` both give `stepwise`).
 * Pub/sub channels are not keys: a cluster broadcasts PUBLISH to every node whatever the name.
 */

/** The namespace inside QUEUE_PREFIX, without the braces older configurations wrote around it. */
export function redisNamespace(queuePrefix: string): string {
  return queuePrefix.startsWith('{') && queuePrefix.endsWith('}')
    ? queuePrefix.slice(1, -1)
    : queuePrefix;
}

/** The BullMQ `prefix` for one queue: a hash tag of its own (keys `{<ns>:<queue>}:<queue>:…`). */
export function queueKeyPrefix(queuePrefix: string, queue: string): string {
  return `{${redisNamespace(queuePrefix)}:${queue}}`;
}

function userTag(queuePrefix: string, userId: string): string {
  return `{${redisNamespace(queuePrefix)}:user:${userId}}`;
}

/** The user's request count in one rate-limit window (INCR + PEXPIRE in one MULTI). */
export function rateLimitKey(queuePrefix: string, userId: string, window: number): string {
  return `${userTag(queuePrefix, userId)}:rate:${window}`;
}

/**
 * The user's key-revocation epoch: a random token replaced whenever one of the user's API keys is
 * revoked. Gateways keep validated keys in memory only together with the epoch they read before
 * confirming the key in MongoDB, so a replaced epoch invalidates every gateway's copy at once.
 */
export function authEpochKey(queuePrefix: string, userId: string): string {
  return `${userTag(queuePrefix, userId)}:auth-epoch`;
}

/** How many of the user's jobs wait on the `runs` queue (their fair-share place). */
export function fairShareKey(queuePrefix: string, userId: string): string {
  return `${userTag(queuePrefix, userId)}:fair`;
}

/** One signed-in session, under the sha256 of its cookie's secret. */
export function sessionKey(queuePrefix: string, userId: string, secretHash: string): string {
  return `${userTag(queuePrefix, userId)}:session:${secretHash}`;
}

/** The set of a user's session hashes (a password change ends them all). */
export function userSessionsKey(queuePrefix: string, userId: string): string {
  return `${userTag(queuePrefix, userId)}:sessions`;
}

/**
 * Failed authentications in one window, by client address or by credential prefix. Each is read
 * and counted on its own (the two may live on different nodes).
 */
export function authFailureKey(
  queuePrefix: string,
  dimension: 'address' | 'credential',
  value: string,
  window: number,
): string {
  return `${redisNamespace(queuePrefix)}:authfail:${dimension}:${value}:${window}`;
}

/** The lock that lets one runner at a time sweep for lost work. */
export function sweeperLockKey(queuePrefix: string): string {
  return `${redisNamespace(queuePrefix)}:sweeper`;
}

function metricsTag(queuePrefix: string): string {
  return `{${redisNamespace(queuePrefix)}:metrics}`;
}

/** Events appended by every runner, reported by the gateway. */
export function eventsAppendedKey(queuePrefix: string): string {
  return `${metricsTag(queuePrefix)}:events_appended`;
}

/**
 * Webhook deliveries by outcome (a Redis hash: field = outcome, value = count), added to by every
 * runner's dispatcher. Outcomes: `delivered` (2xx), `failed` (an attempt that will be retried),
 * `given_up` (no success within the give-up window, or the subscription went away).
 */
export function webhookDeliveriesKey(queuePrefix: string): string {
  return `${metricsTag(queuePrefix)}:webhook_deliveries`;
}
export const webhookDeliveryOutcomes = ['delivered', 'failed', 'given_up'] as const;
export type WebhookDeliveryOutcome = (typeof webhookDeliveryOutcomes)[number];

/**
 * Seconds from the event's commit to its delivery's success, as a cumulative histogram in a Redis
 * hash: one field per upper bound (`le:<seconds>`, and `le:+Inf`), plus `sum` and `count`.
 */
export function webhookLatencyKey(queuePrefix: string): string {
  return `${metricsTag(queuePrefix)}:webhook_latency`;
}
export const webhookLatencyBuckets = [
  0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600,
] as const;

/** The pub/sub channel on which a run's commits and settlements are announced. */
export function runChannel(queuePrefix: string, runId: string): string {
  return `${redisNamespace(queuePrefix)}:run:${runId}`;
}

/**
 * The pub/sub channel on which commits of any of a user's runs are announced (the user stream,
 * `GET /v1/me/stream`). Like the run channel it only says "look again".
 */
export function userChannel(queuePrefix: string, userId: string): string {
  return `${redisNamespace(queuePrefix)}:user:${userId}`;
}
