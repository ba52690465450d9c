import { Link } from 'react-router';
import { runPath } from '../runs/present';
import {
  countEntries,
  outcomeClass,
  outcomeText,
  runCount,
  versionLabel,
  type Tense,
} from './present';
import type { MigrationCounts, MigrationRunOutcome } from './queries';

/** "3 runs matched: 1 would move where they stand, 2 would move and restart, …". */
export function OutcomeCounts({ counts, tense }: { counts: MigrationCounts; tense: Tense }) {
  return (
    <dl className="outcome-counts">
      <div>
        <dt>matched</dt>
        <dd>{runCount(counts.matched)}</dd>
      </div>
      {countEntries(counts, tense).map((entry) => (
        <div key={entry.key} data-count={entry.key}>
          <dt>{entry.label}</dt>
          <dd>{entry.value}</dd>
        </div>
      ))}
      {tense === 'done' && counts.pending > 0 && (
        <div data-count="pending">
          <dt>not reached yet</dt>
          <dd>{counts.pending}</dd>
        </div>
      )}
    </dl>
  );
}

/** Each run with what the migration would do (a preview) or did to it. */
export function OutcomeTable({
  caption,
  outcomes,
  tense,
  numbers,
}: {
  caption: string;
  outcomes: MigrationRunOutcome[];
  tense: Tense;
  numbers: ReadonlyMap<string, number>;
}) {
  return (
    <div className="table-wrap">
      <table className="data-table outcome-table">
        <caption>{caption}</caption>
        <thead>
          <tr>
            <th scope="col">Run</th>
            <th scope="col">From version</th>
            <th scope="col">{tense === 'predicted' ? 'Predicted outcome' : 'Outcome'}</th>
          </tr>
        </thead>
        <tbody>
          {outcomes.map((outcome) => (
            <tr
              key={outcome.workflow_run_id}
              data-run-id={outcome.workflow_run_id}
              data-outcome={outcome.outcome ?? 'pending'}
            >
              <th scope="row">
                <Link className="mono impact-run-link" to={runPath(outcome.workflow_run_id)}>
                  {outcome.workflow_run_id}
                </Link>
              </th>
              <td>{versionLabel(outcome.from_version_id, numbers)}</td>
              <td>
                <span className={outcomeClass(outcome.outcome)}>{outcomeText(outcome, tense)}</span>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
