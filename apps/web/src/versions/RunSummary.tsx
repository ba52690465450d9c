import { Link } from 'react-router';
import { positionText, statusLabel, templatePath } from '../runs/present';
import { shortHash } from '../templates/queries';
import { formatDateTime } from '../util/time';
import type { Run, VersionListItem } from './types';

/** Why a run has no position: it has ended, or not reached its first step yet. */
function noPositionText(run: Run): string {
  return run.status === 'completed' ? 'finished' : 'not started on a step yet';
}

/** The run the page is about: its template, the version it is on, and where it stands. */
export function RunSummary({ run, current }: { run: Run; current: VersionListItem | null }) {
  return (
    <dl className="run-summary">
      <div>
        <dt>Template</dt>
        <dd>
          <Link to={templatePath(run.workflow_template_name)}>{run.workflow_template_name}</Link>
        </dd>
      </div>
      <div>
        <dt>Project</dt>
        <dd>{run.project_name}</dd>
      </div>
      <div>
        <dt>Current version</dt>
        <dd>
          <span className="mono">{run.current_version_id}</span>
          {current !== null && (
            <span className="muted">
              {' '}
              · <time dateTime={current.created_at}>{formatDateTime(current.created_at)}</time> ·
              hash <span className="mono">{shortHash(current.content_hash)}</span>
            </span>
          )}
        </dd>
      </div>
      <div>
        <dt>Position</dt>
        <dd>{positionText(run) ?? noPositionText(run)}</dd>
      </div>
      <div>
        <dt>Status</dt>
        <dd>{statusLabel(run.status)}</dd>
      </div>
    </dl>
  );
}
