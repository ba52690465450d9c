import { useEffect, useState, type MouseEvent } from 'react';
import { Link } from 'react-router';
import type { Run } from '../answer/useAnswer';
import type { PendingInteraction } from '../api/requests';
import { ErrorNotice, Loading } from '../layout/Status';
import { answerPhrase, questionOf } from './answers';
import { AnswerAgainControl, RetryControl } from './EntryControls';
import { eventPosition, moduleLabel, numberField, textField, type RunEvent } from './events';
import { clockTime, fullTime, isFinal } from './format';
import { answerPath } from '../runs/present';
import { newestSeq, timelineEvents, useAttempts, useTimeline } from './queries';
import {
  buildTimeline,
  type ReusedAnswer,
  type TimelineEntry,
  type TimelineGroup,
  type Viewer,
} from './timeline-presenter';
import { useRunStream } from './useRunStream';

/** A module's inputs or outputs, written out only when the person opens it. */
function JsonDetails({ label, value }: { label: string; value: unknown }) {
  const [open, setOpen] = useState(false);
  return (
    <details className="tl-details" onToggle={(event) => setOpen(event.currentTarget.open)}>
      <summary>{label}</summary>
      {open && (
        <pre className="json" tabIndex={0} aria-label={`${label} (JSON)`}>
          {JSON.stringify(value, null, 2)}
        </pre>
      )}
    </details>
  );
}

/**
 * The sentences of deadlines (people.md, "Deadlines"): a question nobody answered in time, a
 * reminder, and the default answer given in a person's place. The presenter reads these events
 * as it would any other; this says what they mean.
 */
function deadlineSentence(
  entry: TimelineEntry,
  questions: ReadonlyMap<string, PendingInteraction>,
  defaulted: ReadonlySet<string>,
): Pick<TimelineEntry, 'tone' | 'text' | 'who' | 'via'> | null {
  const { event } = entry;
  const position = eventPosition(event);
  const question = position ? moduleLabel(position) : 'the question';
  const dueAt = textField(event.data, 'due_at');
  const by = dueAt !== null ? ` by ${clockTime(dueAt)}` : '';
  switch (event.event_type) {
    case 'interaction_timed_out': {
      const fails = textField(event.data, 'on_timeout') === 'fail';
      // A default that does not fit the question as asked fails the module instead (its entry
      // follows with the reason): "was given" only once the answer is there to say so.
      const outcome = fails
        ? 'the module failed'
        : defaulted.has(textField(event.data, 'interaction_id') ?? '')
          ? 'the default answer was given'
          : 'the default answer is to be given in its place';
      return {
        tone: fails ? 'bad' : 'plain',
        who: null,
        via: null,
        text: `Nobody answered ${question}${by}; ${outcome}`,
      };
    }
    case 'reminder_sent': {
      const reminder = numberField(event.data, 'reminder');
      const next = textField(event.data, 'next_due_at');
      return {
        tone: 'plain',
        who: null,
        via: null,
        text: `Reminder ${reminder ?? ''} sent: nobody had answered ${question}${by}${next !== null ? `; the next is due at ${clockTime(next)}` : ''}`,
      };
    }
    case 'interaction_responded': {
      if (event.data['timed_out'] !== true) return null;
      const asked = questions.get(textField(event.data, 'interaction_id') ?? '') ?? null;
      return {
        tone: 'plain',
        who: null,
        via: null,
        text: `Nobody answered in time, so the default answer was given (${answerPhrase(asked, event.data['response'])})`,
      };
    }
    default:
      return null;
  }
}

/** The timeline's groups with the deadlines' entries told in their own words. */
function withDeadlines(groups: TimelineGroup[], events: readonly RunEvent[]): TimelineGroup[] {
  const questions = new Map<string, PendingInteraction>();
  /** The interactions answered with their default. */
  const defaulted = new Set<string>();
  for (const event of events) {
    const question = questionOf(event);
    if (question) questions.set(question.interaction_id, question);
    if (event.event_type === 'interaction_responded' && event.data['timed_out'] === true)
      defaulted.add(textField(event.data, 'interaction_id') ?? '');
  }
  return groups.map((group) => ({
    ...group,
    entries: group.entries.map((entry) => {
      const sentence = deadlineSentence(entry, questions, defaulted);
      return sentence ? { ...entry, ...sentence } : entry;
    }),
  }));
}

/** The id of an event's entry, for a link to it within the page. */
function entryAnchor(eventId: string): string {
  return `event-${eventId}`;
}

/**
 * Where a reused answer came from: a link to the earlier answer when it is among the events shown,
 * else its event id (it is on an earlier branch, or before the events loaded). The link moves
 * focus to that entry itself: it stays on this page and leaves the address (and the page's
 * notice) alone.
 */
function ReusedFrom({ reused }: { reused: ReusedAnswer }) {
  const anchor = entryAnchor(reused.eventId);
  const jump = (event: MouseEvent<HTMLAnchorElement>) => {
    const target = document.getElementById(anchor);
    if (!target) return;
    event.preventDefault();
    target.setAttribute('tabindex', '-1');
    target.focus();
    target.scrollIntoView({ block: 'center' });
  };
  return (
    <p className="tl-reused">
      {reused.seq !== null ? (
        <>
          Reused from{' '}
          <a href={`#${anchor}`} onClick={jump}>
            the earlier answer (event {reused.seq})
          </a>
        </>
      ) : (
        <>
          Reused from event <span className="mono">{reused.eventId}</span>, not among the events
          shown
        </>
      )}
    </p>
  );
}

interface EntryActions {
  runId: string;
  retryAllowed: boolean;
  onBranched: (run: Run) => void;
  onRetried: (message: string) => void;
}

function EntryView({ entry, actions }: { entry: TimelineEntry; actions: EntryActions }) {
  const { event } = entry;
  const isQuestion = event.event_type === 'interaction_requested';
  return (
    <li
      id={entryAnchor(event.event_id)}
      className={`tl-entry tl-${entry.tone}`}
      data-seq={event.seq}
    >
      <p className="tl-sentence">
        {entry.who !== null && <strong>{entry.who} </strong>}
        {entry.text}{' '}
        <span className="tl-time">
          at{' '}
          <time dateTime={event.timestamp} title={fullTime(event.timestamp)}>
            {clockTime(event.timestamp)}
          </time>
        </span>
        {entry.via !== null && <span className="tl-via"> · {entry.via}</span>}
      </p>
      {entry.feedback && (
        <p className="tl-feedback">
          {isQuestion ? (
            <>
              Retried {entry.feedback.module} with feedback: <q>{entry.feedback.text}</q>
            </>
          ) : (
            <>
              Made after a retry with feedback: <q>{entry.feedback.text}</q>
            </>
          )}
        </p>
      )}
      {entry.reusedFrom && <ReusedFrom reused={entry.reusedFrom} />}
      {entry.details && <JsonDetails label={entry.details.label} value={entry.details.value} />}
      {(entry.pendingInteractionId !== null ||
        entry.answerAgainFrom !== null ||
        (entry.retry !== null && actions.retryAllowed)) && (
        <div className="tl-actions">
          {entry.pendingInteractionId !== null && (
            <Link
              className="button button-primary button-small"
              to={answerPath(actions.runId, entry.pendingInteractionId)}
            >
              Answer this question
            </Link>
          )}
          {entry.answerAgainFrom !== null && (
            <AnswerAgainControl
              runId={actions.runId}
              fromEventId={entry.answerAgainFrom}
              about={`${event.step_id ?? ''}.${event.module_name ?? ''}, event ${event.seq}`}
              onBranched={actions.onBranched}
            />
          )}
          {entry.retry !== null && actions.retryAllowed && (
            <RetryControl
              runId={actions.runId}
              position={entry.retry}
              onRetried={actions.onRetried}
            />
          )}
        </div>
      )}
    </li>
  );
}

function GroupView({ group, actions }: { group: TimelineGroup; actions: EntryActions }) {
  return (
    <li className="tl-group">
      <h3 className="tl-group-heading">
        {group.stepId !== null ? `Step ${group.stepId}` : 'Run'}{' '}
        <span className="tl-time">
          from <time dateTime={group.startedAt}>{clockTime(group.startedAt)}</time>
        </span>
      </h3>
      <ol className="tl-entries">
        {group.entries.map((entry) => (
          <EntryView key={entry.event.event_id} entry={entry} actions={actions} />
        ))}
      </ol>
    </li>
  );
}

/**
 * A branch's timeline: its newest events first loaded (then earlier pages on request), kept live
 * by the run's stream from just after the newest event loaded. Mounted once per branch shown.
 */
export function BranchTimeline({
  run,
  branchId,
  viewer,
  onBranched,
  onRetried,
}: {
  run: Run;
  branchId: string;
  viewer: Viewer | null;
  onBranched: (run: Run) => void;
  onRetried: (message: string) => void;
}) {
  const runId = run.workflow_run_id;
  const timeline = useTimeline(runId, branchId);
  const isActive = branchId === run.active_branch_id;

  // The stream starts where the loaded timeline ends (the active branch: nothing is missed in
  // between), or at the run's newest event for another branch, which gains no events.
  const [streamFrom, setStreamFrom] = useState<number | null>(null);
  const loaded = timeline.isSuccess && !timeline.isFetching;
  useEffect(() => {
    if (streamFrom !== null || !loaded) return;
    const newest = newestSeq(timeline.data);
    setStreamFrom(isActive ? newest : Math.max(newest, run.last_seq));
  }, [streamFrom, loaded, timeline.data, isActive, run.last_seq]);
  const streamStopped = useRunStream(runId, streamFrom, isFinal(run.status) ? run.last_seq : null);

  const events = timelineEvents(timeline.data);
  const failedVersions = [
    ...new Set(
      events
        .filter((event) => event.event_type === 'module_failed')
        .map((event) => event.workflow_version_id),
    ),
  ];
  const attemptsOf = useAttempts(failedVersions);
  const groups = withDeadlines(
    buildTimeline({
      events,
      viewer,
      pendingInteractionId: isActive ? (run.pending_interaction?.interaction_id ?? null) : null,
      attemptsOf,
    }),
    events,
  );
  const actions: EntryActions = {
    runId,
    retryAllowed: isActive && (run.status === 'awaiting_input' || run.status === 'error'),
    onBranched,
    onRetried,
  };

  return (
    <section className="run-timeline" aria-labelledby="timeline-heading">
      <h2 id="timeline-heading">Timeline</h2>
      <p className="muted">
        {isActive ? 'The active branch' : 'An earlier branch (read only)'}:{' '}
        <span className="mono">{branchId}</span>. Newest at the bottom.
      </p>
      <div role="status">
        {streamStopped && (
          <p className="notice">Live updates stopped — reload to see new events.</p>
        )}
      </div>
      {timeline.isPending && <Loading label="Loading the timeline" />}
      {timeline.isError && (
        <ErrorNotice error={timeline.error} title="The timeline could not be loaded" />
      )}
      {timeline.hasNextPage && (
        <div className="load-more tl-earlier">
          <button
            type="button"
            className="button"
            onClick={() => void timeline.fetchNextPage()}
            disabled={timeline.isFetchingNextPage}
          >
            {timeline.isFetchingNextPage ? 'Loading earlier events…' : 'Show earlier events'}
          </button>
        </div>
      )}
      {groups.length > 0 && (
        <ol className="tl-groups" aria-label="Events, oldest first" data-testid="timeline">
          {groups.map((group) => (
            <GroupView key={group.key} group={group} actions={actions} />
          ))}
        </ol>
      )}
    </section>
  );
}
