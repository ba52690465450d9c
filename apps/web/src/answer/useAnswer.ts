import { useMutation, useQueryClient, type InfiniteData } from '@tanstack/react-query';
import { useState } from 'react';
import type { components } from '@stepwise/client';
import { ApiError, api, unwrap } from '../api/client';
import { inboxKey, withoutInteraction } from '../inbox/queries';
import { newIdempotencyKey } from '../util/uuid';
import type { AnswerResponse } from './types';

export type Run = components['schemas']['Run'];
type InboxPage = components['schemas']['InboxPage'];

/** How long the gateway may hold the answer until the run is at rest (its next question). */
const ANSWER_WAIT_MS = 3_000;
/** When the run is still moving after that: one more wait for it to come to rest. */
const SETTLE_WAIT_MS = 4_000;

export const runKey = (runId: string) => ['run', runId] as const;

/** Statuses after which the same answer would be refused again: the next attempt is a new one. */
const definitive = new Set([400, 403, 404, 409, 410, 422]);

/**
 * Sends the person's answer with one Idempotency-Key per attempt: made when the question is shown,
 * so a double click or a retry after a network error sends the same key (answering twice is
 * harmless); after a refusal the person changes the answer, which is a new attempt with a new key.
 * Resolves with the run once it is at rest (or as it stands after a short wait).
 */
export function useAnswer(runId: string, interactionId: string) {
  const client = useQueryClient();
  const [idempotencyKey, setIdempotencyKey] = useState(newIdempotencyKey);
  return useMutation({
    mutationFn: async (response: AnswerResponse): Promise<Run> => {
      const answered = await api.POST('/v1/runs/{id}/interactions/{interaction_id}', {
        params: {
          path: { id: runId, interaction_id: interactionId },
          query: { wait_ms: ANSWER_WAIT_MS },
          header: { 'Idempotency-Key': idempotencyKey },
        },
        body: { response },
      });
      const run = unwrap(answered);
      if (answered.response.status === 200 && run.status !== 'running') return run;
      // Accepted but not at rest yet: wait for the run to stop at its next question or its end.
      return unwrap(
        await api.GET('/v1/runs/{id}', {
          params: { path: { id: runId }, query: { wait: 'true', wait_ms: SETTLE_WAIT_MS } },
        }),
      );
    },
    onError: (error) => {
      if (error instanceof ApiError && definitive.has(error.status))
        setIdempotencyKey(newIdempotencyKey());
    },
    onSuccess: (run) => {
      client.setQueryData(runKey(runId), run);
      client.setQueriesData<InfiniteData<InboxPage, string | null>>(
        { queryKey: inboxKey },
        (data) => withoutInteraction(data, runId, (id) => id !== interactionId),
      );
      void client.invalidateQueries({ queryKey: inboxKey });
    },
  });
}
