import { basename } from 'node:path';
import type { ArtifactView, RunView } from '@stepwise/shared';
import { ApiClient, CliError } from './api-client.js';
import { readSubmission } from './bundle.js';
import { writeConfig } from './config-store.js';
import { print } from './format.js';
import { askInTerminal } from './interaction-prompts.js';
import {
  COMMAND_WAIT_MS,
  afterAccepted,
  describeRun,
  exitCodeFor,
  untilItStops,
} from './run-view.js';

export async function login(options: { server: string; key: string }): Promise<void> {
  const client = new ApiClient({ server: options.server, api_key: options.key });
  const { body } = await client.request<{ user: { username: string; user_id: string } }>(
    'GET',
    '/v1/me',
  );
  const file = await writeConfig(client.config);
  print(
    `Logged in to ${options.server} as ${body.user.username} (${body.user.user_id}); saved to ${file}`,
  );
}

export async function submit(path: string, options: { entryPoint?: string }): Promise<void> {
  const client = await ApiClient.fromStoredLogin();
  const { bytes, contentType } = await readSubmission(path);
  const query = options.entryPoint ? `?entry_point=${encodeURIComponent(options.entryPoint)}` : '';
  const { body } = await client.request<{
    workflow_template_name: string;
    workflow_version_id: string;
    created: boolean;
    content_hash: string;
  }>('POST', `/v1/workflows${query}`, { bytes, contentType });
  print(
    `${body.created ? 'created' : 'unchanged'}: ${body.workflow_template_name} ${body.workflow_version_id} (${body.content_hash.slice(0, 19)}…)`,
  );
}

export async function run(
  template: string,
  options: { project: string; state?: string[] },
): Promise<void> {
  const client = await ApiClient.fromStoredLogin();
  const initialState: Record<string, unknown> = {};
  for (const pair of options.state ?? []) {
    const at = pair.indexOf('=');
    if (at <= 0) throw new CliError(`--state wants key=value, got '${pair}'`);
    const raw = pair.slice(at + 1);
    let value: unknown = raw;
    try {
      value = JSON.parse(raw);
    } catch {
      // not JSON: keep it as text
    }
    initialState[pair.slice(0, at)] = value;
  }
  const { body } = await client.request<RunView>(
    'POST',
    '/v1/runs',
    {
      json: {
        workflow_template_name: template,
        project_name: options.project,
        ...(Object.keys(initialState).length > 0 ? { initial_state: initialState } : {}),
      },
    },
    [202],
  );
  print(describeRun(body));
  exitCodeFor(body);
}

export async function status(runId: string): Promise<void> {
  const client = await ApiClient.fromStoredLogin();
  print(describeRun(await client.run(runId)));
}

/** The answer was refused because the question is no longer the run's pending one. */
function isStale(error: unknown): boolean {
  return error instanceof CliError && error.code === 'INTERACTION_NOT_PENDING';
}

/**
 * `stepwise answer RUN`: asks, in the terminal, what the run waits on, one question after another
 * until it stops asking. A question that went stale meanwhile (answered elsewhere, the run moved
 * on) is not an error: the run is read again and its current question asked.
 */
export async function answer(runId: string): Promise<void> {
  const client = await ApiClient.fromStoredLogin();
  let current = await untilItStops(client, await client.run(runId));
  if (!current.pending_interaction) {
    print(describeRun(current));
    throw new CliError('this run is not waiting for input');
  }
  while (current.pending_interaction) {
    const interaction = current.pending_interaction;
    const lastSeqBefore = current.last_seq;
    try {
      const response = await askInTerminal(
        interaction,
        (path) => client.url(path),
        (file) =>
          client.upload<ArtifactView>(
            `/v1/runs/${encodeURIComponent(runId)}/uploads?${new URLSearchParams({
              name: basename(file),
              interaction_id: interaction.interaction_id,
            }).toString()}`,
            file,
          ),
      );
      const reply = await client.request<RunView>(
        'POST',
        `/v1/runs/${encodeURIComponent(runId)}/interactions/${interaction.interaction_id}?wait_ms=${COMMAND_WAIT_MS}`,
        { json: { response } },
        [202],
      );
      current =
        reply.status === 202
          ? await afterAccepted(client, reply.body, lastSeqBefore)
          : await untilItStops(client, reply.body);
    } catch (error) {
      if (isStale(error)) {
        current = await untilItStops(client, await client.run(runId));
        print(
          current.pending_interaction
            ? 'That question is no longer waiting (answered elsewhere, or the run moved on); here is the one it asks now.'
            : 'That question is no longer waiting (answered elsewhere, or the run moved on).',
        );
        continue;
      }
      if (!(error instanceof CliError) || error.code !== 'INTERACTION_INVALID') throw error;
      for (const detail of (error.details as { path: string; message: string }[] | undefined) ?? [])
        print(`  ${detail.path}: ${detail.message}`);
      print('Please answer again.');
    }
  }
  print(describeRun(current));
  exitCodeFor(current);
}
