import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useRef, useState, type FormEvent } from 'react';
import { useNavigate } from 'react-router';
import type { paths } from '@stepwise/client';
import { ApiError, api, unwrap } from '../api/client';
import { FieldMessages } from '../answer/FieldMessages';
import { describeError, Loading, ErrorNotice } from '../layout/Status';
import { landingPath } from '../runs/present';
import { runsKey } from '../runs/queries';
import { formatDateTime } from '../util/time';
import {
  buildInitialState,
  entriesFor,
  serverEntryProblems,
  serverMessagesAt,
  type EntryProblems,
  type StateEntry,
} from './initialState';
import { InitialStateFields } from './InitialStateFields';
import { ProblemList } from './ProblemList';
import { useVersion, type TemplateDetail, type VersionSummary } from './queries';

type StartRunBody = paths['/v1/runs']['post']['requestBody']['content']['application/json'];

/** How long the gateway may hold the start until the run is at rest (its first question). */
const START_WAIT_MS = 5_000;

/**
 * "Start a run": a version (the latest unless chosen), a project name, and the initial state,
 * one field per key the chosen version's workflow declares. Once started, the person goes to the
 * run's first question if it asks one at once, else to the run.
 */
export function StartRunForm({
  template,
  versions,
}: {
  template: TemplateDetail;
  versions: VersionSummary[];
}) {
  const client = useQueryClient();
  const navigate = useNavigate();
  const form = useRef<HTMLFormElement>(null);
  const [choice, setChoice] = useState('');
  const [project, setProject] = useState('');
  const [projectProblem, setProjectProblem] = useState<string | null>(null);
  const [entries, setEntries] = useState<StateEntry[]>([]);
  const [entryProblems, setEntryProblems] = useState<ReadonlyMap<number, EntryProblems>>(new Map());
  const versionId = choice === '' ? template.latest_version_id : choice;
  const version = useVersion(versionId);

  // The declared fields follow the chosen version (keys the person added stay).
  const [fieldsOf, setFieldsOf] = useState<string | null>(null);
  if (version.data !== undefined && fieldsOf !== version.data.workflow_version_id) {
    setFieldsOf(version.data.workflow_version_id);
    setEntries([
      ...entriesFor(version.data.resolved_workflow['initial_state']),
      ...entries.filter((entry) => !entry.declared),
    ]);
    setEntryProblems(new Map());
  }

  const start = useMutation({
    mutationFn: async (body: StartRunBody) =>
      unwrap(await api.POST('/v1/runs', { params: { query: { wait_ms: START_WAIT_MS } }, body })),
    onSuccess: (run) => {
      void client.invalidateQueries({ queryKey: runsKey });
      void navigate(landingPath(run), {
        state: { notice: `Started a run of ${run.workflow_template_name}.` },
      });
    },
  });
  // The server's refusal, listed by path beside the form and put on the fields it names.
  const serverProblems = start.error instanceof ApiError ? start.error.problems : [];
  const projectMessages =
    projectProblem !== null ? [projectProblem] : serverMessagesAt(serverProblems, 'project_name');
  const shownEntryProblems =
    entryProblems.size > 0 ? entryProblems : serverEntryProblems(entries, serverProblems);

  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (versionId === null) return;
    const projectName = project.trim();
    const built = buildInitialState(entries);
    setProjectProblem(projectName === '' ? 'Give the run a project name.' : null);
    setEntryProblems(built.ok ? new Map() : built.problems);
    if (projectName === '' || !built.ok) {
      // The server's last refusal was about other values: it would only confuse now.
      start.reset();
      // After React has marked the fields: the first one to fix gets the focus.
      requestAnimationFrame(() =>
        form.current?.querySelector<HTMLElement>('[aria-invalid="true"]')?.focus(),
      );
      return;
    }
    start.mutate({
      workflow_version_id: versionId,
      project_name: projectName,
      initial_state: built.state,
    });
  };

  const latest = versions.find(
    (summary) => summary.workflow_version_id === template.latest_version_id,
  );
  return (
    <section className="settings-section start-run" aria-labelledby="start-run-heading">
      <h2 id="start-run-heading">Start a run</h2>
      <div className="start-run-layout">
        <form ref={form} className="stack start-run-form" onSubmit={submit} noValidate>
          <div className="field">
            <label htmlFor="start-version">Version</label>
            <select
              id="start-version"
              value={choice}
              onChange={(event) => setChoice(event.target.value)}
            >
              <option value="">
                Latest{latest ? ` (${formatDateTime(latest.created_at)})` : ''}
              </option>
              {versions.map((summary) => (
                <option key={summary.workflow_version_id} value={summary.workflow_version_id}>
                  {summary.workflow_version_id} ({formatDateTime(summary.created_at)})
                </option>
              ))}
            </select>
          </div>
          <div className="field">
            <label htmlFor="start-project">
              Project name <span className="required">(required)</span>
            </label>
            <input
              id="start-project"
              type="text"
              value={project}
              required
              maxLength={200}
              onChange={(event) => setProject(event.target.value)}
              aria-invalid={projectMessages.length > 0}
              aria-describedby="start-project-messages"
            />
            <FieldMessages
              id="start-project-messages"
              help="Runs are grouped and filtered by project."
              problems={projectMessages}
            />
          </div>
          {version.isPending && <Loading label="Reading the workflow's initial state" />}
          {version.isError && (
            <ErrorNotice error={version.error} title="The version could not be read" />
          )}
          {version.isSuccess && (
            <InitialStateFields
              entries={entries}
              problems={shownEntryProblems}
              onChange={setEntries}
            />
          )}
          <div className="actions">
            <button
              type="submit"
              className="button button-primary"
              disabled={start.isPending || !version.isSuccess}
            >
              {start.isPending ? 'Starting…' : 'Start the run'}
            </button>
          </div>
        </form>
        <div className="start-run-problems" aria-live="polite">
          {start.isError && (
            <div className="notice notice-error" role="alert">
              <p className="notice-title">The run was not started</p>
              <p>{describeError(start.error)}</p>
              <ProblemList problems={serverProblems} label="Problems with the run" />
            </div>
          )}
        </div>
      </div>
    </section>
  );
}
