import { Link, useParams, useSearchParams } from 'react-router';
import { ApiError } from '../api/client';
import { ErrorNotice, Loading } from '../layout/Status';
import { templatePath } from '../runs/present';
import { useTemplateDetail } from '../templates/queries';
import { useDocumentTitle } from '../util/title';
import { versionNumbers } from '../versions/presenters';
import { ImpactFilterBar } from './ImpactFilterBar';
import { ImpactTable } from './ImpactTable';
import { MigratePanel } from './MigratePanel';
import { isUnfinishedStatus, runCount, versionLabel } from './present';
import { useImpactReport, type ImpactFilters } from './queries';
import '../templates/templates.css';
import '../versions/versions.css';
import './impact.css';

/** The filters live in the address (`?status=…&current_version=…`): links and reloads keep them. */
function filtersOf(search: URLSearchParams): ImpactFilters {
  const status = search.get('status');
  const version = search.get('current_version');
  return {
    status: isUnfinishedStatus(status) ? status : null,
    currentVersionId: version !== null && version !== '' ? version : null,
  };
}

function ImpactView({ templateName, versionId }: { templateName: string; versionId: string }) {
  const [search, setSearch] = useSearchParams();
  const filters = filtersOf(search);
  const detail = useTemplateDetail(templateName);
  const report = useImpactReport(templateName, versionId, filters);
  const pages = detail.data?.pages ?? [];
  const numbers = versionNumbers(pages);
  const versionIds = pages.flatMap((page) => page.versions.map((v) => v.workflow_version_id));
  const target = versionLabel(versionId, numbers);
  // "Version 3" as a heading, "version 3" inside a sentence; an unnumbered id stays as it is.
  const targetInText = numbers.has(versionId) ? target.toLowerCase() : target;
  useDocumentTitle(`Runs ${targetInText} would change · ${templateName}`);

  const setFilters = (next: ImpactFilters) => {
    const params = new URLSearchParams();
    if (next.status !== null) params.set('status', next.status);
    if (next.currentVersionId !== null) params.set('current_version', next.currentVersionId);
    setSearch(params, { replace: true });
  };

  const runs = report.data?.pages.flatMap((page) => page.items) ?? [];
  const filtered = filters.status !== null || filters.currentVersionId !== null;
  const missing =
    report.error instanceof ApiError &&
    (report.error.status === 404 || report.error.status === 400);

  return (
    <section className="page impact-page" aria-labelledby="impact-heading">
      <p className="breadcrumbs">
        <Link to="/templates">Templates</Link>
        <span aria-hidden="true"> / </span>
        <Link to={templatePath(templateName)}>{templateName}</Link>
        <span aria-hidden="true"> / </span>
        <span>Impact of {targetInText}</span>
      </p>
      <div className="page-head">
        <h1 id="impact-heading">Runs {targetInText} would change</h1>
      </div>
      <p className="muted impact-intro">
        Your unfinished runs of <code>{templateName}</code> on another version, and what moving each
        onto {targetInText} (<span className="mono">{versionId}</span>) would do, from where it
        stands.
      </p>

      <ImpactFilterBar
        filters={filters}
        versionIds={versionIds}
        targetVersionId={versionId}
        numbers={numbers}
        onChange={setFilters}
      />

      <section
        className="impact-section"
        aria-labelledby="impact-runs-heading"
        aria-busy={report.isFetching}
      >
        <h2 id="impact-runs-heading">Runs</h2>
        {report.isPending && <Loading label="Comparing the runs with this version" />}
        {report.isError && (
          <ErrorNotice
            error={report.error}
            title={
              missing
                ? `${versionId} is not a version of ${templateName}`
                : 'The runs could not be compared with this version'
            }
          />
        )}
        {report.isSuccess && runs.length === 0 && (
          <p className="notice" role="status">
            {filtered
              ? 'No unfinished run matches these filters.'
              : `No unfinished run of ${templateName} is on another version: ${targetInText} changes none.`}
          </p>
        )}
        {report.isSuccess && runs.length > 0 && (
          <>
            <p className="muted" role="status">
              {runCount(runs.length)} shown{report.hasNextPage ? ', more to load' : ''}.
            </p>
            <ImpactTable
              runs={runs}
              numbers={numbers}
              hasMore={report.hasNextPage}
              loadingMore={report.isFetchingNextPage}
              onMore={() => void report.fetchNextPage()}
            />
          </>
        )}
      </section>

      {!missing && (
        <MigratePanel
          templateName={templateName}
          toVersionId={versionId}
          targetLabel={targetInText}
          filters={filters}
          numbers={numbers}
        />
      )}
    </section>
  );
}

/**
 * The impact report of a template's version (versions.md, "Impact report"): which unfinished runs
 * moving onto it would touch and how, filtered by status and current version; and "Migrate these…",
 * a batch migration of the same runs, previewed by a dry run first.
 */
export default function ImpactPage() {
  const { templateName = '', versionId = '' } = useParams();
  // Another template or version is a new page: its preview and migration start afresh.
  return (
    <ImpactView
      key={`${templateName}/${versionId}`}
      templateName={templateName}
      versionId={versionId}
    />
  );
}
