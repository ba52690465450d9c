import { formatDateTime } from '../util/time';
import { consequenceText, remindersText, shortConsequence, type Deadline } from './deadline';

/**
 * A waiting question's deadline, in the reader's local time, and what happens when it passes.
 * `short` is the inbox row's version (a few words inside the row's link); the answer page shows
 * the sentence.
 */
export function DeadlineNote({ deadline, short = false }: { deadline: Deadline; short?: boolean }) {
  const when = <time dateTime={deadline.due_at}>{formatDateTime(deadline.due_at)}</time>;
  if (short) {
    return (
      <span className="deadline-short">
        answer by {when}, {shortConsequence(deadline.on_timeout)}
      </span>
    );
  }
  const reminders = remindersText(deadline);
  return (
    <p className="notice deadline-note" data-testid="deadline-note">
      <strong>Answer by {when}.</strong> If nobody answers by then, {consequenceText(deadline)}.
      {reminders !== null && <> {reminders}</>}
    </p>
  );
}
