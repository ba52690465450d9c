import {
  keepPreviousData,
  useInfiniteQuery,
  useMutation,
  useQuery,
  useQueryClient,
} from '@tanstack/react-query';
import type { components, paths } from '@stepwise/client';
import { api, unwrap } from '../api/client';

/** The shapes of the webhook API (docs/notifications.md), taken from the gateway's contract. */
export type WebhookSubscription = components['schemas']['WebhookSubscription'];
export type CreatedWebhookSubscription = components['schemas']['CreatedWebhookSubscription'];
export type WebhookDelivery = components['schemas']['WebhookDelivery'];
export type WebhookEventType = WebhookSubscription['events'][number];
export type WebhookFormat = WebhookSubscription['format'];
export type WebhookStatus = WebhookSubscription['status'];
export type DeliveryStatus = WebhookDelivery['status'];
export type CreateWebhookBody =
  paths['/v1/webhooks']['post']['requestBody']['content']['application/json'];

/** The subscription list: Settings and the disabled-webhook notice share this one cache entry. */
export const webhooksKey = ['webhooks'] as const;
const deliveriesKey = (subscriptionId: string) =>
  [...webhooksKey, subscriptionId, 'deliveries'] as const;

/** Deliveries per page of the log: a screenful; "Load more" asks for the next. */
const DELIVERIES_PAGE_SIZE = 20;
/** How often an open log with deliveries still being tried is read again. */
const PENDING_POLL_MS = 3_000;

/**
 * `GET /v1/webhooks`. Nothing pushes a change of status (Stepwise disabling an endpoint happens in
 * a runner, days after the person last looked), so the notice on every page polls: at most 20
 * small records a minute, and again when the person comes back to the tab.
 */
export function useWebhooks(options: { enabled?: boolean; poll?: boolean } = {}) {
  return useQuery({
    queryKey: webhooksKey,
    queryFn: async ({ signal }) => unwrap(await api.GET('/v1/webhooks', { signal })).items,
    enabled: options.enabled ?? true,
    ...(options.poll ? { refetchInterval: 60_000, refetchOnWindowFocus: true } : {}),
  });
}

/** `GET /v1/webhooks/{id}/deliveries`, newest first, a page at a time, optionally of one status. */
export function useDeliveries(subscriptionId: string, status: DeliveryStatus | null) {
  return useInfiniteQuery({
    queryKey: [...deliveriesKey(subscriptionId), status],
    initialPageParam: null as string | null,
    queryFn: async ({ pageParam, signal }) =>
      unwrap(
        await api.GET('/v1/webhooks/{subscription_id}/deliveries', {
          params: {
            path: { subscription_id: subscriptionId },
            query: {
              limit: DELIVERIES_PAGE_SIZE,
              ...(status !== null ? { status } : {}),
              ...(pageParam !== null ? { cursor: pageParam } : {}),
            },
          },
          signal,
        }),
      ),
    getNextPageParam: (page) => page.next_cursor,
    // A log being read gains entries and attempts as deliveries go on: read it fresh when opened,
    // and again every few seconds while a delivery shown is still being tried.
    staleTime: 0,
    refetchInterval: (query) =>
      query.state.data?.pages.some((page) => page.items.some((item) => item.status === 'pending'))
        ? PENDING_POLL_MS
        : false,
    // Changing the filter keeps the rows shown until the new ones arrive (no flash of nothing).
    placeholderData: keepPreviousData,
  });
}

export function useCreateWebhook(onCreated: (created: CreatedWebhookSubscription) => void) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: async (body: CreateWebhookBody) => unwrap(await api.POST('/v1/webhooks', { body })),
    onSuccess: (created) => {
      onCreated(created);
      void client.invalidateQueries({ queryKey: webhooksKey });
    },
  });
}

/** Replaces one subscription in the cached list with the server's answer about it. */
function replaced(
  list: WebhookSubscription[] | undefined,
  next: WebhookSubscription,
): WebhookSubscription[] | undefined {
  return list?.map((item) => (item.subscription_id === next.subscription_id ? next : item));
}

/** Pausing (`enabled: false`), resuming or enabling again after Stepwise disabled it (`true`). */
export function useSetWebhookEnabled() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: async ({ subscriptionId, enabled }: { subscriptionId: string; enabled: boolean }) =>
      unwrap(
        await api.PATCH('/v1/webhooks/{subscription_id}', {
          params: { path: { subscription_id: subscriptionId } },
          body: { enabled },
        }),
      ),
    onSuccess: (updated) => {
      // The answer is the subscription as changed: shown (and the notice gone) at once.
      client.setQueryData(webhooksKey, (old: WebhookSubscription[] | undefined) =>
        replaced(old, updated),
      );
      void client.invalidateQueries({ queryKey: webhooksKey, exact: true });
    },
  });
}

export function useDeleteWebhook() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: async (subscription: WebhookSubscription) => {
      unwrap(
        await api.DELETE('/v1/webhooks/{subscription_id}', {
          params: { path: { subscription_id: subscription.subscription_id } },
        }),
      );
      return subscription;
    },
    onSuccess: (removed) => {
      client.setQueryData(webhooksKey, (old: WebhookSubscription[] | undefined) =>
        old?.filter((item) => item.subscription_id !== removed.subscription_id),
      );
      client.removeQueries({ queryKey: deliveriesKey(removed.subscription_id) });
      void client.invalidateQueries({ queryKey: webhooksKey, exact: true });
    },
  });
}
