import { useQuery } from '@tanstack/react-query';
import { feedbackAtQuestion } from './feedback';
import { fetchEventsBefore } from './queries';

/** The newest events read to find a retry's feedback: a retry far behind is not this question's. */
const RECENT_EVENTS = 50;

/**
 * "Retried ideas.generate with feedback: …" beside a question, when the run's newest retry with
 * feedback came after its last answer: what the person asked for is in view as they judge the
 * result.
 */
export function RetryFeedbackNote({
  runId,
  interactionId,
}: {
  runId: string;
  interactionId: string;
}) {
  const note = useQuery({
    queryKey: ['run-feedback', runId, interactionId],
    queryFn: async ({ signal }) =>
      feedbackAtQuestion(
        (await fetchEventsBefore(runId, null, Number.MAX_SAFE_INTEGER, RECENT_EVENTS, signal))
          .items,
      ),
    // The events before a waiting question do not change while it waits.
    staleTime: Infinity,
  });
  if (!note.data) return null;
  return (
    <p className="notice retry-feedback-note">
      Retried <span className="mono">{note.data.module}</span> with feedback:{' '}
      <q>{note.data.text}</q>
    </p>
  );
}
