import { Link } from 'react-router';
import { formatDateTime, waitedFor } from '../util/time';
import { answerPath, positionText, runPath, statusClass, statusLabel, type Run } from './present';

function RunRow({ run, now }: { run: Run; now: number }) {
  const position = positionText(run);
  const pending = run.status === 'awaiting_input' ? run.pending_interaction : null;
  return (
    <li className="run-row" data-run-id={run.workflow_run_id}>
      <div className="run-body">
        <p className="run-title">
          <Link className="run-link" to={runPath(run.workflow_run_id)}>
            {run.workflow_template_name}
            <span className="visually-hidden"> run {run.workflow_run_id}</span>
          </Link>
          <span className="run-project">
            <span className="visually-hidden">project </span>
            {run.project_name}
          </span>
          <span className={`run-status ${statusClass(run.status)}`}>
            <span className="visually-hidden">status: </span>
            {statusLabel(run.status)}
          </span>
        </p>
        <p className="run-meta">
          <span className="run-position">{position ?? 'No current step'}</span>
          <code className="run-id">{run.workflow_run_id}</code>
          <time dateTime={run.updated_at} title={formatDateTime(run.updated_at)}>
            updated {waitedFor(run.updated_at, now)} ago
          </time>
        </p>
        {run.status === 'error' && run.error !== null && (
          <p className="run-error">{run.error.message}</p>
        )}
      </div>
      {pending !== null && (
        <Link
          className="button button-primary run-answer"
          to={answerPath(run.workflow_run_id, pending.interaction_id)}
        >
          Answer
          <span className="visually-hidden">
            {' '}
            the question of {run.workflow_template_name} run {run.workflow_run_id}
          </span>
        </Link>
      )}
    </li>
  );
}

/** A list of runs with a "Show more" button while the server has more pages. */
export function RunList({
  label,
  runs,
  hasMore,
  loadingMore,
  onMore,
}: {
  label: string;
  runs: Run[];
  hasMore: boolean;
  loadingMore: boolean;
  onMore: () => void;
}) {
  // "Updated 3 minutes ago" as of this render: the list is read afresh each time the page opens.
  const now = Date.now();
  return (
    <>
      {runs.length > 0 && (
        <ul className="run-list" aria-label={label}>
          {runs.map((run) => (
            <RunRow key={run.workflow_run_id} run={run} now={now} />
          ))}
        </ul>
      )}
      {hasMore && (
        <div className="load-more">
          <button type="button" className="button" onClick={onMore} disabled={loadingMore}>
            {loadingMore ? 'Loading…' : 'Show more'}
            <span className="visually-hidden"> {label.toLowerCase()}</span>
          </button>
        </div>
      )}
    </>
  );
}
