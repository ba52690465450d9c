import type { RunView } from '@stepwise/shared';
import type { ApiClient } from './api-client.js';
import { print } from './format.js';

/** How long a command's answer is awaited at the server before it answers 202 (its maximum). */
export const COMMAND_WAIT_MS = 30_000;

const POLL_MS = 1_000;

/** A run's header line, what it waits for, and its error. */
export function describeRun(run: RunView): string {
  const where = run.current_step ? ` at ${run.current_step}.${run.current_module}` : '';
  const lines = [`${run.workflow_run_id}  ${run.workflow_template_name}  ${run.status}${where}`];
  if (run.pending_interaction) {
    const request = run.pending_interaction.request as { prompt?: string; message?: string };
    lines.push(
      `  waiting for input: ${(request.prompt ?? request.message ?? run.pending_interaction.module_id).trim()}`,
    );
    lines.push(`  answer it with: stepwise answer ${run.workflow_run_id}`);
  }
  if (run.error) lines.push(`  error ${run.error.code}: ${run.error.message}`);
  return lines.join('\n');
}

/**
 * A run that ended in error makes the command exit non-zero, so a script can tell; the run itself
 * has been printed by then.
 */
export function exitCodeFor(run: RunView): void {
  if (run.status === 'error') process.exitCode = 1;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Follows a run that is still working (waiting on an outside job such as an image, or on a retry's
 * backoff) until it asks again or ends, saying once what it is doing.
 */
export async function untilItStops(client: ApiClient, start: RunView): Promise<RunView> {
  let current = start;
  if (current.status === 'running')
    print(`  working at ${current.current_step ?? '?'}.${current.current_module ?? '?'}…`);
  while (current.status === 'running') {
    await sleep(POLL_MS);
    current = await client.run(current.workflow_run_id);
  }
  return current;
}

/**
 * The run once a command answered 202 has been applied (its log grew past `lastSeqBefore`) and the
 * run has come to rest. A 202 may mean the command is not applied yet: the run it carries can
 * still be the one from before the command.
 */
export async function afterAccepted(
  client: ApiClient,
  accepted: RunView,
  lastSeqBefore: number,
): Promise<RunView> {
  let current = accepted;
  if (current.last_seq <= lastSeqBefore) print('  accepted; waiting for the run to take it up…');
  while (current.last_seq <= lastSeqBefore) {
    await sleep(POLL_MS);
    current = await client.run(current.workflow_run_id);
  }
  return untilItStops(client, current);
}
