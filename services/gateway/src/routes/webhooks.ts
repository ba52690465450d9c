import {
  createWebhookBodySchema,
  createdWebhookSchema,
  deliveriesQuerySchema,
  deliveryListSchema,
  updateWebhookBodySchema,
  webhookListSchema,
  webhookParamsSchema,
  webhookViewSchema,
} from '@stepwise/shared';
import { defineRoute, type RouteDefinition } from '../http/route-builder.js';
import { empty, json } from '../http/responses.js';
import { listDeliveries } from '../notifications/delivery-log.js';
import {
  MAX_SUBSCRIPTIONS_PER_USER,
  createSubscription,
  deleteSubscription,
  findSubscription,
  listSubscriptions,
  subscriptionView,
  updateSubscription,
  type SubscriptionDependencies,
} from '../notifications/subscriptions.js';

/** Webhook subscriptions and their delivery logs (people.md, "Notifications and deadlines"). */
export function webhookRoutes(deps: SubscriptionDependencies): RouteDefinition[] {
  const { models } = deps;
  return [
    defineRoute(
      {
        method: 'post',
        path: '/v1/webhooks',
        summary: `Subscribe a URL to notifications of your runs (at most ${MAX_SUBSCRIPTIONS_PER_USER} subscriptions); the signing secret is shown once`,
        auth: 'user',
        body: createWebhookBodySchema,
        bodyExample: {
          url: 'https://hooks.example.com/stepwise',
          events: ['interaction.requested', 'run.failed'],
          templates: ['onboarding'],
          format: 'standard',
          description: 'Team inbox',
        },
        responses: {
          201: json(
            createdWebhookSchema,
            'The subscription, with its signing secret (shown only now)',
          ),
        },
        // 400 also for a URL the outbound rules refuse (a private address, a host not allowed).
        errors: ['CONFLICT'],
      },
      async ({ caller, body }) => {
        const { record, secret } = await createSubscription(deps, caller.user.user_id, body);
        return { status: 201, body: { ...subscriptionView(record), secret } };
      },
    ),
    defineRoute(
      {
        method: 'get',
        path: '/v1/webhooks',
        summary: 'Your webhook subscriptions, newest first (secrets are never shown again)',
        auth: 'user',
        responses: { 200: json(webhookListSchema, 'Your subscriptions, secrets left out') },
      },
      async ({ caller }) => ({
        status: 200,
        body: {
          items: (await listSubscriptions(models, caller.user.user_id)).map(subscriptionView),
        },
      }),
    ),
    defineRoute(
      {
        method: 'get',
        path: '/v1/webhooks/:subscription_id',
        summary: 'One of your webhook subscriptions',
        auth: 'user',
        params: webhookParamsSchema,
        responses: { 200: json(webhookViewSchema, 'The subscription, its secret left out') },
        errors: ['NOT_FOUND'],
      },
      async ({ caller, params }) => ({
        status: 200,
        body: subscriptionView(
          await findSubscription(models, caller.user.user_id, params.subscription_id),
        ),
      }),
    ),
    defineRoute(
      {
        method: 'patch',
        path: '/v1/webhooks/:subscription_id',
        summary:
          'Change a subscription; enabled: false pauses it, enabled: true enables it again (also after Stepwise disabled it)',
        auth: 'user',
        params: webhookParamsSchema,
        body: updateWebhookBodySchema,
        bodyExample: { enabled: true },
        responses: { 200: json(webhookViewSchema, 'The subscription as changed') },
        errors: ['NOT_FOUND'],
      },
      async ({ caller, params, body }) => ({
        status: 200,
        body: subscriptionView(
          await updateSubscription(deps, caller.user.user_id, params.subscription_id, body),
        ),
      }),
    ),
    defineRoute(
      {
        method: 'delete',
        path: '/v1/webhooks/:subscription_id',
        summary:
          'Delete a subscription; its deliveries not yet made are given up (failure_reason "subscription deleted")',
        auth: 'user',
        params: webhookParamsSchema,
        responses: { 204: empty('Deleted') },
        errors: ['NOT_FOUND'],
      },
      async ({ caller, params }) => {
        await deleteSubscription(models, caller.user.user_id, params.subscription_id);
        return { status: 204 };
      },
    ),
    defineRoute(
      {
        method: 'get',
        path: '/v1/webhooks/:subscription_id/deliveries',
        summary: "A subscription's delivery log, newest first: each delivery with its attempts",
        auth: 'user',
        params: webhookParamsSchema,
        query: deliveriesQuerySchema,
        responses: {
          200: json(
            deliveryListSchema,
            'A page of deliveries; next_cursor fetches the next (null: no more)',
          ),
        },
        errors: ['NOT_FOUND'],
      },
      async ({ caller, params, query }) => ({
        status: 200,
        body: await listDeliveries(models, caller.user.user_id, params.subscription_id, query),
      }),
    ),
  ];
}
