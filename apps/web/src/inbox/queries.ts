import { useInfiniteQuery, useQuery, type InfiniteData } from '@tanstack/react-query';
import { api, unwrap } from '../api/client';
import type { components, paths } from '@stepwise/client';

type InboxPage = components['schemas']['InboxPage'];

/** The inbox's orders: the `sort` parameter of `GET /v1/me/interactions`. */
export type InboxSort = NonNullable<
  NonNullable<paths['/v1/me/interactions']['get']['parameters']['query']>['sort']
>;

/** A page of the inbox is 50 rows: the first screenful shows at once even with 1,000 waiting. */
export const INBOX_PAGE_SIZE = 50;

export interface InboxFilters {
  sort: InboxSort;
  template: string | null;
  project: string | null;
}

/** Every inbox query starts with this key: the user stream invalidates them all at once. */
export const inboxKey = ['inbox'] as const;

export function useInbox(filters: InboxFilters) {
  return useInfiniteQuery({
    queryKey: [...inboxKey, filters],
    initialPageParam: null as string | null,
    queryFn: async ({ pageParam, signal }) =>
      unwrap(
        await api.GET('/v1/me/interactions', {
          params: {
            query: {
              sort: filters.sort,
              limit: INBOX_PAGE_SIZE,
              ...(filters.template !== null ? { workflow_template_name: filters.template } : {}),
              ...(filters.project !== null ? { project_name: filters.project } : {}),
              ...(pageParam !== null ? { cursor: pageParam } : {}),
            },
          },
          signal,
        }),
      ),
    getNextPageParam: (page) => page.next_cursor,
  });
}

/** Drops an answered interaction from every cached inbox page, before the refetch confirms it. */
export function withoutInteraction(
  data: InfiniteData<InboxPage, string | null> | undefined,
  runId: string,
  keep: (interactionId: string) => boolean,
): InfiniteData<InboxPage, string | null> | undefined {
  if (!data) return data;
  let removed = 0;
  const pages = data.pages.map((page) => {
    const items = page.items.filter(
      (item) => item.workflow_run_id !== runId || keep(item.pending_interaction.interaction_id),
    );
    removed += page.items.length - items.length;
    return { ...page, items };
  });
  if (removed === 0) return data;
  return {
    ...data,
    pages: pages.map((page, index) =>
      index === 0 ? { ...page, total: Math.max(0, page.total - removed) } : page,
    ),
  };
}

/** The caller's templates, for the inbox filter. */
export function useTemplates() {
  return useQuery({
    queryKey: ['templates'],
    queryFn: async ({ signal }) => unwrap(await api.GET('/v1/templates', { signal })).items,
    staleTime: 5 * 60_000,
  });
}
