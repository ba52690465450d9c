import { Link, useSearchParams } from 'react-router';
import { ErrorNotice, Loading } from '../layout/Status';
import { isRunStatus } from '../runs/present';
import { useRunList, type RunFilters } from '../runs/queries';
import { RunList } from '../runs/RunList';
import { RunsFilterBar } from '../runs/RunsFilterBar';
import { useDocumentTitle } from '../util/title';
import '../runs/runs.css';

/** The filters live in the address (`?status=…&template=…&project=…`): links and reloads keep them. */
function filtersOf(search: URLSearchParams): RunFilters {
  const status = search.get('status');
  const template = search.get('template');
  const project = search.get('project');
  return {
    status: isRunStatus(status) ? status : null,
    template: template !== null && template !== '' ? template : null,
    project: project !== null && project !== '' ? project : null,
  };
}

/**
 * All of the person's runs: those waiting for them first (they are the ones to act on), then
 * every run newest first, without repeating a waiting run already listed above.
 */
export default function RunsPage() {
  useDocumentTitle('Runs');
  const [search, setSearch] = useSearchParams();
  const filters = filtersOf(search);
  // The waiting section is the awaiting_input slice of the same filters; under another status
  // filter it would be empty, and under "waiting" alone it is the whole answer.
  const showWaiting = filters.status === null || filters.status === 'awaiting_input';
  const showAll = filters.status !== 'awaiting_input';
  const waiting = useRunList({ ...filters, status: 'awaiting_input' }, showWaiting);
  const all = useRunList(filters, showAll);

  const waitingRuns = showWaiting ? (waiting.data?.pages.flatMap((page) => page.items) ?? []) : [];
  const shownAbove = new Set(waitingRuns.map((run) => run.workflow_run_id));
  const allRuns = (all.data?.pages.flatMap((page) => page.items) ?? []).filter(
    (run) => !shownAbove.has(run.workflow_run_id),
  );

  const setFilters = (next: RunFilters) => {
    const params = new URLSearchParams();
    if (next.status !== null) params.set('status', next.status);
    if (next.template !== null) params.set('template', next.template);
    if (next.project !== null) params.set('project', next.project);
    setSearch(params, { replace: true });
  };

  const filtered = filters.status !== null || filters.template !== null || filters.project !== null;
  const waitingSettled = !showWaiting || waiting.isSuccess;
  const allSettled = !showAll || all.isSuccess;
  const nothingAtAll =
    waitingSettled &&
    allSettled &&
    waitingRuns.length === 0 &&
    allRuns.length === 0 &&
    !(showAll && all.hasNextPage);

  return (
    <section className="page runs-page" aria-labelledby="runs-heading">
      <div className="page-head">
        <h1 id="runs-heading">Runs</h1>
      </div>
      <RunsFilterBar filters={filters} onChange={setFilters} />
      {nothingAtAll && (
        <div className="notice" role="status">
          {filtered ? (
            <p>No runs match these filters.</p>
          ) : (
            <p>
              You have no runs yet. Start one from a <Link to="/templates">template</Link>.
            </p>
          )}
        </div>
      )}
      {showWaiting && !nothingAtAll && (
        <section className="runs-section" aria-labelledby="runs-waiting-heading">
          <h2 id="runs-waiting-heading">Waiting for you</h2>
          {waiting.isPending && <Loading label="Loading the runs waiting for you" />}
          {waiting.isError && (
            <ErrorNotice error={waiting.error} title="The waiting runs could not be loaded" />
          )}
          {waiting.isSuccess && waitingRuns.length === 0 && (
            <p className="muted">No run is waiting for you{filtered ? ' (filtered)' : ''}.</p>
          )}
          <RunList
            label="Runs waiting for you"
            runs={waitingRuns}
            hasMore={waiting.hasNextPage}
            loadingMore={waiting.isFetchingNextPage}
            onMore={() => void waiting.fetchNextPage()}
          />
        </section>
      )}
      {showAll && !nothingAtAll && (
        <section className="runs-section" aria-labelledby="runs-all-heading">
          <h2 id="runs-all-heading">{showWaiting ? 'All runs' : 'Runs'}</h2>
          {all.isPending && <Loading label="Loading your runs" />}
          {all.isError && <ErrorNotice error={all.error} title="Your runs could not be loaded" />}
          {all.isSuccess && allRuns.length === 0 && !all.hasNextPage && (
            <p className="muted">
              {showWaiting && waitingRuns.length > 0
                ? 'No other runs.'
                : 'No runs match these filters.'}
            </p>
          )}
          <RunList
            label="All runs, newest first"
            runs={allRuns}
            hasMore={all.hasNextPage}
            loadingMore={all.isFetchingNextPage}
            onMore={() => void all.fetchNextPage()}
          />
        </section>
      )}
    </section>
  );
}
