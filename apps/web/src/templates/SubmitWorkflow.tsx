import { useQueryClient } from '@tanstack/react-query';
import { useEffect, useId, useRef, useState } from 'react';
import { Link } from 'react-router';
import { ApiError } from '../api/client';
import { submitWorkflowFile, type SubmittedVersion } from '../api/workflow-submission';
import { describeError } from '../layout/Status';
import { templatePath } from '../runs/present';
import { ProblemList } from './ProblemList';
import { templateKey, templatesKey } from './queries';
import { WorkflowDropZone } from './WorkflowDropZone';

/** Where a submission stands, from the file chosen to the version stored (or why not). */
type Submission =
  | { state: 'idle' }
  | { state: 'sending'; fileName: string }
  | { state: 'checking'; fileName: string }
  | { state: 'stored'; fileName: string; version: SubmittedVersion }
  | { state: 'refused'; fileName: string; error: unknown };

function StoredNotice({ version }: { version: SubmittedVersion }) {
  const template = (
    <Link to={templatePath(version.workflow_template_name)}>{version.workflow_template_name}</Link>
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
  const headingId = useId();
  const [submission, setSubmission] = useState<Submission>({ state: 'idle' });
  // The submission being followed: a newer one, or leaving the page, stops following it.
  const aborter = useRef<AbortController | null>(null);
  useEffect(() => () => aborter.current?.abort(), []);

  const send = async (file: File) => {
    aborter.current?.abort();
    const controller = new AbortController();
    aborter.current = controller;
    setSubmission({ state: 'sending', fileName: file.name });
    try {
      const version = await submitWorkflowFile(file, {
        signal: controller.signal,
        onResolving: () => setSubmission({ state: 'checking', fileName: file.name }),
      });
      setSubmission({ state: 'stored', fileName: file.name, version });
      void client.invalidateQueries({ queryKey: templatesKey });
      void client.invalidateQueries({ queryKey: templateKey(version.workflow_template_name) });
    } catch (error) {
      if (controller.signal.aborted) return;
      setSubmission({ state: 'refused', fileName: file.name, error });
    }
  };

  const take = ([file, ...others]: File[]) => {
    if (file === undefined) return;
    if (others.length > 0) {
      setSubmission({
        state: 'refused',
        fileName: `${others.length + 1} files`,
        error: new Error('Submit one workflow at a time: drop a single .zip or .json file.'),
      });
      return;
    }
    void send(file);
  };

  const busy = submission.state === 'sending' || submission.state === 'checking';
  return (
    <section className="settings-section submit-workflow" aria-labelledby={headingId}>
      <h2 id={headingId}>Submit a workflow</h2>
      <WorkflowDropZone
        label="Workflow file (.zip bundle or .json)"
        hint={
          <>
            Or drop the file here. A new version is stored when its content differs from the
            versions you have; its template is named by the workflow&rsquo;s{' '}
            <code>workflow_id</code>.
          </>
        }
        disabled={busy}
        onFiles={take}
      />
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
