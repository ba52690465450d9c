import {
  keepPreviousData,
  useInfiniteQuery,
  useMutation,
  useQueryClient,
} from '@tanstack/react-query';
import type { components, paths } from '@stepwise/client';
import { api, unwrap } from '../api/client';
import { inboxKey } from '../inbox/queries';
import { runsKey } from '../runs/queries';

/** The shapes the impact page reads and sends, taken from the gateway's contract. */
export type RunImpact = components['schemas']['RunImpact'];
export type UnfinishedStatus = RunImpact['status'];
export type MigrationDryRun = components['schemas']['MigrationDryRun'];
export type MigrationView = components['schemas']['Migration'];
export type MigrationRunOutcome = components['schemas']['MigrationRunOutcome'];
export type MigrationCounts = MigrationView['counts'];
type CreateMigrationBody =
  paths['/v1/templates/{name}/migrations']['post']['requestBody']['content']['application/json'];
export type MigrationPolicy = CreateMigrationBody['policy'];

/** The page's filters, as the address holds them (`?status=…&current_version=…`). */
export interface ImpactFilters {
  status: UnfinishedStatus | null;
  currentVersionId: string | null;
}

/** Every cache entry of the page starts with this, so a finished migration refreshes them all. */
const impactKey = (templateName: string) => ['impact', templateName] as const;

/** Runs per page of the report: a screenful; "Show more" asks for the next one. */
const IMPACT_PAGE_SIZE = 25;
/** How often a running migration is read again. */
const MIGRATION_POLL_MS = 500;
/** Outcomes per page of a migration's progress. */
const OUTCOMES_PAGE_SIZE = 100;

/** The filter of a migration that takes the runs the report lists under these filters. */
export function migrationFilterOf(
  filters: ImpactFilters,
): NonNullable<CreateMigrationBody['filter']> {
  return {
    ...(filters.status !== null ? { status: filters.status } : {}),
    ...(filters.currentVersionId !== null ? { current_version_id: filters.currentVersionId } : {}),
  };
}

/** `GET /v1/templates/{name}/versions/{version_id}/impact`, newest run first, a page at a time. */
export function useImpactReport(templateName: string, versionId: string, filters: ImpactFilters) {
  return useInfiniteQuery({
    queryKey: [...impactKey(templateName), 'report', versionId, filters],
    initialPageParam: null as string | null,
    queryFn: async ({ pageParam, signal }) =>
      unwrap(
        await api.GET('/v1/templates/{name}/versions/{version_id}/impact', {
          params: {
            path: { name: templateName, version_id: versionId },
            query: {
              limit: IMPACT_PAGE_SIZE,
              ...migrationFilterOf(filters),
              ...(pageParam !== null ? { cursor: pageParam } : {}),
            },
          },
          signal,
        }),
      ),
    getNextPageParam: (page) => page.next_cursor,
    // Runs move on by themselves: read the report afresh whenever the page opens.
    staleTime: 0,
    // Under new filters the last list stays in place (marked busy) until the new one is in.
    placeholderData: keepPreviousData,
  });
}

export interface MigrationRequest {
  toVersionId: string;
  filter: ImpactFilters;
  policy: MigrationPolicy;
  /** Restarted runs answer the questions that come out the same with the earlier answers. */
  reuseAnswers: boolean;
}

/** The same request, as one string: a preview belongs to the request it was made for. */
export function requestKey(request: MigrationRequest): string {
  return JSON.stringify([
    request.toVersionId,
    request.filter.status,
    request.filter.currentVersionId,
    request.policy,
  ]);
}

/** A dry run: what a migration would do to each run the filter matches. Nothing is written. */
export function usePreviewMigration(templateName: string) {
  return useMutation({
    mutationFn: async (request: MigrationRequest): Promise<MigrationDryRun> => {
      const answer = unwrap(
        await api.POST('/v1/templates/{name}/migrations', {
          params: { path: { name: templateName } },
          body: {
            to_version_id: request.toVersionId,
            filter: migrationFilterOf(request.filter),
            policy: request.policy,
            dry_run: true,
          },
        }),
      );
      // The 200 of a dry run and the 202 of a migration share the operation: tell them apart.
      if (!('dry_run' in answer)) throw new Error('the server started a migration for a preview');
      return answer;
    },
  });
}

/**
 * Starts the migration the person previewed. It names the previewed runs (`run_ids`) besides the
 * filter, so "Migrate N runs" moves those N: a run that came to match the filter since the preview
 * is left for the next one, and one that no longer matches is left out.
 */
export function useStartMigration(templateName: string) {
  return useMutation({
    mutationFn: async (input: {
      request: MigrationRequest;
      runIds: string[];
    }): Promise<MigrationView> => {
      const { request, runIds } = input;
      const answer = unwrap(
        await api.POST('/v1/templates/{name}/migrations', {
          params: { path: { name: templateName } },
          body: {
            to_version_id: request.toVersionId,
            filter: { ...migrationFilterOf(request.filter), run_ids: runIds },
            policy: request.policy,
            dry_run: false,
            ...(request.reuseAnswers ? { reuse_answers: true } : {}),
          },
        }),
      );
      if ('dry_run' in answer) throw new Error('the server answered a migration with a dry run');
      return answer;
    },
  });
}

/**
 * A migration's progress (`GET …/migrations/{id}`), read again every half second until it has
 * completed; its outcomes a page at a time. The first answer is the one the POST gave.
 */
export function useMigration(templateName: string, started: MigrationView | null) {
  const migrationId = started?.migration_id ?? null;
  return useInfiniteQuery({
    queryKey: [...impactKey(templateName), 'migration', migrationId],
    enabled: migrationId !== null,
    initialPageParam: null as string | null,
    queryFn: async ({ pageParam, signal }) =>
      unwrap(
        await api.GET('/v1/templates/{name}/migrations/{migration_id}', {
          params: {
            path: { name: templateName, migration_id: migrationId ?? '' },
            query: {
              limit: OUTCOMES_PAGE_SIZE,
              ...(pageParam !== null ? { cursor: pageParam } : {}),
            },
          },
          signal,
        }),
      ),
    getNextPageParam: (page) => page.next_cursor,
    initialData:
      started === null ? undefined : { pages: [started], pageParams: [null as string | null] },
    refetchInterval: (query) =>
      query.state.data?.pages[0]?.status === 'completed' ? false : MIGRATION_POLL_MS,
  });
}

/** What a finished migration changed: the report, the run lists, the runs and the inbox. */
export function useRefreshAfterMigration(templateName: string) {
  const client = useQueryClient();
  return () => {
    void client.invalidateQueries({ queryKey: [...impactKey(templateName), 'report'] });
    void client.invalidateQueries({ queryKey: runsKey });
    // Every run's own cache entry (`['run', id]`, answer/useAnswer.ts): any of them may have moved.
    void client.invalidateQueries({ queryKey: ['run'] });
    // A run restarted at an earlier step asks its question anew.
    void client.invalidateQueries({ queryKey: inboxKey });
  };
}
