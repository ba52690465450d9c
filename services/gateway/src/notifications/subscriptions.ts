import { randomBytes } from 'node:crypto';
import {
  BadRequestError,
  ConflictError,
  NotFoundError,
  newId,
  type CreateWebhookBody,
  type UpdateWebhookBody,
  type WebhookSubscriptionRecord,
  type WebhookView,
} from '@stepwise/shared';
import {
  checkDestinationUrl,
  checkHost,
  type DestinationPolicy,
  type Models,
} from '@stepwise/shared/node';

/**
 * A user's webhook subscriptions (people.md, "Notifications and deadlines"). The gateway only
 * keeps the records; the runner writes deliveries for them and sends those.
 */
export interface SubscriptionDependencies {
  models: Models;
  /** The outbound rules of `api.fetch` (OUTBOUND_ALLOWED_HOSTS), applied to webhook URLs too. */
  destinations: DestinationPolicy;
  /** Tests only: awaited between the limit check and the insert, to line racing creations up. */
  beforeInsert?: () => Promise<void>;
}

/** How many subscriptions one user may keep: each adds a send to every notification. */
export const MAX_SUBSCRIPTIONS_PER_USER = 20;

/** The failure_reason of the pending deliveries a deletion gives up. */
export const DELETED_FAILURE_REASON = 'subscription deleted';

export function subscriptionView(record: WebhookSubscriptionRecord): WebhookView {
  return {
    subscription_id: record.subscription_id,
    url: record.url,
    events: record.events,
    templates: record.templates,
    format: record.format,
    description: record.description,
    status: record.status,
    disabled_reason: record.disabled_reason,
    disabled_at: record.disabled_at?.toISOString() ?? null,
    failing_since: record.failing_since?.toISOString() ?? null,
    created_at: record.created_at.toISOString(),
    updated_at: record.updated_at.toISOString(),
  };
}

/**
 * A signing secret in the Standard Webhooks form: `whsec_` and 32 random bytes in base64, which
 * `new Webhook(secret)` of the `standardwebhooks` library (on both ends) accepts as it is.
 */
function newSigningSecret(): string {
  return `whsec_${randomBytes(32).toString('base64')}`;
}

/**
 * Refuses a URL that deliveries could never go to under the outbound rules, as a problem with
 * the `url` field (like a URL of the wrong scheme): the same policy refuses it at each delivery,
 * so accepting it would only make a subscription that fails for three days and is disabled.
 */
async function checkWebhookUrl(deps: SubscriptionDependencies, url: string): Promise<void> {
  const refuse = (reason: string): never => {
    const message = `${reason}; webhooks follow the outbound rules of api.fetch: a server administrator can allow this host by adding it to OUTBOUND_ALLOWED_HOSTS`;
    throw new BadRequestError(`body.url: ${message}`, [{ path: 'body.url', message }]);
  };
  // Recognised by name, like every error that may come from another copy of the shared package.
  const refused = (error: unknown) => error instanceof Error && error.name === 'DestinationRefused';
  // By what the caller wrote (the host, the allow-list): its reason may be said as it is.
  try {
    checkHost(deps.destinations, new URL(url).hostname);
  } catch (error) {
    if (!refused(error)) throw error;
    refuse((error as Error).message);
  }
  // By what the name resolves to: the reason would tell any user which internal names exist and
  // where they point (`mongo` resolves to 172.18.0.4), so one answer covers every case.
  try {
    await checkDestinationUrl(deps.destinations, url);
  } catch (error) {
    if (!refused(error)) throw error;
    refuse(
      `host '${new URL(url).hostname}' cannot be called: it does not resolve, or resolves to a private, loopback or link-local address`,
    );
  }
}

const newestFirst = { created_at: -1, subscription_id: -1 } as const;

export async function listSubscriptions(
  models: Models,
  userId: string,
): Promise<WebhookSubscriptionRecord[]> {
  return models.webhookSubscriptions
    .find({ user_id: userId })
    .sort(newestFirst)
    .lean<WebhookSubscriptionRecord[]>();
}

/** The caller's subscription; another user's is as missing as one that never existed. */
export async function findSubscription(
  models: Models,
  userId: string,
  subscriptionId: string,
): Promise<WebhookSubscriptionRecord> {
  const record = await models.webhookSubscriptions
    .findOne({ subscription_id: subscriptionId, user_id: userId })
    .lean<WebhookSubscriptionRecord>();
  if (!record) throw new NotFoundError('webhook subscription', subscriptionId);
  return record;
}

function limitReached(): ConflictError {
  return new ConflictError(
    `you have ${MAX_SUBSCRIPTIONS_PER_USER} webhook subscriptions, the most one user may keep; delete one first`,
  );
}

export async function createSubscription(
  deps: SubscriptionDependencies,
  userId: string,
  body: CreateWebhookBody,
): Promise<{ record: WebhookSubscriptionRecord; secret: string }> {
  const { models } = deps;
  // Counted first so that a user at the limit is told so before a slow name lookup.
  if (
    (await models.webhookSubscriptions.countDocuments({ user_id: userId })) >=
    MAX_SUBSCRIPTIONS_PER_USER
  ) {
    throw limitReached();
  }
  await checkWebhookUrl(deps, body.url);
  const now = new Date();
  const record: WebhookSubscriptionRecord = {
    subscription_id: newId('webhook'),
    user_id: userId,
    url: body.url,
    events: body.events,
    templates: body.templates,
    format: body.format,
    description: body.description,
    secret: newSigningSecret(),
    status: 'enabled',
    disabled_reason: null,
    disabled_at: null,
    failing_since: null,
    created_at: now,
    updated_at: now,
  };
  await deps.beforeInsert?.();
  await models.webhookSubscriptions.create(record);
  // Creations at once can all pass the count above. Counting again after the insert, each sees
  // every subscription inserted before it, so the last one kept would see any excess and remove
  // itself: more than the limit is never kept. At worst, racing creations at the limit are all
  // refused, and a retry succeeds. (Ordering by creation time would not do: a subscription may be
  // stamped before another yet inserted after that one counted.)
  const count = await models.webhookSubscriptions.countDocuments({ user_id: userId });
  if (count > MAX_SUBSCRIPTIONS_PER_USER) {
    await models.webhookSubscriptions.deleteOne({ subscription_id: record.subscription_id });
    throw limitReached();
  }
  return { record, secret: record.secret };
}

export async function updateSubscription(
  deps: SubscriptionDependencies,
  userId: string,
  subscriptionId: string,
  body: UpdateWebhookBody,
): Promise<WebhookSubscriptionRecord> {
  const current = await findSubscription(deps.models, userId, subscriptionId);
  // An unchanged URL was checked when it was set; the policy may have changed since, but
  // deliveries check it again anyway, and a description edit should not fail on it.
  if (body.url !== undefined && body.url !== current.url) await checkWebhookUrl(deps, body.url);
  const changes: Partial<WebhookSubscriptionRecord> = { updated_at: new Date() };
  if (body.url !== undefined) changes.url = body.url;
  if (body.events !== undefined) changes.events = body.events;
  if (body.templates !== undefined) changes.templates = body.templates;
  if (body.format !== undefined) changes.format = body.format;
  if (body.description !== undefined) changes.description = body.description;
  if (body.enabled === true) {
    // Enabling starts afresh: the failures that disabled it no longer count towards disabling.
    Object.assign(changes, {
      status: 'enabled',
      disabled_reason: null,
      disabled_at: null,
      failing_since: null,
    });
  } else if (body.enabled === false) {
    // A pause is the owner's decision: it replaces the reason Stepwise had for disabling it.
    Object.assign(changes, { status: 'paused', disabled_reason: null, disabled_at: null });
  }
  const updated = await deps.models.webhookSubscriptions
    .findOneAndUpdate(
      { subscription_id: subscriptionId, user_id: userId },
      { $set: changes },
      { returnDocument: 'after' },
    )
    .lean<WebhookSubscriptionRecord>();
  if (!updated) throw new NotFoundError('webhook subscription', subscriptionId);
  return updated;
}

/**
 * Removes a subscription and gives up its pending deliveries, so the dispatcher stops retrying
 * them; its delivery records stay as they were otherwise. The subscription goes first: a delivery
 * written for it in the meantime finds it gone, which the dispatcher gives up on by itself.
 */
export async function deleteSubscription(
  models: Models,
  userId: string,
  subscriptionId: string,
): Promise<void> {
  const removed = await models.webhookSubscriptions.deleteOne({
    subscription_id: subscriptionId,
    user_id: userId,
  });
  if (removed.deletedCount === 0) throw new NotFoundError('webhook subscription', subscriptionId);
  await models.webhookDeliveries.updateMany(
    { user_id: userId, subscription_id: subscriptionId, status: 'pending' },
    { $set: { status: 'failed', failure_reason: DELETED_FAILURE_REASON, next_attempt_at: null } },
  );
}
