import { moduleLabel, retryOf, type RunEvent } from './events';
import type { FeedbackNote } from './timeline-presenter';

/**
 * The retry feedback a person should see at the question now waiting: the newest
 * `retry_requested` with feedback, when it came after the last answer (so the question is the
 * first one after that retry). Reads the newest events of the active branch, oldest first.
 */
export function feedbackAtQuestion(events: readonly RunEvent[]): FeedbackNote | null {
  for (let index = events.length - 1; index >= 0; index -= 1) {
    const event = events[index];
    if (!event || event.event_type === 'interaction_responded') return null;
    const retry = retryOf(event);
    if (retry?.feedback) return { module: moduleLabel(retry.target), text: retry.feedback };
  }
  return null;
}
