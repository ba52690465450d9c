import { Link } from 'react-router';
import { runPath, statusClass, statusLabel } from '../runs/present';
import { questionChangeText, verdictOf, versionLabel } from './present';
import type { RunImpact } from './queries';

function ImpactRow({ run, numbers }: { run: RunImpact; numbers: ReadonlyMap<string, number> }) {
  const verdict = verdictOf(run);
  const { before, at, after } = run.counts;
  return (
    <tr data-run-id={run.workflow_run_id} data-verdict={verdict.kind}>
      <th scope="row">
        <Link className="mono impact-run-link" to={runPath(run.workflow_run_id)}>
          {run.workflow_run_id}
        </Link>
        <span className="impact-project muted">
          <span className="visually-hidden">project </span>
          {run.project_name}
        </span>
      </th>
      <td>
        <span className={`run-status ${statusClass(run.status)}`}>{statusLabel(run.status)}</span>
      </td>
      <td>
        {versionLabel(run.current_version_id, numbers)}
        {numbers.has(run.current_version_id) && (
          <span className="impact-version-id mono">{run.current_version_id}</span>
        )}
      </td>
      <td className="mono impact-position">
        {run.position === null ? (
          'Not on a step yet'
        ) : (
          // A long name may break after the dot, not inside a word.
          <>
            {run.position.step_id}.<wbr />
            {run.position.module_name}
          </>
        )}
      </td>
      <td className="impact-counts">
        {before} before · {at} at · {after} after
      </td>
      <td>
        <span className={`verdict verdict-${verdict.kind}`}>{verdict.text}</span>
        {run.warning !== null && (
          <details className="impact-why">
            <summary>
              Why<span className="visually-hidden"> for {run.workflow_run_id}</span>
            </summary>
            <p>{run.warning}</p>
            {run.behind_position.length > 0 && (
              <ul>
                {run.behind_position.map((change) => (
                  <li key={`${change.step_id}.${change.module_name}`}>{change.message}</li>
                ))}
              </ul>
            )}
          </details>
        )}
      </td>
      <td>{questionChangeText(run.pending_request_changes)}</td>
    </tr>
  );
}

/** The report's runs, newest first, one row each, with "Show more" while the server has more. */
export function ImpactTable({
  runs,
  numbers,
  hasMore,
  loadingMore,
  onMore,
}: {
  runs: RunImpact[];
  numbers: ReadonlyMap<string, number>;
  hasMore: boolean;
  loadingMore: boolean;
  onMore: () => void;
}) {
  return (
    <>
      <div className="table-wrap">
        <table className="data-table impact-table">
          <caption>Unfinished runs on other versions, newest first</caption>
          <thead>
            <tr>
              <th scope="col">Run</th>
              <th scope="col">Status</th>
              <th scope="col">Current version</th>
              <th scope="col">Position</th>
              <th scope="col">Changes</th>
              <th scope="col">Verdict</th>
              <th scope="col">Its question changes</th>
            </tr>
          </thead>
          <tbody>
            {runs.map((run) => (
              <ImpactRow key={run.workflow_run_id} run={run} numbers={numbers} />
            ))}
          </tbody>
        </table>
      </div>
      {hasMore && (
        <div className="load-more">
          <button type="button" className="button" onClick={onMore} disabled={loadingMore}>
            {loadingMore ? 'Loading…' : 'Show more'}
            <span className="visually-hidden"> runs</span>
          </button>
        </div>
      )}
    </>
  );
}
