import { useQueryClient } from '@tanstack/react-query';
import { useEffect, useId, useRef, useState, type ChangeEvent, type DragEvent } from 'react';
import { Link } from 'react-router';
import { ApiError } from '../api/client';
import { describeError } from '../layout/Status';
import { ProblemList } from './ProblemList';
import { templateKey, templatesKey } from './queries';
import { jobOutcome, kindOf, readJob, submitWorkflow, type SubmittedVersion } from './submission';

/** Where a submission stands, from the file chosen to the version stored (or why not). */
type Submission =
  | { state: 'idle' }
  | { state: 'sending'; fileName: string }
  | { state: 'checking'; fileName: string }
  | { state: 'stored'; fileName: string; version: SubmittedVersion }
  | { state: 'refused'; fileName: string; error: unknown };

/** How often a pending submission's job is asked about. */
const JOB_POLL_MS = 1_000;

function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(timer);
      reject(signal.reason);
    });
  });
}

/** Asks about the submission's job until the resolver has stored the version or refused it. */
async function settledJob(jobId: string, signal: AbortSignal) {
  for (;;) {
    const outcome = jobOutcome(await readJob(jobId, signal));
    if (outcome.state !== 'pending') return outcome;
    await pause(JOB_POLL_MS, signal);
  }
}

function StoredNotice({ version }: { version: SubmittedVersion }) {
  const template = (
    <Link to={`/templates/${encodeURIComponent(version.workflow_template_name)}`}>
      {version.workflow_template_name}
    </Link>
  );
  return (
    <div className="notice notice-success submission-outcome">
      {version.created ? (
        <p>
          New version <code>{version.workflow_version_id}</code> of {template}.
        </p>
      ) : (
        <p>
          Unchanged: this is already version <code>{version.workflow_version_id}</code> of{' '}
          {template}.
        </p>
      )}
    </div>
  );
}

function RefusedNotice({ fileName, error }: { fileName: string; error: unknown }) {
  const problems = error instanceof ApiError ? error.problems : [];
  return (
    <div className="notice notice-error submission-outcome" role="alert">
      <p className="notice-title">{fileName} was not accepted</p>
      {/* The message repeats the details in one line: the list reads better on its own. */}
      {problems.length === 0 ? (
        <p>{describeError(error)}</p>
      ) : (
        <p>
          {problems.length === 1
            ? 'One problem, by where it is:'
            : `${problems.length} problems, by where they are:`}
        </p>
      )}
      <ProblemList problems={problems} label="Problems in the workflow" />
    </div>
  );
}

/**
 * Submitting a workflow: a file dropped on the zone or chosen with the file input (a .zip bundle
 * or a .json document) is sent at once; the outcome says which version of which template it is.
 */
export function SubmitWorkflow() {
  const client = useQueryClient();
  const inputId = useId();
  const hintId = useId();
  const [submission, setSubmission] = useState<Submission>({ state: 'idle' });
  const [dragging, setDragging] = useState(false);
  // The submission being followed: a newer one, or leaving the page, stops following it.
  const aborter = useRef<AbortController | null>(null);
  useEffect(() => () => aborter.current?.abort(), []);
  // Nested elements fire their own enter/leave: count them so the zone stays lit over children.
  const dragDepth = useRef(0);

  const stored = (fileName: string, version: SubmittedVersion) => {
    setSubmission({ state: 'stored', fileName, version });
    void client.invalidateQueries({ queryKey: templatesKey });
    void client.invalidateQueries({ queryKey: templateKey(version.workflow_template_name) });
  };

  const send = async (file: File) => {
    const kind = await kindOf(file);
    if (kind === null) {
      setSubmission({
        state: 'refused',
        fileName: file.name,
        error: new Error('Choose a .zip bundle or a .json workflow file.'),
      });
      return;
    }
    aborter.current?.abort();
    const controller = new AbortController();
    aborter.current = controller;
    setSubmission({ state: 'sending', fileName: file.name });
    try {
      const outcome = await submitWorkflow(file, kind);
      if (outcome.state === 'stored') {
        stored(file.name, outcome.version);
        return;
      }
      setSubmission({ state: 'checking', fileName: file.name });
      const settled = await settledJob(outcome.jobId, controller.signal);
      if (settled.state === 'stored') stored(file.name, settled.version);
      else setSubmission({ state: 'refused', fileName: file.name, error: settled.error });
    } catch (error) {
      if (controller.signal.aborted) return;
      setSubmission({ state: 'refused', fileName: file.name, error });
    }
  };

  const take = (files: FileList | null) => {
    const chosen = files ? [...files] : [];
    const [file] = chosen;
    if (file === undefined) return;
    if (chosen.length > 1) {
      setSubmission({
        state: 'refused',
        fileName: `${chosen.length} files`,
        error: new Error('Submit one workflow at a time: drop a single .zip or .json file.'),
      });
      return;
    }
    void send(file);
  };

  const onChange = (event: ChangeEvent<HTMLInputElement>) => {
    take(event.target.files);
    // The same file chosen again (after fixing it) must fire a change again.
    event.target.value = '';
  };

  const acceptsDrag = (event: DragEvent) => [...event.dataTransfer.types].includes('Files');
  const onDragEnter = (event: DragEvent) => {
    if (!acceptsDrag(event)) return;
    event.preventDefault();
    dragDepth.current += 1;
    setDragging(true);
  };
  const onDragOver = (event: DragEvent) => {
    if (!acceptsDrag(event)) return;
    // Without this the browser opens the file instead of dropping it here.
    event.preventDefault();
    event.dataTransfer.dropEffect = 'copy';
  };
  const onDragLeave = () => {
    dragDepth.current = Math.max(0, dragDepth.current - 1);
    if (dragDepth.current === 0) setDragging(false);
  };
  const onDrop = (event: DragEvent) => {
    event.preventDefault();
    dragDepth.current = 0;
    setDragging(false);
    take(event.dataTransfer.files);
  };

  const busy = submission.state === 'sending' || submission.state === 'checking';
  return (
    <section className="settings-section submit-workflow" aria-labelledby={`${inputId}-heading`}>
      <h2 id={`${inputId}-heading`}>Submit a workflow</h2>
      <div
        className={`drop-zone${dragging ? ' drop-zone-active' : ''}`}
        role="group"
        aria-label="Drop a workflow file here"
        aria-describedby={hintId}
        onDragEnter={onDragEnter}
        onDragOver={onDragOver}
        onDragLeave={onDragLeave}
        onDrop={onDrop}
      >
        <label htmlFor={inputId} className="submit-label">
          Workflow file (.zip bundle or .json)
        </label>
        <input
          id={inputId}
          className="file-input"
          type="file"
          accept=".zip,.json,application/zip,application/json"
          onChange={onChange}
          disabled={busy}
        />
        <p id={hintId} className="drop-hint">
          Or drop the file here. A new version is stored when its content differs from the versions
          you have; its template is named by the workflow&rsquo;s <code>workflow_id</code>.
        </p>
      </div>
      <div role="status" aria-live="polite" className="submission-status">
        {submission.state === 'sending' && <p>Sending {submission.fileName}…</p>}
        {submission.state === 'checking' && <p>Checking {submission.fileName}…</p>}
        {submission.state === 'stored' && <StoredNotice version={submission.version} />}
      </div>
      {submission.state === 'refused' && (
        <RefusedNotice fileName={submission.fileName} error={submission.error} />
      )}
    </section>
  );
}
