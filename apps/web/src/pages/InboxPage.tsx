import { useEffect, useState } from 'react';
import { Link, useLocation, useSearchParams } from 'react-router';
import type { components } from '@stepwise/client';
import { questionText } from '../api/requests';
import { DeadlineNote } from '../answer/DeadlineNote';
import { InboxFilterBar } from '../inbox/InboxFilterBar';
import { useInbox, type InboxFilters, type InboxSort } from '../inbox/queries';
import { ErrorNotice, Loading } from '../layout/Status';
import { noticeOf } from '../util/notice';
import { formatDateTime, waitedFor } from '../util/time';

type InboxItem = components['schemas']['InboxItem'];

/** The filters live in the address (`?sort=newest&template=…&project=…`): links and reloads keep them. */
function filtersOf(search: URLSearchParams): InboxFilters {
  const sort: InboxSort = search.get('sort') === 'newest' ? 'newest' : 'oldest';
  const template = search.get('template');
  const project = search.get('project');
  return {
    sort,
    template: template !== null && template !== '' ? template : null,
    project: project !== null && project !== '' ? project : null,
  };
}

/** A clock that ticks each minute, so "waiting 3 minutes" stays true while the page is open. */
function useMinuteClock(): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), 60_000);
    return () => clearInterval(timer);
  }, []);
  return now;
}

function InboxRow({ item, now }: { item: InboxItem; now: number }) {
  const interaction = item.pending_interaction;
  const question = questionText(interaction);
  return (
    <li className="inbox-row">
      <Link
        className="inbox-link"
        to={`/runs/${encodeURIComponent(item.workflow_run_id)}/interactions/${encodeURIComponent(interaction.interaction_id)}`}
      >
        <span className="inbox-question">{question}</span>
        <span className="inbox-meta">
          <span className="tag">{item.workflow_template_name}</span>
          <span className="inbox-project">
            <span className="visually-hidden">project </span>
            {item.project_name}
          </span>
          <span className="inbox-module">
            <span className="visually-hidden">module </span>
            {interaction.module_name}
          </span>
          <time dateTime={item.waiting_since} title={formatDateTime(item.waiting_since)}>
            waiting {waitedFor(item.waiting_since, now)}
          </time>
          {interaction.deadline && <DeadlineNote deadline={interaction.deadline} short />}
        </span>
      </Link>
    </li>
  );
}

export function InboxPage() {
  const [search, setSearch] = useSearchParams();
  const location = useLocation();
  const notice = noticeOf(location.state);
  const filters = filtersOf(search);
  const inbox = useInbox(filters);
  const now = useMinuteClock();
  const total = inbox.data?.pages[0]?.total;
  const items = inbox.data?.pages.flatMap((page) => page.items) ?? [];

  useEffect(() => {
    document.title = total === undefined ? 'Inbox · Stepwise' : `(${total}) Inbox · Stepwise`;
  }, [total]);

  const setFilters = (next: InboxFilters) => {
    const params = new URLSearchParams();
    if (next.sort !== 'oldest') params.set('sort', next.sort);
    if (next.template !== null) params.set('template', next.template);
    if (next.project !== null) params.set('project', next.project);
    setSearch(params, { replace: true });
  };

  const filtered = filters.template !== null || filters.project !== null;
  const summary =
    total === undefined
      ? ''
      : total === 0
        ? filtered
          ? 'Nothing waiting that matches these filters.'
          : 'Nothing is waiting for you.'
        : `${total} ${total === 1 ? 'question waits' : 'questions wait'} for you${filtered ? ' (filtered)' : ''}.`;

  return (
    <section className="page" aria-labelledby="inbox-heading">
      <div className="page-head">
        <h1 id="inbox-heading">Inbox</h1>
        {/* Announced when the list changes under the person: a question arrived or left. */}
        <p
          className="inbox-summary"
          aria-live="polite"
          aria-atomic="true"
          data-testid="inbox-count"
        >
          {summary}
        </p>
      </div>
      <div role="status">{notice && <p className="notice notice-success">{notice}</p>}</div>
      <InboxFilterBar filters={filters} onChange={setFilters} />
      {inbox.isPending && <Loading label="Loading your inbox" />}
      {inbox.isError && <ErrorNotice error={inbox.error} title="The inbox could not be loaded" />}
      {items.length > 0 && (
        <ul className="inbox-list" aria-label="Waiting questions">
          {items.map((item) => (
            <InboxRow key={item.pending_interaction.interaction_id} item={item} now={now} />
          ))}
        </ul>
      )}
      {inbox.hasNextPage && (
        <div className="load-more">
          <button
            type="button"
            className="button"
            onClick={() => void inbox.fetchNextPage()}
            disabled={inbox.isFetchingNextPage}
          >
            {inbox.isFetchingNextPage
              ? 'Loading…'
              : `Show more (${items.length} of ${total ?? '?'} shown)`}
          </button>
        </div>
      )}
    </section>
  );
}
