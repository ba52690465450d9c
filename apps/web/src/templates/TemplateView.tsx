import { Link } from 'react-router';
import { ApiError } from '../api/client';
import { ErrorNotice, Loading } from '../layout/Status';
import { useDocumentTitle } from '../util/title';
import { StartRunForm } from './StartRunForm';
import { SubmitWorkflow } from './SubmitWorkflow';
import { useTemplateDetail } from './queries';
import { VersionsTable } from './VersionsTable';

/** One template: start a run of it, its versions (newest first), and submit a new one. */
export function TemplateView({ name }: { name: string }) {
  useDocumentTitle(name);
  const detail = useTemplateDetail(name);
  const breadcrumbs = (
    <p className="breadcrumbs">
      <Link to="/templates">Templates</Link>
      <span aria-hidden="true"> / </span>
      <span>{name}</span>
    </p>
  );

  if (detail.isPending || detail.isError) {
    const missing =
      detail.error instanceof ApiError &&
      (detail.error.status === 404 || detail.error.status === 400);
    return (
      <section className="page templates-page" aria-labelledby="template-heading">
        {breadcrumbs}
        <h1 id="template-heading">{name}</h1>
        {detail.isPending && <Loading label="Loading the template" />}
        {detail.isError && (
          <ErrorNotice
            error={detail.error}
            title={
              missing ? `You have no template named ${name}` : 'The template could not be loaded'
            }
          />
        )}
      </section>
    );
  }

  const [first] = detail.data.pages;
  const template = first ?? null;
  const versions = detail.data.pages.flatMap((page) => page.versions);
  const title = template?.display_name ?? name;
  return (
    <section className="page templates-page" aria-labelledby="template-heading">
      {breadcrumbs}
      <div className="page-head">
        <h1 id="template-heading">{title}</h1>
        {template !== null && (
          <p className="muted template-summary">
            {title !== name && (
              <>
                <code>{name}</code> ·{' '}
              </>
            )}
            {template.version_count} {template.version_count === 1 ? 'version' : 'versions'} ·{' '}
            <Link to={`/runs?template=${encodeURIComponent(name)}`}>Runs of this template</Link>
          </p>
        )}
      </div>
      {template !== null && template.latest_version_id !== null && (
        <StartRunForm template={template} versions={versions} />
      )}
      <section className="settings-section" aria-labelledby="versions-heading">
        <h2 id="versions-heading">Versions</h2>
        {versions.length === 0 ? (
          <p className="muted">This template has no versions.</p>
        ) : (
          <VersionsTable
            templateName={name}
            versions={versions}
            latestId={template?.latest_version_id ?? null}
          />
        )}
        {detail.hasNextPage && (
          <div className="load-more">
            <button
              type="button"
              className="button"
              onClick={() => void detail.fetchNextPage()}
              disabled={detail.isFetchingNextPage}
            >
              {detail.isFetchingNextPage ? 'Loading…' : 'Show older versions'}
            </button>
          </div>
        )}
      </section>
      <SubmitWorkflow />
    </section>
  );
}
