import { idPattern, type BranchView, type EventView, type RunView } from '@stepwise/shared';
import { ApiClient, CliError } from './api-client.js';
import { formatTime, positionOf, print, table } from './format.js';
import {
  COMMAND_WAIT_MS,
  afterAccepted,
  describeRun,
  exitCodeFor,
  untilItStops,
} from './run-view.js';

const runPath = (runId: string) => `/v1/runs/${encodeURIComponent(runId)}`;

/**
 * A command's answer: 200 (or 201) is the run at rest, or still working on an outside job; a 202
 * may not be applied yet, so the run is read until its log grew past where it stood before.
 */
async function settled(
  client: ApiClient,
  response: { status: number; body: RunView },
  lastSeqBefore: number,
): Promise<RunView> {
  return response.status === 202
    ? afterAccepted(client, response.body, lastSeqBefore)
    : untilItStops(client, response.body);
}

interface RunsOptions {
  status?: string;
  template?: string;
  project?: string;
  limit?: string;
}

async function listRuns(client: ApiClient, filters: Record<string, string>): Promise<RunView[]> {
  const { body } = await client.request<{ items: RunView[] }>(
    'GET',
    `/v1/runs?${new URLSearchParams(filters).toString()}`,
  );
  return body.items;
}

/**
 * `stepwise runs`: the runs waiting for you first (they are what needs you), then the others,
 * newest first, up to --limit in all. With --status, only runs in that status.
 */
export async function runs(options: RunsOptions): Promise<void> {
  const limit = Number(options.limit ?? '20');
  if (!Number.isInteger(limit) || limit < 1 || limit > 100)
    throw new CliError('--limit wants a whole number from 1 to 100');
  const client = await ApiClient.fromStoredLogin();
  const filters: Record<string, string> = { limit: String(limit) };
  if (options.template) filters['template'] = options.template;
  if (options.project) filters['project_name'] = options.project;
  const found: RunView[] = [];
  if (options.status) {
    found.push(...(await listRuns(client, { ...filters, status: options.status })));
  } else {
    found.push(...(await listRuns(client, { ...filters, status: 'awaiting_input' })));
    const shown = new Set(found.map((run) => run.workflow_run_id));
    for (const run of await listRuns(client, filters))
      if (!shown.has(run.workflow_run_id)) found.push(run);
  }
  const rows = found
    .slice(0, limit)
    .map((run) => [
      run.workflow_run_id,
      run.workflow_template_name,
      run.status,
      run.project_name,
      positionOf(run.current_step, run.current_module),
      formatTime(run.updated_at),
    ]);
  if (rows.length === 0) {
    print('no runs');
    return;
  }
  for (const line of table([
    ['RUN', 'TEMPLATE', 'STATUS', 'PROJECT', 'POSITION', 'UPDATED'],
    ...rows,
  ]))
    print(line);
}

/** The event at `seq` among the run's active branch's events, or null. */
async function eventAtSeq(
  client: ApiClient,
  runId: string,
  seq: number,
): Promise<EventView | null> {
  const { body } = await client.request<{ items: EventView[] }>(
    'GET',
    `${runPath(runId)}/events?after_seq=${seq - 1}&limit=1`,
  );
  const event = body.items[0];
  return event?.seq === seq ? event : null;
}

/**
 * `stepwise branch RUN SEQ|EVENT_ID`: forks the run at one of its events (a seq of its active
 * branch, as `stepwise events` prints, or an event id) and makes the fork the active branch.
 */
export async function branch(
  runId: string,
  from: string,
  options: { reuseAnswers?: boolean } = {},
): Promise<void> {
  const client = await ApiClient.fromStoredLogin();
  const before = await client.run(runId);
  let eventId = from;
  let label = from;
  if (/^\d+$/.test(from)) {
    const event = await eventAtSeq(client, runId, Number(from));
    if (!event)
      throw new CliError(
        `${runId} has no event with seq ${from} on its active branch (${before.active_branch_id}); ` +
          `\`stepwise events ${runId} --no-follow\` lists them`,
        'NO_SUCH_EVENT',
      );
    eventId = event.event_id;
    label = `seq ${from} (${event.event_type}${event.step_id ? ` at ${positionOf(event.step_id, event.module_name)}` : ''}, ${event.event_id})`;
  } else if (!idPattern('event').test(from)) {
    throw new CliError(`'${from}' is neither a seq (a number) nor an event id (evt_…)`);
  }
  const response = await client.request<{ branch: BranchView | null; run: RunView }>(
    'POST',
    `${runPath(runId)}/branches?wait_ms=${COMMAND_WAIT_MS}`,
    {
      json: {
        from_event_id: eventId,
        ...(options.reuseAnswers === true ? { reuse_answers: true } : {}),
      },
    },
    [202],
  );
  const run = await settled(
    client,
    { status: response.status, body: response.body.run },
    before.last_seq,
  );
  print(`branched from ${label}: now on branch ${run.active_branch_id}`);
  print(describeRun(run));
  exitCodeFor(run);
}

/** `stepwise retry RUN STEP [--module M] [--feedback TEXT]`: runs a step (or module) again. */
export async function retry(
  runId: string,
  stepId: string,
  options: { module?: string; feedback?: string; reuseAnswers?: boolean },
): Promise<void> {
  const client = await ApiClient.fromStoredLogin();
  const before = await client.run(runId);
  const response = await client.request<RunView>(
    'POST',
    `${runPath(runId)}/retry?wait_ms=${COMMAND_WAIT_MS}`,
    {
      json: {
        step_id: stepId,
        ...(options.module ? { module_name: options.module } : {}),
        ...(options.feedback !== undefined ? { feedback: options.feedback } : {}),
        ...(options.reuseAnswers === true ? { reuse_answers: true } : {}),
      },
    },
    [202],
  );
  const run = await settled(client, response, before.last_seq);
  print(
    `retried ${options.module ? `${stepId}.${options.module}` : stepId}${options.feedback !== undefined ? ' with your feedback' : ''}`,
  );
  print(describeRun(run));
  exitCodeFor(run);
}

/** `stepwise cancel RUN`. */
export async function cancel(runId: string): Promise<void> {
  const client = await ApiClient.fromStoredLogin();
  const before = await client.run(runId);
  const response = await client.request<RunView>(
    'POST',
    `${runPath(runId)}/cancel?wait_ms=${COMMAND_WAIT_MS}`,
    undefined,
    [202],
  );
  const run = await settled(client, response, before.last_seq);
  print(describeRun(run));
}
