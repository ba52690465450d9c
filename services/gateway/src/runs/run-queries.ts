import {
  NotFoundError,
  replayEvents,
  type BranchRecord,
  type EventRecord,
  type RunStatus,
  type WorkflowRunRecord,
} from '@stepwise/shared';
import { readOneExact, visibleEventsFilter, type Models } from '@stepwise/shared/node';
import { afterTimeCursor, decodeTimeCursor, encodeTimeCursor } from '../http/page-cursor.js';
import { eventView, runProjection, runView } from './run-views.js';

export async function findRun(
  models: Models,
  userId: string,
  runId: string,
  projection: Readonly<Record<string, 0 | 1>> = runProjection,
): Promise<WorkflowRunRecord> {
  // The most frequent read of all, without mongoose's query machinery (building, casting, then
  // `lean`) or a cursor: each cost more CPU than the read itself (docs/performance.md, gateway reads).
  const run = await readOneExact<WorkflowRunRecord & BeingDeleted>(
    models.runs,
    { workflow_run_id: runId, user_id: userId },
    withDeletionMark(projection),
  );
  if (!run || isBeingDeleted(run)) throw new NotFoundError('run', runId);
  return run;
}

/** A run being deleted carries the deletion's id (docs/deletion-and-retention.md). */
interface BeingDeleted {
  deletion_id?: string;
}

/** A run being deleted is gone to every route, as one that never existed. */
export function isBeingDeleted(run: BeingDeleted): boolean {
  return typeof run.deletion_id === 'string';
}

/** The filter that leaves runs being deleted out of a list. */
export const notBeingDeleted = { deletion_id: { $exists: false } } as const;

/** A projection that also reads the deletion mark (an inclusive one names it; others keep it). */
function withDeletionMark(
  projection: Readonly<Record<string, 0 | 1>>,
): Readonly<Record<string, 0 | 1>> {
  return Object.values(projection).includes(1) ? { ...projection, deletion_id: 1 } : projection;
}

export async function listRuns(
  models: Models,
  userId: string,
  query: {
    status?: RunStatus | undefined;
    template?: string | undefined;
    project_name?: string | undefined;
    limit: number;
    cursor?: string | undefined;
  },
) {
  const filter: Record<string, unknown> = { user_id: userId, ...notBeingDeleted };
  if (query.status) filter['status'] = query.status;
  if (query.project_name) filter['project_name'] = query.project_name;
  if (query.template) {
    const template = await models.templates
      .findOne({ user_id: userId, workflow_template_name: query.template })
      .lean();
    if (!template) return { items: [], next_cursor: null };
    filter['workflow_template_id'] = template.workflow_template_id;
  }
  if (query.cursor)
    Object.assign(
      filter,
      afterTimeCursor(decodeTimeCursor(query.cursor, 'run'), 'workflow_run_id'),
    );
  const runs = await models.runs
    .find(filter)
    .select(runProjection)
    .sort({ created_at: -1, workflow_run_id: -1 })
    .limit(query.limit + 1)
    .lean<WorkflowRunRecord[]>();
  const page = runs.slice(0, query.limit);
  const last = page.at(-1);
  return {
    items: page.map(runView),
    next_cursor:
      runs.length > query.limit && last
        ? encodeTimeCursor({ createdAt: last.created_at, id: last.workflow_run_id })
        : null,
  };
}

async function findBranch(
  models: Models,
  run: WorkflowRunRecord,
  branchId: string | undefined,
): Promise<BranchRecord> {
  const id = branchId ?? run.active_branch_id;
  const branch = await models.branches
    .findOne({ branch_id: id, workflow_run_id: run.workflow_run_id })
    .lean();
  if (!branch) throw new NotFoundError('branch', id);
  return branch;
}

export async function listEvents(
  models: Models,
  userId: string,
  runId: string,
  query: {
    branch_id?: string | undefined;
    after_seq: number;
    before_seq?: number | undefined;
    limit: number;
  },
) {
  const run = await findRun(models, userId, runId);
  const branch = await findBranch(models, run, query.branch_id);
  const filter = visibleEventsFilter(branch);
  if (query.before_seq !== undefined) {
    const events = await readBackwards(models, filter, {
      floor: query.after_seq,
      below: Math.min(query.before_seq, run.last_seq + 1),
      limit: query.limit,
    });
    const first = events[0];
    return {
      items: events.map(eventView),
      next_after_seq: null,
      // A full page may have more before it, unless it already reaches the floor (seq 1 first).
      next_before_seq:
        events.length === query.limit && first && first.seq > query.after_seq + 1
          ? first.seq
          : null,
    };
  }
  // Read in bounded seq windows, so the work follows the page and not the length of the log. The
  // first window is as wide as the page: a branch alone in its run fills it exactly (seq has no
  // gaps). Where other branches' events share the range, wider windows follow until the page is
  // full or the log ends.
  const events: EventRecord[] = [];
  let from = query.after_seq;
  let width = query.limit;
  while (events.length < query.limit && from < run.last_seq) {
    const to = Math.min(from + width, run.last_seq);
    const window = await models.events
      .find({ ...filter, seq: { $gt: from, $lte: to } })
      .sort({ seq: 1 })
      .limit(query.limit - events.length)
      .lean<EventRecord[]>();
    events.push(...window);
    from = to;
    width *= 2;
  }
  const last = events.at(-1);
  return {
    items: events.map(eventView),
    next_after_seq: events.length === query.limit && last ? last.seq : null,
    next_before_seq: null,
  };
}

/**
 * The newest `limit` events of the filter with `floor < seq < below`, oldest first: the same
 * bounded windows as forward paging, walking down from the end (a timeline opens at its end).
 */
async function readBackwards(
  models: Models,
  filter: Record<string, unknown>,
  range: { floor: number; below: number; limit: number },
): Promise<EventRecord[]> {
  const newestFirst: EventRecord[] = [];
  let to = range.below;
  let width = range.limit;
  while (newestFirst.length < range.limit && to - 1 > range.floor) {
    const from = Math.max(to - 1 - width, range.floor);
    const window = await models.events
      .find({ ...filter, seq: { $gt: from, $lt: to } })
      .sort({ seq: -1 })
      .limit(range.limit - newestFirst.length)
      .lean<EventRecord[]>();
    newestFirst.push(...window);
    to = from + 1;
    width *= 2;
  }
  return newestFirst.reverse();
}

export async function readState(
  models: Models,
  userId: string,
  runId: string,
  branchId: string | undefined,
) {
  const run = await models.runs
    .findOne({ workflow_run_id: runId, user_id: userId })
    .select({ outbox: 0 })
    .lean<WorkflowRunRecord & BeingDeleted>();
  if (!run || isBeingDeleted(run)) throw new NotFoundError('run', runId);
  const branch = await findBranch(models, run, branchId);
  if (branch.branch_id === run.active_branch_id) {
    return {
      state: run.snapshot.state,
      branch_id: branch.branch_id,
      as_of_seq: run.snapshot.as_of_seq,
    };
  }
  // Another branch: fold its visible events (branches other than the active one are read rarely).
  const events = await models.events
    .find(visibleEventsFilter(branch))
    .sort({ seq: 1 })
    .lean<EventRecord[]>();
  const snapshot = replayEvents(branch.branch_id, events);
  return { state: snapshot.state, branch_id: branch.branch_id, as_of_seq: snapshot.as_of_seq };
}
