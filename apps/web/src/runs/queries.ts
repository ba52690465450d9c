import { useInfiniteQuery } from '@tanstack/react-query';
import { api, unwrap } from '../api/client';
import type { RunStatus } from './present';

/** The Runs page's filters, as the address holds them (`?status=…&template=…&project=…`). */
export interface RunFilters {
  status: RunStatus | null;
  template: string | null;
  project: string | null;
}

/** Every run list starts with this key: starting a run invalidates them all at once. */
export const runsKey = ['runs'] as const;

/** Runs per page: a screenful; "Show more" asks for the next one. */
export const RUNS_PAGE_SIZE = 25;

/** A paged `GET /v1/runs` (newest first) with the filters given; off while `enabled` is false. */
export function useRunList(filters: RunFilters, enabled = true) {
  return useInfiniteQuery({
    queryKey: [...runsKey, filters],
    initialPageParam: null as string | null,
    queryFn: async ({ pageParam, signal }) =>
      unwrap(
        await api.GET('/v1/runs', {
          params: {
            query: {
              limit: RUNS_PAGE_SIZE,
              ...(filters.status !== null ? { status: filters.status } : {}),
              ...(filters.template !== null ? { template: filters.template } : {}),
              ...(filters.project !== null ? { project_name: filters.project } : {}),
              ...(pageParam !== null ? { cursor: pageParam } : {}),
            },
          },
          signal,
        }),
      ),
    getNextPageParam: (page) => page.next_cursor,
    enabled,
    // Runs move on by themselves: read the list afresh whenever the page opens.
    staleTime: 0,
  });
}
