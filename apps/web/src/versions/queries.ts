import {
  useInfiniteQuery,
  useMutation,
  useQuery,
  useQueryClient,
  keepPreviousData,
} from '@tanstack/react-query';
import { useRef } from 'react';
import type { paths } from '@stepwise/client';
import { ApiError, api, unwrap } from '../api/client';
import { runKey } from '../answer/useAnswer';
import { inboxKey } from '../inbox/queries';
import { newIdempotencyKey } from '../util/uuid';
import type { ResumeChoice, Run, VersionChangeView } from './types';

/** The Versions page's own cache entries, apart from other pages' views of the same records. */
const versionsKey = ['versions-page'] as const;

/** Versions per page of the list: most templates have fewer, so one page shows them all. */
const VERSIONS_PAGE_SIZE = 50;
/** How long the gateway may hold the confirmation until the run is at rest again. */
const CONFIRM_WAIT_MS = 5_000;

/** The template's versions, newest first, a page at a time. */
export function useTemplateVersions(templateName: string | null) {
  return useInfiniteQuery({
    queryKey: [...versionsKey, 'template', templateName],
    enabled: templateName !== null,
    initialPageParam: null as string | null,
    queryFn: async ({ pageParam, signal }) =>
      unwrap(
        await api.GET('/v1/templates/{name}', {
          params: {
            path: { name: templateName ?? '' },
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

/** What moving the run onto a version would change, placed against the run's position. */
export function useVersionChanges(runId: string, versionId: string | null) {
  return useQuery({
    queryKey: [...versionsKey, 'changes', runId, versionId],
    enabled: versionId !== null,
    queryFn: async ({ signal }): Promise<VersionChangeView> =>
      unwrap(
        await api.GET('/v1/runs/{id}/version-changes', {
          params: { path: { id: runId }, query: { version_id: versionId ?? '' } },
          signal,
        }),
      ),
    // The run may move between two looks: the comparison is made against where it stands now.
    staleTime: 0,
    // While another version's changes load, the last ones stay in place (marked as loading).
    placeholderData: keepPreviousData,
  });
}

export interface ResumeDecision {
  choice: ResumeChoice;
  submittedVersionId: string;
  /** For `restart_at`: the step of the submitted version to go back to. */
  restartAt: string | null;
  /** For `restart_at`: questions asked exactly as before are answered with the earlier answers. */
  reuseAnswers: boolean;
}

type ConfirmBody =
  paths['/v1/runs/{id}/resume/confirm']['post']['requestBody']['content']['application/json'];

function confirmBody(decision: ResumeDecision): ConfirmBody {
  const submitted = decision.submittedVersionId;
  switch (decision.choice) {
    case 'restart_at':
      return {
        choice: 'restart_at',
        submitted_version_id: submitted,
        // Without a step the server goes back to the one holding the earliest change.
        ...(decision.restartAt !== null ? { restart_at: decision.restartAt } : {}),
        ...(decision.reuseAnswers ? { reuse_answers: true } : {}),
      };
    case 'continue_with_new':
      return { choice: 'continue_with_new', submitted_version_id: submitted };
    default:
      return { choice: decision.choice, submitted_version_id: submitted };
  }
}

/** Statuses after which the same confirmation would be refused again: a retry is a new attempt. */
const definitive = new Set([400, 403, 404, 409, 410, 422]);

/** One decision, as the body it sends: two decisions with the same body are the same one. */
function decisionId(decision: ResumeDecision): string {
  return JSON.stringify(confirmBody(decision));
}

/**
 * Carries out the person's choice (`POST /v1/runs/{id}/resume/confirm`) with one Idempotency-Key
 * per decision and attempt, so a double click or a retry after a network error is counted once,
 * while another choice, version or step after an error is a request of its own (a key reused for
 * a different body would be refused, or answered with the first body's outcome). Resolves with
 * the run it leads to: this run, or the new one for `start_fresh`.
 */
export function useConfirmResume(runId: string) {
  const client = useQueryClient();
  // Each decision tried and not settled for good, by its body, with the key it went out with.
  const keys = useRef(new Map<string, string>());
  const keyFor = (decision: ResumeDecision): string => {
    const id = decisionId(decision);
    const known = keys.current.get(id);
    if (known !== undefined) return known;
    const key = newIdempotencyKey();
    keys.current.set(id, key);
    return key;
  };
  return useMutation({
    mutationFn: async (decision: ResumeDecision): Promise<Run> => {
      return unwrap(
        await api.POST('/v1/runs/{id}/resume/confirm', {
          params: {
            path: { id: runId },
            query: { wait_ms: CONFIRM_WAIT_MS },
            header: { 'Idempotency-Key': keyFor(decision) },
          },
          body: confirmBody(decision),
        }),
      );
    },
    onError: (error, decision) => {
      // Refused for good: trying the same decision again is a new attempt.
      if (error instanceof ApiError && definitive.has(error.status))
        keys.current.delete(decisionId(decision));
    },
    onSuccess: (run) => {
      keys.current.clear();
      client.setQueryData(runKey(run.workflow_run_id), run);
      void client.invalidateQueries({ queryKey: runKey(runId) });
      void client.invalidateQueries({ queryKey: versionsKey });
      // A run that went back asks its question anew: the inbox shows the new one.
      void client.invalidateQueries({ queryKey: inboxKey });
    },
  });
}
