import { useMutation, useQueryClient } from '@tanstack/react-query';
import { api, unwrap } from '../api/client';
import { runKey, type Run } from '../answer/useAnswer';
import { inboxKey } from '../inbox/queries';
import { newIdempotencyKey } from '../util/uuid';
import type { ModulePosition } from './events';
import { branchesKey } from './queries';

/**
 * The run page's commands: answer again from an earlier question (a branch), retry a module with
 * feedback, cancel. Each waits a moment for the run to come to rest, so the page shows where it
 * went; the stream brings the events either way. One Idempotency-Key per command: a resend
 * after a lost answer is not applied twice.
 */
const WAIT_MS = 3_000;

function useRunCommand<Input>(runId: string, send: (input: Input, key: string) => Promise<Run>) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (input: Input) => send(input, newIdempotencyKey()),
    onSuccess: (run) => {
      client.setQueryData(runKey(runId), run);
      void client.invalidateQueries({ queryKey: branchesKey(runId), exact: true });
      // Another question may wait now, or none: the inbox changes with it.
      void client.invalidateQueries({ queryKey: inboxKey });
    },
  });
}

/**
 * `reuse_answers: true` only when asked for: without it every question is asked again (versions.md,
 * "Reusing answers").
 */
function reuseField(reuseAnswers: boolean): { reuse_answers?: true } {
  return reuseAnswers ? { reuse_answers: true } : {};
}

/**
 * Forks the run before a question (from its `interaction_requested` event): asked again. With
 * `reuseAnswers`, the questions after it that come out the same are answered as before.
 */
export function useAnswerAgain(runId: string) {
  return useRunCommand(
    runId,
    async ({ fromEventId, reuseAnswers }: { fromEventId: string; reuseAnswers: boolean }, key) => {
      const made = unwrap(
        await api.POST('/v1/runs/{id}/branches', {
          params: {
            path: { id: runId },
            query: { wait_ms: WAIT_MS },
            header: { 'Idempotency-Key': key },
          },
          body: { from_event_id: fromEventId, ...reuseField(reuseAnswers) },
        }),
      );
      return made.run;
    },
  );
}

export interface RetryInput {
  position: ModulePosition;
  feedback: string;
  /** Questions asked exactly as before are answered with the earlier answers. */
  reuseAnswers: boolean;
}

export function useRetry(runId: string) {
  return useRunCommand(runId, async ({ position, feedback, reuseAnswers }: RetryInput, key) =>
    unwrap(
      await api.POST('/v1/runs/{id}/retry', {
        params: {
          path: { id: runId },
          query: { wait_ms: WAIT_MS },
          header: { 'Idempotency-Key': key },
        },
        body: {
          step_id: position.step_id,
          module_name: position.module_name,
          ...(feedback.trim() !== '' ? { feedback: feedback.trim() } : {}),
          ...reuseField(reuseAnswers),
        },
      }),
    ),
  );
}

export function useCancel(runId: string) {
  return useRunCommand(runId, async (_: null, key) =>
    unwrap(
      await api.POST('/v1/runs/{id}/cancel', {
        params: {
          path: { id: runId },
          query: { wait_ms: WAIT_MS },
          header: { 'Idempotency-Key': key },
        },
      }),
    ),
  );
}
