import { select } from '@inquirer/prompts';
import type { EventView, ResumeChoice, RunView, VersionChangeView } from '@stepwise/shared';
import { ApiClient, CliError } from './api-client.js';
import { readSubmission } from './bundle.js';
import { print } from './format.js';
import {
  COMMAND_WAIT_MS,
  afterAccepted,
  describeRun,
  exitCodeFor,
  untilItStops,
} from './run-view.js';
import { choicesOf, describeChanges, describeWarning } from './version-changes.js';

const runPath = (runId: string) => `/v1/runs/${encodeURIComponent(runId)}`;

interface JobView {
  job_id: string;
  state: 'waiting' | 'active' | 'delayed' | 'completed' | 'failed';
  error?: { code: string; message: string; details?: unknown };
}

/** Waits for a submission still resolving (the server answered 202 `{job_id}`). */
async function waitForJob(client: ApiClient, jobId: string): Promise<void> {
  print('  the workflow is still being checked…');
  for (;;) {
    const { body } = await client.request<JobView>('GET', `/v1/jobs/${encodeURIComponent(jobId)}`);
    if (body.state === 'completed') return;
    if (body.state === 'failed')
      throw new CliError(
        body.error?.message ?? 'the workflow could not be stored',
        body.error?.code ?? 'JOB_FAILED',
        body.error?.details,
      );
    await new Promise((resolve) => setTimeout(resolve, 1_000));
  }
}

/** The run's events after `afterSeq` (its active branch), to report what a choice really did. */
async function eventsAfter(
  client: ApiClient,
  runId: string,
  afterSeq: number,
): Promise<EventView[]> {
  const found: EventView[] = [];
  let after = afterSeq;
  for (;;) {
    const { body } = await client.request<{ items: EventView[]; next_after_seq: number | null }>(
      'GET',
      `${runPath(runId)}/events?after_seq=${after}&limit=500`,
    );
    found.push(...body.items);
    if (body.next_after_seq === null) return found;
    after = body.next_after_seq;
  }
}

async function askStep(client: ApiClient, versionId: string, message: string): Promise<string> {
  const { body } = await client.request<{ resolved_workflow: { steps: { step_id: string }[] } }>(
    'GET',
    `/v1/versions/${encodeURIComponent(versionId)}`,
  );
  return select({
    message,
    choices: body.resolved_workflow.steps.map((step) => ({
      name: step.step_id,
      value: step.step_id,
    })),
  });
}

/**
 * What the choice did, read from the run's log rather than assumed: a `version_switched` event
 * says which version the run is now on and whether it went back; without one it kept its version.
 */
function outcomeOf(
  view: VersionChangeView,
  run: RunView,
  newEvents: readonly EventView[],
): string[] {
  const switched = newEvents.find((event) => event.event_type === 'version_switched');
  if (!switched) {
    return run.current_version_id === view.current_version
      ? [`kept the original version ${view.current_version}`]
      : [`the run is on version ${run.current_version_id}`];
  }
  const data = switched.data as {
    to_version_id?: string;
    restart_at?: { step_id: string; module_name: string } | null;
  };
  const to = data.to_version_id ?? run.current_version_id;
  if (data.restart_at)
    return [
      `switched to the new version ${to} and went back to ${data.restart_at.step_id}.${data.restart_at.module_name}`,
    ];
  const behind = view.behind_position;
  const position = view.changes.position;
  const from = position ? ` from ${position.step_id}.${position.module_name}` : '';
  if (behind.length === 0) return [`switched to the new version ${to}, going on${from}`];
  return [
    `switched to the new version ${to}, going on${from}; these changes were NOT run again, so what the run did before keeps the original version's results:`,
    ...behind.map((change) => `  - ${change.message}`),
  ];
}

/** After VERSION_MISMATCH: shows what changed, asks how to go on, and says what happened. */
async function chooseAndConfirm(
  client: ApiClient,
  runId: string,
  view: VersionChangeView,
  options: ResumeOptions,
): Promise<void> {
  print(
    `The workflow changed: the run is on ${view.current_version}, you sent ${view.submitted_version}.`,
  );
  for (const line of describeChanges(view)) print(line);
  const warning = describeWarning(view);
  if (warning.length > 0) {
    print();
    for (const line of warning) print(line);
  }
  print();
  const choice: ResumeChoice = await select({
    message: 'How should the run go on?',
    choices: choicesOf(view),
  });
  let restartAt: string | undefined;
  if (choice === 'restart_at')
    restartAt =
      view.suggested_restart_at ??
      (await askStep(client, view.submitted_version, 'Go back to which step?'));
  else if (choice === 'continue_with_new' && !view.changes.position_exists)
    restartAt = await askStep(
      client,
      view.submitted_version,
      'The current step is gone. Restart at which step?',
    );

  const before = await client.run(runId);
  const response = await client.request<RunView>(
    'POST',
    `${runPath(runId)}/resume/confirm?wait_ms=${COMMAND_WAIT_MS}`,
    {
      json: {
        choice,
        submitted_version_id: view.submitted_version,
        ...(restartAt ? { restart_at: restartAt } : {}),
        // Only a restart asks questions again; that is where earlier answers can be reused.
        ...(restartAt && options.reuseAnswers === true ? { reuse_answers: true } : {}),
      },
    },
    [202],
  );
  if (choice === 'start_fresh') {
    const fresh = await untilItStops(client, response.body);
    print(
      `started a fresh run ${fresh.workflow_run_id} of ${view.submitted_version}; ${runId} stays as it was`,
    );
    print(describeRun(fresh));
    exitCodeFor(fresh);
    return;
  }
  const run =
    response.status === 202
      ? await afterAccepted(client, response.body, before.last_seq)
      : await untilItStops(client, response.body);
  for (const line of outcomeOf(view, run, await eventsAfter(client, runId, before.last_seq)))
    print(line);
  print(describeRun(run));
  exitCodeFor(run);
}

/**
 * `stepwise resume RUN [PATH]`: continues the run; with a workflow that differs from its version,
 * shows the change (the changed text itself, and what lies behind the run's position) and asks.
 */
export interface ResumeOptions {
  /** On a restart, answer questions asked exactly as before with the earlier answers. */
  reuseAnswers?: boolean;
}

export async function resume(
  runId: string,
  path: string | undefined,
  options: ResumeOptions = {},
): Promise<void> {
  const client = await ApiClient.fromStoredLogin();
  const upload = path ? await readSubmission(path) : undefined;
  for (;;) {
    let response: { status: number; body: RunView | { job_id: string } };
    try {
      response = await client.request<RunView | { job_id: string }>(
        'POST',
        `${runPath(runId)}/resume?wait_ms=${COMMAND_WAIT_MS}`,
        upload ? { bytes: upload.bytes, contentType: upload.contentType } : undefined,
        [202],
      );
    } catch (error) {
      if (!(error instanceof CliError) || error.code !== 'VERSION_MISMATCH') throw error;
      await chooseAndConfirm(client, runId, error.details as VersionChangeView, options);
      return;
    }
    const { body } = response;
    if ('job_id' in body) {
      // The workflow was still being checked; once stored, sending it again is answered at once.
      await waitForJob(client, body.job_id);
      continue;
    }
    const run = await untilItStops(client, body);
    print('resumed on the same version');
    print(describeRun(run));
    exitCodeFor(run);
    return;
  }
}
