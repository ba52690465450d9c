import { basename } from 'node:path';
import { select } from '@inquirer/prompts';
import type { ArtifactView, EventView, RunView, VersionChanges } from '@stepwise/shared';
import { ApiClient, CliError } from './api-client.js';
import { readSubmission } from './bundle.js';
import { writeConfig } from './config-store.js';
import { askInTerminal } from './interaction-prompts.js';

const print = (line = '') => process.stdout.write(`${line}\n`);

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
}

export async function status(runId: string): Promise<void> {
  const client = await ApiClient.fromStoredLogin();
  print(describeRun(await client.run(runId)));
}

function describeEvent(event: EventView): string {
  const where = event.module_name ? `${event.step_id}.${event.module_name}` : (event.step_id ?? '');
  return `${String(event.seq).padStart(5)}  ${event.timestamp.slice(11, 19)}  ${event.event_type.padEnd(22)} ${where}`;
}

export async function events(runId: string, options: { follow?: boolean }): Promise<void> {
  const client = await ApiClient.fromStoredLogin();
  if (!options.follow) {
    let after = 0;
    for (;;) {
      const { body } = await client.request<{ items: EventView[]; next_after_seq: number | null }>(
        'GET',
        `/v1/runs/${encodeURIComponent(runId)}/events?after_seq=${after}&limit=500`,
      );
      for (const event of body.items) print(describeEvent(event));
      if (body.next_after_seq === null) return;
      after = body.next_after_seq;
    }
  }
  // Follow the Server-Sent Events stream; on a dropped connection, reconnect from the last id.
  let lastId = '0';
  for (;;) {
    const response = await fetch(client.url(`/v1/runs/${encodeURIComponent(runId)}/stream`), {
      headers: { authorization: `Bearer ${client.config.api_key}`, 'last-event-id': lastId },
    }).catch(() => null);
    if (response && !response.ok)
      throw new CliError(`stream answered ${response.status}`, `HTTP_${response.status}`);
    if (response?.body) {
      let buffer = '';
      const decoder = new TextDecoder();
      try {
        for await (const chunk of response.body) {
          buffer += decoder.decode(chunk as Uint8Array, { stream: true });
          let boundary: number;
          while ((boundary = buffer.indexOf('\n\n')) >= 0) {
            const block = buffer.slice(0, boundary);
            buffer = buffer.slice(boundary + 2);
            const data = block.split('\n').find((line) => line.startsWith('data:'));
            const id = block.split('\n').find((line) => line.startsWith('id:'));
            if (!data || !id) continue;
            lastId = id.slice(3).trim();
            print(describeEvent(JSON.parse(data.slice(5)) as EventView));
          }
        }
      } catch {
        // connection dropped: reconnect below
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 1_000));
  }
}

/**
 * Follows a run that is still working (waiting on an outside job such as an image, or on a retry's
 * backoff) until it asks again or ends, saying once what it is doing.
 */
async function untilItStops(client: ApiClient, start: RunView): Promise<RunView> {
  let current = start;
  if (current.status === 'running')
    print(`  working at ${current.current_step ?? '?'}.${current.current_module ?? '?'}…`);
  while (current.status === 'running') {
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    current = await client.run(current.workflow_run_id);
  }
  return current;
}

export async function answer(runId: string): Promise<void> {
  const client = await ApiClient.fromStoredLogin();
  let current = await untilItStops(client, await client.run(runId));
  if (!current.pending_interaction) {
    print(describeRun(current));
    throw new CliError('this run is not waiting for input');
  }
  // Answer what it asks, one interaction after another, until it stops asking.
  while (current.pending_interaction) {
    const interaction = current.pending_interaction;
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
    try {
      const { body } = await client.request<RunView>(
        'POST',
        `/v1/runs/${encodeURIComponent(runId)}/interactions/${interaction.interaction_id}`,
        { json: { response } },
        [202],
      );
      current = await untilItStops(client, body);
    } catch (error) {
      if (!(error instanceof CliError) || error.code !== 'INTERACTION_INVALID') throw error;
      for (const detail of (error.details as { path: string; message: string }[] | undefined) ?? [])
        print(`  ${detail.path}: ${detail.message}`);
      print('Please answer again.');
    }
  }
  print(describeRun(current));
}

function describeChanges(changes: VersionChanges): string[] {
  const lines = changes.modules.map(
    (change) =>
      `  ${change.change.padEnd(8)} ${change.step_id}.${change.module_name}${change.fields.length ? ` (${change.fields.join(', ')})` : ''}  ${change.relation} the run's position`,
  );
  if (!changes.position_exists)
    lines.push('  the step the run stands in is not in the new version');
  return lines;
}

export async function resume(runId: string, path: string | undefined): Promise<void> {
  const client = await ApiClient.fromStoredLogin();
  const upload = path ? await readSubmission(path) : undefined;
  try {
    const { body } = await client.request<RunView>(
      'POST',
      `/v1/runs/${encodeURIComponent(runId)}/resume`,
      upload ? { bytes: upload.bytes, contentType: upload.contentType } : undefined,
      [202],
    );
    print('resumed on the same version');
    print(describeRun(body));
    return;
  } catch (error) {
    if (!(error instanceof CliError) || error.code !== 'VERSION_MISMATCH') throw error;
    const details = error.details as {
      current_version: string;
      submitted_version: string;
      changes: VersionChanges;
    };
    print(
      `The workflow changed: the run is on ${details.current_version}, you sent ${details.submitted_version}.`,
    );
    for (const line of describeChanges(details.changes)) print(line);
    const choice = await select({
      message: 'How should the run go on?',
      choices: [
        { name: 'Continue with the new version', value: 'continue_with_new' as const },
        { name: 'Continue with the original version', value: 'continue_with_original' as const },
        {
          name: 'Start a fresh run of the new version (this one stays as it is)',
          value: 'start_fresh' as const,
        },
      ],
    });
    let restartAt: string | undefined;
    if (choice === 'continue_with_new' && !details.changes.position_exists) {
      const version = (
        await client.request<{ resolved_workflow: { steps: { step_id: string }[] } }>(
          'GET',
          `/v1/versions/${details.submitted_version}`,
        )
      ).body;
      restartAt = await select({
        message: 'The current step is gone. Restart at which step?',
        choices: version.resolved_workflow.steps.map((step) => ({
          name: step.step_id,
          value: step.step_id,
        })),
      });
    }
    const { body } = await client.request<RunView>(
      'POST',
      `/v1/runs/${encodeURIComponent(runId)}/resume/confirm`,
      {
        json: {
          choice,
          submitted_version_id: details.submitted_version,
          ...(restartAt ? { restart_at: restartAt } : {}),
        },
      },
      [202],
    );
    print(
      choice === 'start_fresh'
        ? 'started a fresh run'
        : choice === 'continue_with_new'
          ? 'switched to the new version'
          : 'kept the original version',
    );
    print(describeRun(body));
  }
}
