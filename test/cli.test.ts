import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { RunView } from '@stepwise/shared';
import { useTestDatabases } from './support/databases.js';
import { createTestUser, startTestGateway, startTestResolver } from './support/gateway.js';
import { startTestRunner } from './support/runner.js';
import { RunsClient } from './support/runs.js';
import { TestTerminal } from './support/terminal.js';

/** The `stepwise` command line, driven in a real terminal against a running server. */
const db = await useTestDatabases('cli');
const gateway = await startTestGateway(db);
await startTestResolver(db);
await startTestRunner(db);

const root = new URL('../', import.meta.url).pathname;
const configDir = mkdtempSync(join(tmpdir(), 'stepwise-cli-'));
const terminal = new TestTerminal(root, { STEPWISE_CONFIG_DIR: configDir, NO_COLOR: '1' });
const stepwise = 'node packages/cli/dist/main.js';

let client: RunsClient;
let apiKey = '';
beforeAll(async () => {
  apiKey = (await createTestUser(gateway, 'terminal')).api_key;
  client = new RunsClient(gateway, apiKey);
});

describe('the stepwise CLI in a terminal', () => {
  it('logs in, submits a folder, runs it, and answers every question with the keyboard', async () => {
    terminal.type(`${stepwise} login --server ${gateway.url} --key ${apiKey}`);
    await terminal.waitFor(/Logged in to .* as terminal/);
    expect(JSON.parse(readFileSync(join(configDir, 'config.json'), 'utf8'))).toEqual({
      server: gateway.url,
      api_key: apiKey,
    });

    terminal.type(`${stepwise} submit examples/pet-clips`);
    await terminal.waitFor(/created: pet_clips ver_/);
    terminal.type(`${stepwise} submit examples/pet-clips`);
    await terminal.waitFor(/unchanged: pet_clips ver_/);

    terminal.clear();
    terminal.type(`${stepwise} run pet_clips --project demo --state topic=dogs`);
    const runId =
      (await terminal.waitFor(/(run_[0-9a-f]{24})\s+pet_clips\s+awaiting_input/))[1] ?? '';
    await terminal.waitFor(/waiting for input: Which idea should we film\?/);

    terminal.clear();
    terminal.type(`${stepwise} answer ${runId}`);
    await terminal.waitFor(/Which idea should we film\?/);
    await terminal.waitFor(/dogs versus a cucumber/);
    terminal.press('Down');
    terminal.press('Enter');
    await terminal.waitFor(/Caption for "dogs versus a cucumber"/);
    terminal.type('Who wins?');
    await terminal.waitFor(/duration_s/);
    terminal.press('Enter'); // the default, 15
    await terminal.waitFor(/mood/);
    terminal.press('Down');
    terminal.press('Enter'); // funny
    await terminal.waitFor(/music/);
    terminal.press('Enter'); // yes
    await terminal.waitFor(/Publish "Who wins\?"/);
    // The approval shows the rendered prompt and the settings beside the question.
    await terminal.waitFor(
      /Video prompt:\n {2}A 15-second vertical clip for shorts\.\n {2}Scene: dogs versus a cucumber\./,
    );
    await terminal.waitFor(/Clip settings:\n {2}\{\n {4}"duration_s": 15,\n {4}"mood": "funny",/);
    terminal.press('Enter');
    await terminal.waitFor(new RegExp(`${runId}\\s+pet_clips\\s+completed`));

    const state = await client.state(runId);
    expect(state.state).toMatchObject({
      topic: 'dogs',
      idea: 'dogs versus a cucumber',
      caption: 'Who wins?',
      settings: { duration_s: 15, mood: 'funny', music: true },
      approved: true,
    });

    terminal.clear();
    terminal.type(`${stepwise} events ${runId}`);
    await terminal.waitFor(/run_completed/);
    terminal.type(`${stepwise} status ${runId}`);
    await terminal.waitFor(new RegExp(`${runId}\\s+pet_clips\\s+completed`));
  }, 60_000);

  it('prints the context beside a question: display items and option details', async () => {
    const artifact = `art_${'cd'.repeat(12)}`;
    const versionId = await client.submitJson({
      workflow_id: 'cli_context',
      initial_state: { topic: 'otters', file: artifact },
      steps: [
        {
          step_id: 'pick',
          modules: [
            {
              module_id: 'user.select',
              name: 'draft',
              inputs: {
                prompt: 'Which draft?',
                options: [
                  { id: 'long', description: 'Otters hold hands.\nThey sleep afloat.' },
                  { id: 'still', image: 'https://img.example/{{ state.topic }}.png' },
                  { id: 'stored', image: '{{ state.file }}' },
                ],
              },
              display: [
                { label: 'Brief', kind: 'markdown', value: '# About {{ state.topic }}' },
                {
                  label: 'Numbers',
                  kind: 'json',
                  value: '{"count": 2, "topic": "{{ state.topic }}"}',
                },
                {
                  label: 'Still',
                  kind: 'image',
                  value: 'https://img.example/{{ state.topic }}.jpg',
                },
                { label: 'Voice', kind: 'audio', value: 'https://media.example/a.mp3' },
                { label: 'Clip', kind: 'video', value: 'https://media.example/v.mp4' },
                { label: 'Storyboard', kind: 'artifact', value: '{{ state.file }}' },
              ],
              outputs_to_state: { selected: 'draft' },
            },
          ],
        },
      ],
    });
    const { run } = await client.start({ workflow_version_id: versionId }, '?wait_ms=20000');
    expect(run.status).toBe('awaiting_input');
    terminal.clear();
    terminal.type(`${stepwise} answer ${run.workflow_run_id}`);
    await terminal.waitFor(/Which draft\?/);
    const artifactUrl = `${gateway.url}/v1/artifacts/${artifact}/content`;
    const screen = terminal.screen();
    expect(screen).toContain('Brief:\n  # About otters\n');
    expect(screen).toContain('Numbers:\n  {\n    "count": 2,\n    "topic": "otters"\n  }\n');
    expect(screen).toContain('Still (image): https://img.example/otters.jpg\n');
    expect(screen).toContain('Voice (audio): https://media.example/a.mp3\n');
    expect(screen).toContain('Clip (video): https://media.example/v.mp4\n');
    expect(screen).toContain(`Storyboard (artifact): ${artifactUrl}\n`);
    expect(screen).toContain('1. {"id":"long"}\n   Otters hold hands.\n   They sleep afloat.\n');
    expect(screen).toContain('2. {"id":"still"}\n   image: https://img.example/otters.png\n');
    expect(screen).toContain(`3. {"id":"stored"}\n   image: ${artifactUrl}\n`);
    terminal.press('Enter');
    await terminal.waitFor(new RegExp(`${run.workflow_run_id}\\s+cli_context\\s+completed`));
    expect((await client.state(run.workflow_run_id)).state['draft']).toEqual({
      id: 'long',
      description: 'Otters hold hands.\nThey sleep afloat.',
    });
  });

  it('follows events as they happen', async () => {
    const { run } = await client.start({ workflow_template_name: 'pet_clips' });
    terminal.clear();
    terminal.type(`${stepwise} events ${run.workflow_run_id} --follow`);
    await terminal.waitFor(/interaction_requested\s+ideas\.choose_idea/);
    await client.answerPending(run, { selected_indices: [0] });
    await terminal.waitFor(/interaction_requested\s+caption\.write_caption/);
    terminal.press('C-c');
  });

  it('walks a person through a changed workflow on resume', async () => {
    const { run } = await client.start({ workflow_template_name: 'pet_clips' });
    const changed = mkdtempSync(join(tmpdir(), 'pet-clips-v2-'));
    cpSync(join(root, 'examples/pet-clips'), changed, { recursive: true });
    writeFileSync(
      join(changed, 'prompts/video.liquid'),
      `${readFileSync(join(changed, 'prompts/video.liquid'), 'utf8')}Slow motion at the end.\n`,
    );
    terminal.clear();
    terminal.type(`${stepwise} resume ${run.workflow_run_id} ${changed}`);
    await terminal.waitFor(/The workflow changed/);
    await terminal.waitFor(/changed\s+prompt\.render_prompt \(inputs\)\s+after the run's position/);
    await terminal.waitFor(/How should the run go on\?/);
    terminal.press('Enter');
    await terminal.waitFor(/switched to the new version/);
    const after = (await client.get(run.workflow_run_id)) as RunView;
    expect(after.current_version_id).not.toBe(run.current_version_id);
    expect(after.status).toBe('awaiting_input');
  });

  it('says plainly when something is wrong', async () => {
    terminal.clear();
    terminal.type(`${stepwise} status run_000000000000000000000000`);
    await terminal.waitFor(/error NOT_FOUND: run 'run_000000000000000000000000' not found/);
  });

  it('says what to do when the server no longer knows the key', async () => {
    const otherConfig = mkdtempSync(join(tmpdir(), 'stepwise-cli-unknown-key-'));
    const stranger = new TestTerminal(root, { STEPWISE_CONFIG_DIR: otherConfig, NO_COLOR: '1' });
    stranger.type(`${stepwise} login --server ${gateway.url} --key sk_${'0'.repeat(40)}`);
    // `login` checks the key, so it is the first to say so.
    await stranger.waitFor(
      /error UNAUTHENTICATED: unknown or revoked API key: http:\S+ does not know the key you logged in with\. It was revoked, or the server started with empty data .*Get a new key and run `stepwise login` again\./,
    );
  });
});
