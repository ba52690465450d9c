import { useEffect, useId, useRef, useState, type FormEvent } from 'react';
import { Link } from 'react-router';
import type { Run } from '../answer/useAnswer';
import { describeError, ErrorNotice, Loading } from '../layout/Status';
import { useAnswerAgain, useRetry } from './actions';
import { moduleLabel, type ModulePosition } from './events';
import { clockTime, fullTime, isFinal } from './format';
import { answerPath } from '../runs/present';
import { newestSeq, timelineEvents, useAttempts, useTimeline } from './queries';
import {
  buildTimeline,
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

/** "Retry <module>…": opens a small form for optional feedback, then sends the retry. */
function RetryControl({
  runId,
  position,
  onRetried,
}: {
  runId: string;
  position: ModulePosition;
  onRetried: (message: string) => void;
}) {
  const label = moduleLabel(position);
  const [open, setOpen] = useState(false);
  const [feedback, setFeedback] = useState('');
  const retry = useRetry(runId);
  const fieldId = useId();
  const field = useRef<HTMLTextAreaElement>(null);
  const opener = useRef<HTMLButtonElement>(null);
  // Cancel unmounts the form, focus and all: it goes back to the button that opened it (a retry
  // that went through moves focus to the page's notice instead).
  const focusOpener = useRef(false);
  useEffect(() => {
    if (open) field.current?.focus();
    else if (focusOpener.current) {
      focusOpener.current = false;
      opener.current?.focus();
    }
  }, [open]);

  if (!open) {
    return (
      <button
        ref={opener}
        type="button"
        className="button button-small"
        aria-expanded="false"
        onClick={() => setOpen(true)}
      >
        Retry {label}…
      </button>
    );
  }
  const onSubmit = (event: FormEvent) => {
    event.preventDefault();
    retry.mutate(
      { position, feedback },
      {
        onSuccess: () => {
          setOpen(false);
          onRetried(
            feedback.trim() === ''
              ? `${label} runs again.`
              : `${label} runs again with your feedback.`,
          );
        },
      },
    );
  };
  return (
    <form className="tl-retry" onSubmit={onSubmit} aria-label={`Retry ${label}`}>
      <div className="field">
        <label htmlFor={fieldId}>Feedback for {label} (optional)</label>
        <textarea
          id={fieldId}
          ref={field}
          rows={3}
          value={feedback}
          onChange={(event) => setFeedback(event.target.value)}
        />
        <p className="field-help">The module sees it as run.feedback when it runs again.</p>
      </div>
      {retry.isError && <ErrorNotice error={retry.error} title="The retry was not accepted" />}
      <div className="actions">
        <button type="submit" className="button button-primary" disabled={retry.isPending}>
          {retry.isPending ? 'Retrying…' : `Retry ${label} now`}
        </button>
        <button
          type="button"
          className="button"
          onClick={() => {
            focusOpener.current = true;
            setOpen(false);
          }}
        >
          Cancel
        </button>
      </div>
    </form>
  );
}

function AnswerAgainButton({
  runId,
  fromEventId,
  about,
  onBranched,
}: {
  runId: string;
  fromEventId: string;
  about: string;
  onBranched: (run: Run) => void;
}) {
  const answerAgain = useAnswerAgain(runId);
  return (
    <>
      <button
        type="button"
        className="button button-small"
        disabled={answerAgain.isPending}
        onClick={() => answerAgain.mutate(fromEventId, { onSuccess: onBranched })}
      >
        {answerAgain.isPending ? 'Making a branch…' : 'Answer this again'}
        <span className="visually-hidden"> ({about})</span>
      </button>
      {answerAgain.isError && (
        <p className="field-error" role="alert">
          {describeError(answerAgain.error)}
        </p>
      )}
    </>
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
    <li className={`tl-entry tl-${entry.tone}`} data-seq={event.seq}>
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
            <AnswerAgainButton
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
  const groups = buildTimeline({
    events,
    viewer,
    pendingInteractionId: isActive ? (run.pending_interaction?.interaction_id ?? null) : null,
    attemptsOf,
  });
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
