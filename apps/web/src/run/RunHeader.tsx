import { useEffect, useId, useRef, useState } from 'react';
import { Link } from 'react-router';
import { questionText } from '../api/requests';
import type { Run } from '../answer/useAnswer';
import { ErrorNotice } from '../layout/Status';
import { formatDateTime } from '../util/time';
import { useCancel } from './actions';
import { isFinal } from './format';
import { answerPath, statusClass, statusLabel } from '../runs/present';

/** Where the run stands: its status in words, project, position, times. */
export function RunSummary({ run }: { run: Run }) {
  return (
    <>
      <dl className="run-summary">
        <div>
          <dt>Status</dt>
          <dd>
            <span className={`run-status ${statusClass(run.status)}`}>
              {statusLabel(run.status)}
            </span>
          </dd>
        </div>
        <div>
          <dt>Project</dt>
          <dd>{run.project_name}</dd>
        </div>
        {run.current_step !== null && (
          <div>
            <dt>{isFinal(run.status) ? 'Stopped at' : 'At'}</dt>
            <dd className="mono">
              {run.current_step}
              {run.current_module !== null ? `.${run.current_module}` : ''}
            </dd>
          </div>
        )}
        <div>
          <dt>Started</dt>
          <dd>
            <time dateTime={run.created_at}>{formatDateTime(run.created_at)}</time>
          </dd>
        </div>
        <div>
          <dt>Last change</dt>
          <dd>
            <time dateTime={run.updated_at}>{formatDateTime(run.updated_at)}</time>
          </dd>
        </div>
        <div>
          <dt>Run</dt>
          <dd className="mono">{run.workflow_run_id}</dd>
        </div>
      </dl>
      {run.error && (
        <div className="notice notice-error">
          <p className="notice-title">The run failed</p>
          <p>
            {run.error.message} <span className="mono">({run.error.code})</span>
          </p>
        </div>
      )}
      {run.pending_interaction && (
        <div className="notice run-waiting">
          <p>
            The run waits for an answer to <q>{questionText(run.pending_interaction)}</q>
            <span className="muted"> ({run.pending_interaction.module_name})</span>.
          </p>
          <p>
            <Link
              className="button button-primary"
              to={answerPath(run.workflow_run_id, run.pending_interaction.interaction_id)}
            >
              Answer the question
            </Link>
          </p>
        </div>
      )}
    </>
  );
}

/** "Cancel run": asks first, in place; then cancels and says so. */
function CancelRun({ run, onCancelled }: { run: Run; onCancelled: (message: string) => void }) {
  const [confirming, setConfirming] = useState(false);
  const cancel = useCancel(run.workflow_run_id);
  const confirmButton = useRef<HTMLButtonElement>(null);
  const opener = useRef<HTMLButtonElement>(null);
  // "Keep the run" unmounts the question, focus and all: it goes back to "Cancel run…".
  const focusOpener = useRef(false);
  const questionId = useId();
  useEffect(() => {
    if (confirming) confirmButton.current?.focus();
    else if (focusOpener.current) {
      focusOpener.current = false;
      opener.current?.focus();
    }
  }, [confirming]);

  if (isFinal(run.status)) return null;
  if (!confirming) {
    return (
      <button
        ref={opener}
        type="button"
        className="button button-danger"
        onClick={() => setConfirming(true)}
      >
        Cancel run…
      </button>
    );
  }
  return (
    <div className="run-confirm" role="group" aria-labelledby={questionId}>
      <p id={questionId}>
        Cancel this run? It stops for good: nothing more runs, and its question leaves the inbox.
      </p>
      {cancel.isError && <ErrorNotice error={cancel.error} title="The run was not cancelled" />}
      <div className="actions">
        <button
          ref={confirmButton}
          type="button"
          className="button button-danger"
          disabled={cancel.isPending}
          onClick={() =>
            cancel.mutate(null, {
              onSuccess: () => {
                setConfirming(false);
                onCancelled('The run is cancelled.');
              },
            })
          }
        >
          {cancel.isPending ? 'Cancelling…' : 'Yes, cancel the run'}
        </button>
        <button
          type="button"
          className="button"
          onClick={() => {
            focusOpener.current = true;
            setConfirming(false);
          }}
        >
          Keep the run
        </button>
      </div>
    </div>
  );
}

/** What a person can do with the whole run. */
export function RunActions({ run, onNotice }: { run: Run; onNotice: (message: string) => void }) {
  return (
    <div className="actions run-actions">
      <Link className="button" to={`/runs/${encodeURIComponent(run.workflow_run_id)}/versions`}>
        Resume with another version
      </Link>
      <CancelRun run={run} onCancelled={onNotice} />
    </div>
  );
}
