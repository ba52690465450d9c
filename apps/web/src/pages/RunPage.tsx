import { useCallback, useEffect, useRef, useState } from 'react';
import { Link, useLocation, useParams, useSearchParams } from 'react-router';
import { ApiError } from '../api/client';
import type { Run } from '../answer/useAnswer';
import { useSession } from '../auth/session';
import { ErrorNotice, Loading } from '../layout/Status';
import { ArtifactsSection } from '../run/Artifacts';
import { BranchTree } from '../run/BranchTree';
import { useRun } from '../run/queries';
import { RunActions, RunSummary } from '../run/RunHeader';
import { BranchTimeline } from '../run/Timeline';
import type { Viewer } from '../run/timeline-presenter';
import { UsageSection } from '../run/Usage';
import { noticeOf } from '../util/notice';
import { useDocumentTitle } from '../util/title';
import '../run/run.css';

/**
 * A run as a person follows it: where it stands, its timeline (a branch's events, newest page
 * first, live), the branch tree, its files and what it cost; answering again from an earlier
 * question, retrying a module with feedback, cancelling. The branch shown is in the address
 * (`?branch=…`; the active one without it).
 */
export default function RunPage() {
  const { runId = '' } = useParams();
  const [search, setSearch] = useSearchParams();
  const run = useRun(runId);
  const session = useSession();
  const location = useLocation();
  // What the page that sent the person here said (a run started, a version switched), until the
  // page has something of its own to say.
  const arrivalNotice = noticeOf(location.state);
  // The page's own notice counts how often it was said: the same text said again (a second retry
  // of the same module) is announced and focused again too.
  const [ownNotice, setOwnNotice] = useState<{ text: string; said: number } | null>(null);
  const say = useCallback((text: string) => {
    setOwnNotice((previous) => ({ text, said: (previous?.said ?? 0) + 1 }));
  }, []);
  const notice = ownNotice?.text ?? arrivalNotice;
  const noticeRef = useRef<HTMLParagraphElement>(null);
  useDocumentTitle(run.data ? `Run of ${run.data.workflow_template_name}` : 'Run');

  // A notice is announced, and focus goes to it (the control that was used may be gone): once the
  // run is shown (the notice is part of it), on each arrival and each time the page says something.
  const shown = run.data !== undefined;
  const saidCount = ownNotice?.said ?? 0;
  useEffect(() => {
    if (shown && notice !== null) noticeRef.current?.focus();
  }, [shown, notice, saidCount, location.key]);

  if (run.isPending) {
    return (
      <section className="page">
        <h1>Run</h1>
        <Loading label="Loading the run" />
      </section>
    );
  }
  if (run.isError) {
    return (
      <section className="page">
        <h1>Run</h1>
        <ErrorNotice
          error={run.error}
          title={
            run.error instanceof ApiError && (run.error.status === 404 || run.error.status === 400)
              ? 'There is no such run'
              : undefined
          }
        />
        <p>
          <Link to="/runs">All runs</Link>
        </p>
      </section>
    );
  }

  const data = run.data;
  const user = session.data?.user;
  const viewer: Viewer | null = user ? { userId: user.user_id, username: user.username } : null;
  const shownBranch = search.get('branch') ?? data.active_branch_id;
  const onBranched = (next: Run) => {
    // The new branch is the active one: show it (the default view).
    setSearch(new URLSearchParams(), { replace: false });
    say(
      next.pending_interaction
        ? 'A new branch starts before that question, and it is now the active one: answer the question again.'
        : 'A new branch starts before that question, and it is now the active one.',
    );
  };

  return (
    <section className="page run-page" aria-labelledby="run-heading">
      <p className="breadcrumbs">
        <Link to="/runs">Runs</Link>
        <span aria-hidden="true"> / </span>
        <span>{data.workflow_template_name}</span>
      </p>
      <div className="page-head">
        <h1 id="run-heading">Run of {data.workflow_template_name}</h1>
      </div>
      <div role="status">
        {notice !== null && (
          <p className="notice notice-success" ref={noticeRef} tabIndex={-1}>
            {notice}
          </p>
        )}
      </div>
      <RunSummary run={data} />
      <RunActions run={data} onNotice={say} />
      <div className="run-layout">
        <BranchTimeline
          key={shownBranch}
          run={data}
          branchId={shownBranch}
          viewer={viewer}
          onBranched={onBranched}
          onRetried={say}
        />
        <div className="run-side">
          <BranchTree runId={runId} shownId={shownBranch} activeId={data.active_branch_id} />
          <UsageSection runId={runId} />
          <ArtifactsSection runId={runId} />
        </div>
      </div>
    </section>
  );
}
