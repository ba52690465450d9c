import {
  BadRequestError,
  type InboxItem,
  type InboxPage,
  type InboxQuery,
  type InboxSort,
  type PendingInteraction,
  type WorkflowRunRecord,
} from '@stepwise/shared';
import type { Models } from '@stepwise/shared/node';

/**
 * The caller's inbox: every interaction waiting for them, across their runs (people.md, "Inbox").
 *
 * A run waits on at most one interaction, held in `pending_interaction` while its status is
 * `awaiting_input`, so the inbox is a query over the runs collection alone, served by the
 * `{user_id, status, updated_at, workflow_run_id}` index: no event log is read.
 *
 * `waiting_since` is the run's `updated_at`. The commit that asks a question writes the
 * `interaction_requested` event with the commit's time and sets `updated_at` to that same time;
 * every later commit of the run either answers, cancels, retries or branches (all of which leave
 * `awaiting_input`) or asks a new question (a new interaction, waiting since then), and refused
 * commands do not touch `updated_at`. So for a waiting run `updated_at` is the time of its
 * question, it is indexed, and sorting and paging on it needs no join. Reminders are the
 * exception: they commit `reminder_sent` while the run waits. A question with a deadline carries
 * `deadline.asked_at`, which gives `waiting_since` when present; sorting and paging still use
 * `updated_at`, so a reminded question moves towards the newest end of
 * the `oldest` order (it was brought to someone's attention again); its `waiting_since` is true.
 */

type WaitingRun = Pick<
  WorkflowRunRecord,
  | 'workflow_run_id'
  | 'workflow_template_name'
  | 'project_name'
  | 'current_version_id'
  | 'updated_at'
> & { pending_interaction: PendingInteraction };

const itemProjection = {
  _id: 0,
  workflow_run_id: 1,
  workflow_template_name: 1,
  project_name: 1,
  current_version_id: 1,
  pending_interaction: 1,
  updated_at: 1,
} as const;

export function inboxItemOf(run: WaitingRun): InboxItem {
  return {
    workflow_run_id: run.workflow_run_id,
    workflow_template_name: run.workflow_template_name,
    project_name: run.project_name,
    workflow_version_id: run.current_version_id,
    pending_interaction: {
      interaction_id: run.pending_interaction.interaction_id,
      module_id: run.pending_interaction.module_id,
      step_id: run.pending_interaction.step_id,
      module_name: run.pending_interaction.module_name,
      request: run.pending_interaction.request,
      ...(run.pending_interaction.deadline ? { deadline: run.pending_interaction.deadline } : {}),
    },
    waiting_since: run.pending_interaction.deadline?.asked_at ?? run.updated_at.toISOString(),
  };
}

interface Position {
  time: Date;
  runId: string;
}

/** The cursor names its sort, so that a cursor of one order is refused in the other. */
function encodeCursor(sort: InboxSort, run: WaitingRun): string {
  return Buffer.from(`${sort}:${run.updated_at.getTime()}:${run.workflow_run_id}`).toString(
    'base64url',
  );
}

function decodeCursor(sort: InboxSort, cursor: string): Position {
  const [cursorSort, time, runId, ...rest] = Buffer.from(cursor, 'base64url')
    .toString('utf8')
    .split(':');
  const at = new Date(Number(time));
  if (
    cursorSort !== sort ||
    rest.length > 0 ||
    !runId ||
    !/^\d{1,15}$/.test(time ?? '') ||
    Number.isNaN(at.getTime())
  ) {
    throw new BadRequestError('invalid cursor', [
      {
        path: 'query.cursor',
        message: 'not a cursor this API gave out for this sort',
      },
    ]);
  }
  return { time: at, runId };
}

export async function listInbox(
  models: Models,
  userId: string,
  query: InboxQuery,
): Promise<InboxPage> {
  const filter: Record<string, unknown> = {
    user_id: userId,
    status: 'awaiting_input',
    pending_interaction: { $type: 'object' },
    // A run being deleted asks nobody anything any more.
    deletion_id: { $exists: false },
  };
  if (query.workflow_template_name) filter['workflow_template_name'] = query.workflow_template_name;
  if (query.project_name) filter['project_name'] = query.project_name;
  const direction = query.sort === 'oldest' ? 1 : -1;
  const paged: Record<string, unknown> = { ...filter };
  if (query.cursor) {
    const after = decodeCursor(query.sort, query.cursor);
    const beyond = direction === 1 ? '$gt' : '$lt';
    paged['$or'] = [
      { updated_at: { [beyond]: after.time } },
      { updated_at: after.time, workflow_run_id: { [beyond]: after.runId } },
    ];
  }
  const [runs, total] = await Promise.all([
    models.runs
      .find(paged)
      .select(itemProjection)
      .sort({ updated_at: direction, workflow_run_id: direction })
      .limit(query.limit + 1)
      .lean<WaitingRun[]>(),
    models.runs.countDocuments(filter),
  ]);
  const page = runs.slice(0, query.limit);
  const last = page.at(-1);
  return {
    items: page.map(inboxItemOf),
    next_cursor: runs.length > query.limit && last ? encodeCursor(query.sort, last) : null,
    total,
  };
}
