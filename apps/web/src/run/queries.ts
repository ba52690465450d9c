import {
  useInfiniteQuery,
  useQueries,
  useQuery,
  type InfiniteData,
  type QueryClient,
} from '@tanstack/react-query';
import type { paths } from '@stepwise/client';
import { api, unwrap } from '../api/client';
import { runKey } from '../answer/useAnswer';
import { isRecord, textField, type RunEvent } from './events';
import type { AttemptsOf } from './timeline-presenter';

/*
 * The run page's server state, each in the query cache under its own key. The run's stream
 * (useRunStream) appends new events to the timeline and invalidates the rest. The keys do not
 * share a prefix with the run's own (`['run', id]`, which the answer page sets), so refreshing the
 * run never refetches a long timeline.
 */

/** Events per timeline page: the newest page opens the timeline, earlier ones come on request. */
export const TIMELINE_PAGE_SIZE = 100;
/** A `before_seq` above every event's: the newest page. */
const NEWEST = Number.MAX_SAFE_INTEGER;

export const branchesKey = (runId: string) => ['run-branches', runId] as const;
export const artifactsKey = (runId: string) => ['run-artifacts', runId] as const;
export const usageKey = (runId: string) => ['run-usage', runId] as const;
export const timelineKey = (runId: string, branchId: string) =>
  ['run-events', runId, branchId] as const;
const versionKey = (versionId: string) => ['version', versionId] as const;

export type EventPage =
  paths['/v1/runs/{id}/events']['get']['responses'][200]['content']['application/json'];
// The page parameter (a `before_seq`) is not read back from the cache.
export type Timeline = InfiniteData<EventPage, unknown>;

export function useRun(runId: string) {
  return useQuery({
    queryKey: runKey(runId),
    queryFn: async ({ signal }) =>
      unwrap(await api.GET('/v1/runs/{id}', { params: { path: { id: runId } }, signal })),
    // The run moves on by itself: read it fresh whenever the page opens.
    staleTime: 0,
  });
}

export function useBranches(runId: string) {
  return useQuery({
    queryKey: branchesKey(runId),
    queryFn: async ({ signal }) =>
      unwrap(await api.GET('/v1/runs/{id}/branches', { params: { path: { id: runId } }, signal }))
        .items,
    staleTime: 0,
  });
}

export function useArtifacts(runId: string) {
  return useQuery({
    queryKey: artifactsKey(runId),
    queryFn: async ({ signal }) =>
      unwrap(await api.GET('/v1/runs/{id}/artifacts', { params: { path: { id: runId } }, signal }))
        .items,
    staleTime: 0,
  });
}

export function useUsage(runId: string) {
  return useQuery({
    queryKey: usageKey(runId),
    queryFn: async ({ signal }) =>
      unwrap(await api.GET('/v1/runs/{id}/usage', { params: { path: { id: runId } }, signal })),
    staleTime: 0,
  });
}

/** A page of a branch's events: the newest `limit` before `beforeSeq`, oldest first. */
export async function fetchEventsBefore(
  runId: string,
  branchId: string | null,
  beforeSeq: number,
  limit: number,
  signal?: AbortSignal,
): Promise<EventPage> {
  return unwrap(
    await api.GET('/v1/runs/{id}/events', {
      params: {
        path: { id: runId },
        query: {
          ...(branchId !== null ? { branch_id: branchId } : {}),
          before_seq: beforeSeq,
          limit,
        },
      },
      ...(signal ? { signal } : {}),
    }),
  );
}

/**
 * A branch's timeline, opened at its newest page; each further page is the one before (paged
 * backwards with `before_seq`), so a run of 10,000 events opens as fast as one of 100. Events
 * never change once written, and the stream appends new ones: the cache is never stale.
 */
export function useTimeline(runId: string, branchId: string) {
  return useInfiniteQuery({
    queryKey: timelineKey(runId, branchId),
    initialPageParam: NEWEST,
    queryFn: ({ pageParam, signal }) =>
      fetchEventsBefore(runId, branchId, pageParam, TIMELINE_PAGE_SIZE, signal),
    getNextPageParam: (page) => page.next_before_seq ?? undefined,
    staleTime: Infinity,
  });
}

/** The loaded events of a timeline, oldest first (its pages run newest to oldest). */
export function timelineEvents(timeline: Timeline | undefined): RunEvent[] {
  if (!timeline) return [];
  return [...timeline.pages].reverse().flatMap((page) => page.items);
}

/** The highest seq a timeline holds (0 when empty). */
export function newestSeq(timeline: Timeline | undefined): number {
  for (const page of timeline?.pages ?? []) {
    const last = page.items.at(-1);
    if (last) return last.seq;
  }
  return 0;
}

/** Adds an event that the stream brought to its branch's timeline, if loaded and not there yet. */
export function appendEvent(client: QueryClient, runId: string, event: RunEvent): void {
  client.setQueryData<Timeline>(timelineKey(runId, event.branch_id), (timeline) => {
    const newest = timeline?.pages[0];
    if (!timeline || !newest || event.seq <= newestSeq(timeline)) return timeline;
    return {
      ...timeline,
      pages: [{ ...newest, items: [...newest.items, event] }, ...timeline.pages.slice(1)],
    };
  });
}

/** `step.module` → its `retry.max_attempts` (1 without a retry), read from a resolved workflow. */
function attemptsIn(workflow: Record<string, unknown>): Map<string, number> {
  const attempts = new Map<string, number>();
  const steps = Array.isArray(workflow['steps']) ? workflow['steps'] : [];
  for (const step of steps) {
    if (!isRecord(step)) continue;
    const stepId = textField(step, 'step_id');
    const modules = Array.isArray(step['modules']) ? step['modules'] : [];
    for (const module of modules) {
      if (!isRecord(module) || stepId === null) continue;
      const name = textField(module, 'name');
      const retry = module['retry'];
      const max = isRecord(retry) ? retry['max_attempts'] : undefined;
      if (name !== null) attempts.set(`${stepId}.${name}`, typeof max === 'number' ? max : 1);
    }
  }
  return attempts;
}

/**
 * How many attempts each module has, read from the versions that `versionIds` name (those of
 * the failures shown: "failed (attempt 2 of 3)"). Unknown until a version is read.
 */
export function useAttempts(versionIds: readonly string[]): AttemptsOf {
  const versions = useQueries({
    queries: versionIds.map((versionId) => ({
      queryKey: versionKey(versionId),
      queryFn: async ({ signal }: { signal: AbortSignal }) =>
        attemptsIn(
          unwrap(
            await api.GET('/v1/versions/{version_id}', {
              params: { path: { version_id: versionId } },
              signal,
            }),
          ).resolved_workflow,
        ),
      // A version never changes.
      staleTime: Infinity,
    })),
  });
  const tables = versions.map((version) => version.data);
  return (versionId, position) => {
    const index = versionIds.indexOf(versionId);
    const table = index === -1 ? undefined : tables[index];
    return table?.get(`${position.step_id}.${position.module_name}`) ?? null;
  };
}
