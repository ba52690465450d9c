import { useInfiniteQuery, useQuery } from '@tanstack/react-query';
import type { paths } from '@stepwise/client';
import { api, unwrap } from '../api/client';

type TemplateDetailPage =
  paths['/v1/templates/{name}']['get']['responses'][200]['content']['application/json'];
export type VersionSummary = TemplateDetailPage['versions'][number];
export type TemplateDetail = Omit<TemplateDetailPage, 'versions' | 'next_cursor'>;
export type VersionDetail =
  paths['/v1/versions/{version_id}']['get']['responses'][200]['content']['application/json'];

/** The caller's template list is cached under this key (inbox/queries.ts `useTemplates`). */
export const templatesKey = ['templates'] as const;
export const templateKey = (name: string) => ['template', name] as const;

/** Versions per page of a template's list. */
const VERSIONS_PAGE_SIZE = 20;

/** A template and its versions, newest first, paged by `next_cursor`. */
export function useTemplateDetail(name: string) {
  return useInfiniteQuery({
    queryKey: templateKey(name),
    initialPageParam: null as string | null,
    queryFn: async ({ pageParam, signal }) =>
      unwrap(
        await api.GET('/v1/templates/{name}', {
          params: {
            path: { name },
            query: {
              limit: VERSIONS_PAGE_SIZE,
              ...(pageParam !== null ? { cursor: pageParam } : {}),
            },
          },
          signal,
        }),
      ),
    getNextPageParam: (page) => page.next_cursor,
  });
}

/** A version with its resolved workflow. A version never changes: read once, kept. */
export function useVersion(versionId: string | null) {
  return useQuery({
    queryKey: ['version', versionId],
    queryFn: async ({ signal }) =>
      unwrap(
        await api.GET('/v1/versions/{version_id}', {
          params: { path: { version_id: versionId ?? '' } },
          signal,
        }),
      ),
    enabled: versionId !== null,
    staleTime: Infinity,
  });
}

/** "sha256:0123456789abcdef…" → "sha256:0123456789ab": enough to tell versions apart by eye. */
export function shortHash(hash: string): string {
  const [algorithm, digest] = hash.includes(':') ? hash.split(':', 2) : ['', hash];
  const short = (digest ?? '').slice(0, 12);
  return algorithm ? `${algorithm}:${short}` : short;
}
