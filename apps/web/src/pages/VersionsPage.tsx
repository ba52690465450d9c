import { useRef, useState } from 'react';
import { Link, useNavigate, useParams } from 'react-router';
import { ApiError } from '../api/client';
import { ErrorNotice, Loading } from '../layout/Status';
import { isFinal } from '../run/format';
import { useRun } from '../run/queries';
import { landingPath, runPath } from '../runs/present';
import { useVersion } from '../templates/queries';
import { useDocumentTitle } from '../util/title';
import { BehindWarning, ChangesView } from '../versions/ChangesView';
import { stepIdsOf, versionNumbers } from '../versions/presenters';
import {
  useConfirmResume,
  useTemplateVersions,
  useVersionChanges,
  type ResumeDecision,
} from '../versions/queries';
import { ResumeChoices } from '../versions/ResumeChoices';
import { RunSummary } from '../versions/RunSummary';
import type { Run } from '../versions/types';
import { VersionList } from '../versions/VersionList';
import { WorkflowUpload } from '../versions/WorkflowUpload';
import '../versions/versions.css';

function doneNotice(decision: ResumeDecision, run: Run): string {
  switch (decision.choice) {
    case 'restart_at':
      return decision.restartAt === null
        ? 'The run now uses the new version and went back to the suggested step.'
        : `The run now uses the new version and went back to step ${decision.restartAt}.`;
    case 'continue_with_new':
      return 'The run now uses the new version and carries on from where it stood.';
    case 'continue_with_original':
      return 'The run keeps its version.';
    case 'start_fresh':
      return `A new run of the new version started in project ${run.project_name}.`;
  }
}

/**
 * The Versions page (people.md): moves a run onto another version of its template, chosen from
 * the template's versions or uploaded on the spot, after showing what changes (the changed text
 * itself, placed before, at or after the run's position) and the choices the server offers.
 */
export default function VersionsPage() {
  const { runId = '' } = useParams();
  const navigate = useNavigate();
  const run = useRun(runId);
  const templateName = run.data?.workflow_template_name ?? null;
  const versions = useTemplateVersions(templateName);
  const [chosenVersionId, setChosenVersionId] = useState<string | null>(null);
  const changes = useVersionChanges(runId, chosenVersionId);
  const submitted = useVersion(changes.data?.submitted_version ?? null);
  const confirm = useConfirmResume(runId);
  // A double click confirms twice before React re-renders the button disabled.
  const inFlight = useRef(false);
  useDocumentTitle(templateName === null ? 'Versions' : `Versions · ${templateName}`);

  if (run.isPending) {
    return (
      <section className="page">
        <h1>Versions</h1>
        <Loading label="Loading the run" />
      </section>
    );
  }
  if (run.isError) {
    const missing =
      run.error instanceof ApiError && (run.error.status === 404 || run.error.status === 400);
    return (
      <section className="page">
        <h1>Versions</h1>
        <ErrorNotice error={run.error} title={missing ? 'There is no such run' : undefined} />
        <p>
          <Link to="/runs">Back to the runs</Link>
        </p>
      </section>
    );
  }

  const data = run.data;
  const pages = versions.data?.pages ?? [];
  const listed = pages.flatMap((page) => page.versions);
  const current = listed.find((v) => v.workflow_version_id === data.current_version_id) ?? null;
  const chosenNumber =
    chosenVersionId === null ? undefined : versionNumbers(pages).get(chosenVersionId);
  const view =
    changes.data && changes.data.submitted_version === chosenVersionId ? changes.data : null;
  // The server offers nothing but a new run of the chosen version then.
  const ended = isFinal(data.status);
  const onConfirm = (decision: ResumeDecision) => {
    if (inFlight.current) return;
    inFlight.current = true;
    confirm.mutate(decision, {
      onSettled: () => {
        inFlight.current = false;
      },
      onSuccess: (next) => {
        void navigate(landingPath(next), { state: { notice: doneNotice(decision, next) } });
      },
    });
  };

  return (
    <section className="page versions-page" aria-labelledby="versions-heading">
      <p className="breadcrumbs">
        <Link to="/runs">Runs</Link>
        <span aria-hidden="true"> / </span>
        <Link to={runPath(data.workflow_run_id)}>{data.workflow_template_name}</Link>
        <span aria-hidden="true"> / </span>
        <span>Versions</span>
      </p>
      <h1 id="versions-heading">Change the run’s version</h1>
      <RunSummary run={data} current={current} />
      {ended && (
        <p className="notice">
          This run has ended: it cannot move to another version, but a new run of one can start.
        </p>
      )}

      <section className="versions-section" aria-labelledby="choose-heading">
        <h2 id="choose-heading">Choose a version</h2>
        {versions.isPending && <Loading label="Loading the template’s versions" />}
        {versions.isError && <ErrorNotice error={versions.error} />}
        {versions.isSuccess && (
          <VersionList
            templateName={data.workflow_template_name}
            pages={pages}
            currentVersionId={data.current_version_id}
            initialVersionId={data.initial_version_id}
            chosenVersionId={chosenVersionId}
            onChoose={(versionId) => {
              confirm.reset();
              setChosenVersionId(versionId);
            }}
            hasMore={versions.hasNextPage}
            loadingMore={versions.isFetchingNextPage}
            onLoadMore={() => void versions.fetchNextPage()}
          />
        )}
        <h3 className="upload-heading">Or upload one on the spot</h3>
        <WorkflowUpload
          templateName={data.workflow_template_name}
          onUploaded={(version) => {
            setChosenVersionId(version.workflow_version_id);
            confirm.reset();
            if (version.created) void versions.refetch();
          }}
        />
      </section>

      {chosenVersionId !== null && chosenVersionId === data.current_version_id && (
        <p className="notice" role="status">
          That is the version the run is on already: there is nothing to change.
        </p>
      )}
      {chosenVersionId !== null && chosenVersionId !== data.current_version_id && (
        <section
          className="versions-section"
          aria-labelledby="changes-heading"
          aria-busy={changes.isFetching}
        >
          <h2 id="changes-heading">
            What changes with{' '}
            {chosenNumber === undefined ? (
              <span className="mono">{chosenVersionId}</span>
            ) : (
              `version ${chosenNumber}`
            )}
          </h2>
          {chosenNumber !== undefined && <p className="muted mono">{chosenVersionId}</p>}
          {changes.isError && <ErrorNotice error={changes.error} />}
          {view === null && !changes.isError && <Loading label="Comparing the versions" />}
          {view !== null && (
            <>
              <BehindWarning view={view} runEnded={ended} />
              <ChangesView view={view} />
            </>
          )}
        </section>
      )}

      {view !== null && chosenVersionId !== data.current_version_id && (
        <section className="versions-section" aria-labelledby="decide-heading">
          <h2 id="decide-heading">What to do</h2>
          <ResumeChoices
            // A new comparison starts with the server's first choice and suggestion again.
            key={view.submitted_version}
            view={view}
            steps={submitted.data ? stepIdsOf(submitted.data.resolved_workflow) : []}
            sending={confirm.isPending}
            error={confirm.error}
            onConfirm={onConfirm}
          />
        </section>
      )}
    </section>
  );
}
