import { beforeAll, describe, expect, it } from 'vitest';
import { eventViewSchema } from '@stepwise/shared';
import { exampleBundle } from '../../../test/support/bundles.js';
import { useTestDatabases } from '../../../test/support/databases.js';
import {
  createTestUser,
  startTestGateway,
  startTestResolver,
} from '../../../test/support/gateway.js';
import { startTestRunner } from '../../../test/support/runner.js';
import { RunsClient, expectConsistentLog } from '../../../test/support/runs.js';

const db = await useTestDatabases('runs');
const gateway = await startTestGateway(db);
await startTestResolver(db);
await startTestRunner(db);

let alice: RunsClient;
let exampleVersion: string;
beforeAll(async () => {
  alice = new RunsClient(gateway, (await createTestUser(gateway, 'alice')).api_key);
  exampleVersion = await alice.submitZip(await exampleBundle());
});

describe('the example workflow end to end', () => {
  it('starts, waits for each person, completes, and its log replays to its state', async () => {
    const { status, run: started } = await alice.start({
      workflow_version_id: exampleVersion,
      project_name: 'cats-weekly',
      initial_state: { topic: 'kittens' },
    });
    expect(status).toBe(201);
    expect(started).toMatchObject({
      status: 'awaiting_input',
      current_step: 'ideas',
      current_module: 'choose_idea',
      project_name: 'cats-weekly',
    });
    const options = (started.pending_interaction?.request as { options: { value: string }[] })
      .options;
    expect(options.map((o) => o.value)).toEqual([
      'kittens asleep in a sunbeam',
      'kittens versus a cucumber',
      'kittens discovering a mirror',
      'kittens at 3 a.m.',
    ]);

    let run = await alice.answerPending(started, { selected_indices: [1] });
    expect(run).toMatchObject({ current_step: 'caption', current_module: 'write_caption' });
    expect((run.pending_interaction?.request as { default: string }).default).toBe(
      'Kittens versus a cucumber',
    );
    run = await alice.answerPending(run, { value: 'Who wins?' });
    expect(run.current_module).toBe('clip_settings');
    run = await alice.answerPending(run, { values: { duration_s: 20, mood: 'funny' } });
    expect(run.current_module).toBe('approve');
    expect((run.pending_interaction?.request as { message: string }).message).toBe(
      'Publish "Who wins?" (funny, 20 s)?\n',
    );
    run = await alice.answerPending(run, { confirmed: true });
    expect(run).toMatchObject({ status: 'completed', pending_interaction: null, error: null });

    const events = await expectConsistentLog(alice, run.workflow_run_id);
    for (const event of events) {
      eventViewSchema.parse(event);
      expect(event.workflow_version_id).toBe(exampleVersion);
      expect(event.branch_id).toBe(run.active_branch_id);
      expect(event.correlation_id).toMatch(/^corr_/);
    }
    expect(
      events.map(
        (e) =>
          `${e.event_type}${e.module_name ? `:${e.module_name}` : e.step_id ? `:${e.step_id}` : ''}`,
      ),
    ).toEqual([
      'run_created',
      'step_started:ideas',
      'module_started:seed_ideas',
      'module_completed:seed_ideas',
      'module_started:choose_idea',
      'interaction_requested:choose_idea',
      'interaction_responded:choose_idea',
      'module_completed:choose_idea',
      'step_completed:ideas',
      'step_started:caption',
      'module_started:write_caption',
      'interaction_requested:write_caption',
      'interaction_responded:write_caption',
      'module_completed:write_caption',
      'module_started:clip_settings',
      'interaction_requested:clip_settings',
      'interaction_responded:clip_settings',
      'module_completed:clip_settings',
      'step_completed:caption',
      'step_started:prompt',
      'module_started:render_prompt',
      'module_completed:render_prompt',
      'module_started:mark_music',
      'module_completed:mark_music',
      'step_completed:prompt',
      'step_started:review',
      'module_started:approve',
      'interaction_requested:approve',
      'interaction_responded:approve',
      'module_completed:approve',
      'step_completed:review',
      'run_completed',
    ]);
    const state = await alice.state(run.workflow_run_id);
    expect(state.state).toMatchObject({
      topic: 'kittens',
      idea: 'kittens versus a cucumber',
      caption: 'Who wins?',
      approved: true,
      soundtrack: 'with music',
      settings: { duration_s: 20, mood: 'funny', music: true },
    });
    expect(state.state['video_prompt']).toContain('A 20-second vertical clip for shorts.');
  });
});
