import { Link } from 'react-router';
import type { components } from '@stepwise/client';
import { ErrorNotice, Loading } from '../layout/Status';
import { clockTime, fullTime } from './format';
import { useBranches } from './queries';

type Branch = components['schemas']['Branch'];

/** The seq a branch left its parent at: the last of its lineage (null for the first branch). */
function branchPointSeq(branch: Branch): number | null {
  return branch.lineage.at(-1)?.until_seq ?? null;
}

function BranchNode({
  branch,
  tree,
  shownId,
  activeId,
}: {
  branch: Branch;
  tree: ReadonlyMap<string | null, Branch[]>;
  shownId: string;
  activeId: string;
}) {
  const shown = branch.branch_id === shownId;
  const active = branch.branch_id === activeId;
  const from = branchPointSeq(branch);
  const below = tree.get(branch.branch_id) ?? [];
  // The active branch is the page's default view: its link carries no parameter.
  const to = { search: active ? '' : `?branch=${encodeURIComponent(branch.branch_id)}` };
  return (
    <li className="branch-node">
      <div className={`branch-item${shown ? ' branch-shown' : ''}`}>
        <Link to={to} aria-current={shown ? 'true' : undefined} className="branch-link">
          <span className="mono">{branch.branch_id}</span>
        </Link>
        {active && <span className="badge badge-active">active</span>}
        {shown && <span className="badge">shown</span>}
        <span className="branch-meta">
          {from === null ? 'the first branch' : `from after event ${from}`} · made{' '}
          <time dateTime={branch.created_at} title={fullTime(branch.created_at)}>
            {clockTime(branch.created_at)}
          </time>
        </span>
      </div>
      {below.length > 0 && (
        <ul className="branch-tree">
          {below.map((child) => (
            <BranchNode
              key={child.branch_id}
              branch={child}
              tree={tree}
              shownId={shownId}
              activeId={activeId}
            />
          ))}
        </ul>
      )}
    </li>
  );
}

/**
 * The run's branches as a tree (a branch under the one it was made from), the active one and
 * the one shown marked in words; choosing one shows its timeline.
 */
export function BranchTree({
  runId,
  shownId,
  activeId,
}: {
  runId: string;
  shownId: string;
  activeId: string;
}) {
  const branches = useBranches(runId);
  const items = branches.data ?? [];
  const tree = new Map<string | null, Branch[]>();
  const known = new Set(items.map((branch) => branch.branch_id));
  for (const branch of items) {
    // A parent that is not listed (it should always be) puts the branch at the top.
    const parent =
      branch.parent_branch_id !== null && known.has(branch.parent_branch_id)
        ? branch.parent_branch_id
        : null;
    tree.set(parent, [...(tree.get(parent) ?? []), branch]);
  }
  const roots = tree.get(null) ?? [];
  return (
    <section className="run-panel" aria-labelledby="branches-heading">
      <h2 id="branches-heading">Branches</h2>
      {branches.isPending && <Loading label="Loading the branches" />}
      {branches.isError && <ErrorNotice error={branches.error} />}
      {items.length === 1 && (
        <p className="muted">
          One branch: no question has been answered again from an earlier point.
        </p>
      )}
      {roots.length > 0 && (
        <ul className="branch-tree branch-root" aria-label="Branch tree">
          {roots.map((branch) => (
            <BranchNode
              key={branch.branch_id}
              branch={branch}
              tree={tree}
              shownId={shownId}
              activeId={activeId}
            />
          ))}
        </ul>
      )}
    </section>
  );
}
