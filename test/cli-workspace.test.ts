import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { BranchView, EventView, RunView } from '@stepwise/shared';
import { useTestDatabases } from './support/databases.js';
import { createTestUser, startTestGateway, startTestResolver } from './support/gateway.js';
import { startTestRunner } from './support/runner.js';
import { RunsClient } from './support/runs.js';
import { TestTerminal } from './support/terminal.js';

/**
 * The run workspace in the terminal (issue 19): `runs`, `branch`, `retry`, `cancel`,
 * `artifacts RUN --download`, `events` that follows a run to its end, `answer` when its question
 * went stale, exit codes of runs that fail, and `resume` with the changed text. Each command is
 * typed into a real terminal against a running server, and what it did is checked through the API.
 */
const db = await useTestDatabases('cli_workspace');
const gateway = await startTestGateway(db);
await startTestResolver(db);
await startTestRunner(db);

const root = new URL('../', import.meta.url).pathname;
const configDir = mkdtempSync(join(tmpdir(), 'stepwise-cli-workspace-config-'));
const workDir = mkdtempSync(join(tmpdir(), 'stepwise-cli-workspace-'));
const terminal = new TestTerminal(workDir, { STEPWISE_CONFIG_DIR: configDir, NO_COLOR: '1' });
// The command npm installs for the package (node_modules/.bin/stepwise), run as a person would:
// it must be executable and find the built program.
const stepwise = `${root}node_modules/.bin/stepwise`;

/** Two questions, then an echo of the name: a run to answer, branch, retry and follow. */
const twoQuestions = (workflowId: string) => ({
  workflow_id: workflowId,
  steps: [
    {
      step_id: 'pick',
      modules: [
        {
          module_id: 'user.select',
          name: 'colour',
          inputs: { prompt: 'Which colour?', options: ['red', 'green'] },
          outputs_to_state: { selected: 'colour' },
        },
      ],
    },
    {
      step_id: 'naming',
      modules: [
        {
          module_id: 'user.text_input',
          name: 'name',
          inputs: { prompt: 'Name it' },
          outputs_to_state: { value: 'name' },
        },
      ],
    },
    {
      step_id: 'finish',
      modules: [{ module_id: 'test.echo', name: 'echo', inputs: { value: '{{ state.name }}' } }],
    },
  ],
});

/** A confirmation, then a module that always fails: the run ends in error once confirmed. */
const failsAfterConfirm = {
  workflow_id: 'ws_fails',
  steps: [
    {
      step_id: 'check',
      modules: [{ module_id: 'user.confirm', name: 'go', inputs: { message: 'Go ahead?' } }],
    },
    {
      step_id: 'work',
      modules: [{ module_id: 'test.flaky', name: 'break', inputs: { fail_times: 99 } }],
    },
  ],
};

let client: RunsClient;
let userId = '';
const versions: Record<string, string> = {};

beforeAll(async () => {
  const created = await createTestUser(gateway, 'workspace');
  userId = created.user.user_id;
  client = new RunsClient(gateway, created.api_key);
  versions['ws_flow'] = await client.submitJson(twoQuestions('ws_flow'));
  versions['ws_list'] = await client.submitJson(twoQuestions('ws_list'));
  versions['ws_fails'] = await client.submitJson(failsAfterConfirm);
  terminal.type(`${stepwise} login --server ${gateway.url} --key ${created.api_key}`);
  await terminal.waitFor(/Logged in to .* as workspace/);
});

async function startAtRest(versionId: string): Promise<RunView> {
  const { run } = await client.start({ workflow_version_id: versionId }, '?wait_ms=20000');
  expect(run.status).toBe('awaiting_input');
  return run;
}

/**
 * Clears the terminal and waits until it shows only the prompt, so that nothing an earlier
 * command printed can match what the next one is expected to print.
 */
async function freshScreen(): Promise<void> {
  terminal.clear();
  await terminal.waitFor(/^\s*bash-[\d.]+#\s*$/);
}

/** Types a command, then prints its exit code; answers the code once the command has ended. */
async function exitCodeOf(command: string, timeoutMs = 20_000): Promise<number> {
  terminal.type(`${command}; echo "exit=$?"`);
  return Number((await terminal.waitFor(/exit=(\d+)/, timeoutMs))[1]);
}

describe('stepwise runs', () => {
  it('lists the runs waiting for input first, then the others newest first', async () => {
    const waiting = await startAtRest(versions['ws_list'] ?? '');
    const answered = await startAtRest(versions['ws_list'] ?? '');
    const atName = await client.answerPending(answered, { selected_indices: [1] });
    const done = await client.answerPending(atName, { value: 'Rex' });
    expect(done.status).toBe('completed');

    await freshScreen();
    terminal.type(`${stepwise} runs --template ws_list`);
    await terminal.waitFor(/RUN\s+TEMPLATE\s+STATUS\s+PROJECT\s+POSITION\s+UPDATED/);
    const waitingRow = new RegExp(
      `${waiting.workflow_run_id}\\s+ws_list\\s+awaiting_input\\s+test\\s+pick\\.colour\\s+\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\dZ`,
    );
    const doneRow = new RegExp(`${done.workflow_run_id}\\s+ws_list\\s+completed\\s+test\\s+`);
    await terminal.waitFor(doneRow);
    const screen = terminal.screen();
    // The completed run is the newer one, yet the waiting run comes first.
    expect(screen.search(waitingRow)).toBeGreaterThan(-1);
    expect(screen.search(waitingRow)).toBeLessThan(screen.search(doneRow));

    await freshScreen();
    terminal.type(`${stepwise} runs --template ws_list --status completed`);
    await terminal.waitFor(doneRow);
    expect(terminal.screen()).not.toContain(waiting.workflow_run_id);
  });
});

describe('stepwise branch', () => {
  it('forks a finished run at a seq, so its question can be answered again', async () => {
    const run = await startAtRest(versions['ws_flow'] ?? '');
    const done = await client.answerPending(
      await client.answerPending(run, { selected_indices: [0] }),
      { value: 'Rex' },
    );
    expect(done.status).toBe('completed');
    const asked = (await client.events(run.workflow_run_id)).find(
      (event) => event.event_type === 'interaction_requested' && event.step_id === 'pick',
    );
    expect(asked).toBeDefined();

    await freshScreen();
    expect(await exitCodeOf(`${stepwise} branch ${run.workflow_run_id} 999`)).toBe(1);
    expect(terminal.screen()).toMatch(
      new RegExp(`${run.workflow_run_id} has no event with seq 999 on its active branch`),
    );

    await freshScreen();
    terminal.type(`${stepwise} branch ${run.workflow_run_id} ${asked?.seq}`);
    const branchId =
      (
        await terminal.waitFor(
          new RegExp(
            `branched from seq ${asked?.seq} \\(interaction_requested at pick\\.colour, ${asked?.event_id}\\): now on branch (br_[0-9a-f]{24})`,
          ),
        )
      )[1] ?? '';
    await terminal.waitFor(/waiting for input: Which colour\?/);

    const after = await client.get(run.workflow_run_id);
    expect(after.active_branch_id).toBe(branchId);
    expect(after.status).toBe('awaiting_input');
    expect(after.current_step).toBe('pick');
    const branches = (await (
      await client.request(`/v1/runs/${run.workflow_run_id}/branches`)
    ).json()) as { items: BranchView[] };
    expect(branches.items.find((branch) => branch.branch_id === branchId)).toMatchObject({
      status: 'active',
      branch_point_event_id: asked?.event_id,
    });
    // Answerable again, this time differently.
    const again = await client.answerPending(after, { selected_indices: [1] });
    expect((await client.state(run.workflow_run_id)).state['colour']).toBe('green');
    expect(again.current_step).toBe('naming');

    // By event id, too.
    await freshScreen();
    terminal.type(`${stepwise} branch ${run.workflow_run_id} ${asked?.event_id}`);
    await terminal.waitFor(new RegExp(`branched from ${asked?.event_id}: now on branch br_`));
    const third = await client.get(run.workflow_run_id);
    expect(third.active_branch_id).not.toBe(branchId);
    expect(third.current_step).toBe('pick');
  });
});

describe('stepwise retry and cancel', () => {
  it('retries a step with feedback that reaches the run', async () => {
    const run = await startAtRest(versions['ws_flow'] ?? '');
    const atName = await client.answerPending(run, { selected_indices: [0] });
    expect(atName.current_step).toBe('naming');

    await freshScreen();
    terminal.type(
      `${stepwise} retry ${run.workflow_run_id} pick --feedback "warmer colours, please"`,
    );
    await terminal.waitFor(/retried pick with your feedback/);
    await terminal.waitFor(/awaiting_input at pick\.colour/);

    const after = await client.get(run.workflow_run_id);
    expect(after.current_step).toBe('pick');
    expect(after.status).toBe('awaiting_input');
    const retried = (await client.events(run.workflow_run_id)).find(
      (event) => event.event_type === 'retry_requested',
    );
    expect(retried?.data).toMatchObject({
      target: { step_id: 'pick', module_name: 'colour' },
      feedback: 'warmer colours, please',
    });
  });

  it('retries with --reuse-answers: a question asked as before is answered as before', async () => {
    const run = await startAtRest(versions['ws_flow'] ?? '');
    await client.answerPending(run, { selected_indices: [1] });

    await freshScreen();
    terminal.type(`${stepwise} retry ${run.workflow_run_id} pick --reuse-answers`);
    await terminal.waitFor(/retried pick/);
    // Back where it stood: the colour question came out the same, so it was not asked.
    await terminal.waitFor(/awaiting_input at naming\.name/);
    const answers = (await client.events(run.workflow_run_id)).filter(
      (event) => event.event_type === 'interaction_responded',
    );
    expect(answers).toHaveLength(2);
    expect(answers[1]?.data['reused_from']).toBe(answers[0]?.event_id);
    expect((await client.state(run.workflow_run_id)).state).toMatchObject({ colour: 'green' });
  });

  it('cancels a run', async () => {
    const run = await startAtRest(versions['ws_flow'] ?? '');
    await freshScreen();
    terminal.type(`${stepwise} cancel ${run.workflow_run_id}`);
    await terminal.waitFor(new RegExp(`${run.workflow_run_id}\\s+ws_flow\\s+cancelled`));
    expect((await client.get(run.workflow_run_id)).status).toBe('cancelled');
  });
});

describe('stepwise events', () => {
  it('prints ids, answers and outputs, follows the run, and exits 0 when it completes', async () => {
    const run = await startAtRest(versions['ws_flow'] ?? '');
    await freshScreen();
    terminal.type(`${stepwise} events ${run.workflow_run_id}; echo "exit=$?"`);
    await terminal.waitFor(/interaction_requested\s+pick\.colour/);
    await terminal.waitFor(/asks: Which colour\?/);

    const atName = await client.answerPending(run, { selected_indices: [1] });
    await terminal.waitFor(/interaction_requested\s+naming\.name/);
    await client.answerPending(atName, { value: 'Rex' });
    expect(Number((await terminal.waitFor(/exit=(\d+)/))[1])).toBe(0);
    const screen = terminal.screen();
    expect(screen).toContain('the run completed');

    const log = await client.events(run.workflow_run_id);
    const line = (event: EventView | undefined) =>
      new RegExp(
        `\\s${event?.seq}\\s+\\d\\d:\\d\\d:\\d\\d\\s+${event?.event_id}\\s+${event?.event_type}\\s+`,
      );
    const responded = log.filter((event) => event.event_type === 'interaction_responded');
    expect(responded).toHaveLength(2);
    expect(screen).toMatch(line(responded[0]));
    expect(screen).toMatch(/interaction_responded\s+pick\.colour\s+by you\n\s+answer: /);
    // Who answered is said at the answer, not again at each event the runner appended for it.
    expect(screen).toMatch(/module_completed\s+pick\.colour\n/);
    expect(screen).toContain('answer: {"selected_indices":[1]}');
    expect(screen).toContain('answer: {"value":"Rex"}');
    const echoed = log.find(
      (event) => event.event_type === 'module_completed' && event.module_name === 'echo',
    );
    expect(screen).toMatch(line(echoed));
    expect(screen).toContain('outputs: {"value":"Rex"}');
    expect(screen).toMatch(line(log.at(-1)));
    expect(log.at(-1)?.event_type).toBe('run_completed');
    expect(responded.map((event) => event.actor?.user_id)).toEqual([userId, userId]);
  });

  it('exits non-zero when the run it follows fails, showing the error and the attempt', async () => {
    const run = await startAtRest(versions['ws_fails'] ?? '');
    await freshScreen();
    terminal.type(`${stepwise} events ${run.workflow_run_id}; echo "exit=$?"`);
    await terminal.waitFor(/interaction_requested\s+check\.go/);
    await client.answerPending(run, { confirmed: true });
    expect(Number((await terminal.waitFor(/exit=(\d+)/))[1])).toBe(1);
    const screen = terminal.screen();
    expect(screen).toMatch(
      /module_failed\s+work\.break.*\n\s+error \w+: .*flaky failure on attempt 1.*\(attempt 1\)/,
    );
    expect(screen).toContain('the run failed');
    expect((await client.get(run.workflow_run_id)).status).toBe('error');

    // Printed again without following: the same code.
    await freshScreen();
    expect(await exitCodeOf(`${stepwise} events ${run.workflow_run_id} --no-follow`)).toBe(1);
    expect(terminal.screen()).toMatch(/run_failed/);
  });

  it('prints and exits with --no-follow while the run still waits', async () => {
    const run = await startAtRest(versions['ws_flow'] ?? '');
    await freshScreen();
    expect(await exitCodeOf(`${stepwise} events ${run.workflow_run_id} --no-follow`)).toBe(0);
    expect(terminal.screen()).toMatch(/interaction_requested\s+pick\.colour/);
    expect((await client.get(run.workflow_run_id)).status).toBe('awaiting_input');
  });
});

describe('stepwise answer and run', () => {
  it('asks the current question when the one on screen was answered elsewhere', async () => {
    const run = await startAtRest(versions['ws_flow'] ?? '');
    await freshScreen();
    terminal.type(`${stepwise} answer ${run.workflow_run_id}`);
    await terminal.waitFor(/Which colour\?/);
    // Someone else answers first, with the second option.
    await client.answerPending(run, { selected_indices: [1] });
    terminal.press('Enter'); // the first option, for a question no longer pending
    await terminal.waitFor(/That question is no longer waiting .*here is the one it asks now\./);
    await terminal.waitFor(/Name it/);
    terminal.type('Rex');
    await terminal.waitFor(new RegExp(`${run.workflow_run_id}\\s+ws_flow\\s+completed`));
    expect((await client.state(run.workflow_run_id)).state).toMatchObject({
      colour: 'green',
      name: 'Rex',
    });
  });

  it('exits non-zero when the run it answers ends in error', async () => {
    const run = await startAtRest(versions['ws_fails'] ?? '');
    await freshScreen();
    terminal.type(`${stepwise} answer ${run.workflow_run_id}; echo "exit=$?"`);
    await terminal.waitFor(/Go ahead\?/);
    terminal.press('Enter');
    expect(Number((await terminal.waitFor(/exit=(\d+)/))[1])).toBe(1);
    expect(terminal.screen()).toMatch(new RegExp(`${run.workflow_run_id}\\s+ws_fails\\s+error`));
    expect((await client.get(run.workflow_run_id)).status).toBe('error');
  });

  it('`run` exits non-zero when the run fails, and 0 when it waits', async () => {
    await client.submitJson({
      workflow_id: 'ws_fails_now',
      steps: [
        {
          step_id: 'work',
          modules: [{ module_id: 'test.flaky', name: 'break', inputs: { fail_times: 99 } }],
        },
      ],
    });
    await freshScreen();
    expect(await exitCodeOf(`${stepwise} run ws_fails_now --project demo`)).toBe(1);
    expect(terminal.screen()).toMatch(/ws_fails_now\s+error/);
    await freshScreen();
    expect(await exitCodeOf(`${stepwise} run ws_flow --project demo`)).toBe(0);
    expect(terminal.screen()).toMatch(/ws_flow\s+awaiting_input/);
  });
});

describe('stepwise artifacts RUN', () => {
  it('lists, and downloads every artifact of a run into a folder', async () => {
    const versionId = await client.submitJson({
      workflow_id: 'ws_files',
      steps: [
        {
          step_id: 'save',
          modules: [
            {
              module_id: 'artifact.save',
              name: 'notes',
              inputs: { name: 'notes.txt', content: 'first notes\n' },
            },
            {
              module_id: 'artifact.save',
              name: 'more',
              inputs: { name: 'more/notes.txt', content: 'second notes\n' },
            },
          ],
        },
      ],
    });
    const { run } = await client.start({ workflow_version_id: versionId }, '?wait_ms=20000');
    expect(run.status).toBe('completed');
    const items = (
      (await (await client.request(`/v1/runs/${run.workflow_run_id}/artifacts`)).json()) as {
        items: { artifact_id: string; name: string }[];
      }
    ).items;
    expect(items).toHaveLength(2);

    await freshScreen();
    terminal.type(`${stepwise} artifacts ${run.workflow_run_id}`);
    await terminal.waitFor(/ID\s+NAME\s+TYPE\s+SIZE\s+STEP\.MODULE\s+CREATED/);
    await terminal.waitFor(new RegExp(`${items[1]?.artifact_id}\\s+more/notes\\.txt`));

    await freshScreen();
    expect(await exitCodeOf(`${stepwise} artifacts ${run.workflow_run_id} --download saved`)).toBe(
      0,
    );
    await terminal.waitFor(/2 artifacts of run_\w+ saved in .*saved/);
    // Both are named notes.txt: the second keeps apart, its id in front.
    expect(readFileSync(join(workDir, 'saved', 'notes.txt'), 'utf8')).toBe('first notes\n');
    expect(readFileSync(join(workDir, 'saved', `${items[1]?.artifact_id}-notes.txt`), 'utf8')).toBe(
      'second notes\n',
    );

    // The subcommand keeps its own --force.
    writeFileSync(join(workDir, 'stale.txt'), 'old');
    await freshScreen();
    expect(
      await exitCodeOf(
        `${stepwise} artifacts download ${items[0]?.artifact_id} --out stale.txt --force`,
      ),
    ).toBe(0);
    expect(readFileSync(join(workDir, 'stale.txt'), 'utf8')).toBe('first notes\n');
  });
});

describe('stepwise resume with a changed workflow', () => {
  const resumeFlow = (prompt: string) => ({
    workflow_id: 'ws_resume',
    initial_state: { topic: 'otters' },
    steps: [
      {
        step_id: 'describe',
        modules: [
          {
            module_id: 'user.text_input',
            name: 'text',
            inputs: { prompt },
            outputs_to_state: { value: 'description' },
          },
        ],
      },
      {
        step_id: 'pick',
        modules: [
          {
            module_id: 'user.select',
            name: 'colour',
            inputs: { prompt: 'Which colour?', options: ['red', 'green'] },
            outputs_to_state: { selected: 'colour' },
          },
        ],
      },
    ],
  });
  const oldPrompt = 'Describe {{ state.topic }} in a line';
  const newPrompt = 'Describe {{ state.topic }} in one funny line';
  const changedFile = join(workDir, 'ws_resume_v2.json');

  /** A run of the original version that has answered the question the new version changes. */
  async function pastTheChange(): Promise<RunView> {
    const run = await startAtRest(versions['ws_resume'] ?? '');
    const atPick = await client.answerPending(run, { value: 'sleepy' });
    expect(atPick.current_step).toBe('pick');
    return atPick;
  }

  beforeAll(async () => {
    versions['ws_resume'] = await client.submitJson(resumeFlow(oldPrompt));
    writeFileSync(changedFile, JSON.stringify(resumeFlow(newPrompt)));
  });

  it('shows the changed text and the warning the API gives, and goes back when asked', async () => {
    const run = await pastTheChange();
    await freshScreen();
    terminal.type(`${stepwise} resume ${run.workflow_run_id} ${changedFile}`);
    const submitted =
      (
        await terminal.waitFor(/The workflow changed: the run is on ver_\S+, you sent (ver_\S+)\./)
      )[1]?.replace(/\.$/, '') ?? '';
    await terminal.waitFor(/How should the run go on\?/);
    await terminal.waitFor(/Switch to the new version and go back to step describe/);

    // The same words as the API's view of the change.
    const response = await client.request(
      `/v1/runs/${run.workflow_run_id}/version-changes?version_id=${submitted}`,
    );
    expect(response.status).toBe(200);
    const view = (await response.json()) as {
      options: string[];
      warning: string | null;
      changes: { modules: { step_id: string; text_changes: { field: string; diff: string }[] }[] };
    };
    expect(view.options[0]).toBe('restart_at');
    const screen = terminal.screen();
    expect(screen).toMatch(/changed\s+describe\.text \(inputs\)\s+before the run's position/);
    expect(view.warning).toBeTruthy();
    expect(screen).toContain(`Warning: ${view.warning}`);
    const textChanges = view.changes.modules.flatMap((module) => module.text_changes);
    expect(textChanges.map((change) => change.field)).toContain('inputs.prompt');
    for (const change of textChanges) {
      expect(screen).toContain(`    ${change.field}:`);
      for (const line of change.diff.replace(/\n$/, '').split('\n'))
        expect(screen).toContain(`      ${line}`.trimEnd());
    }
    expect(screen).toContain(`-${oldPrompt}`);
    expect(screen).toContain(`+${newPrompt}`);

    terminal.press('Enter'); // go back to the step holding the change
    await terminal.waitFor(
      new RegExp(`switched to the new version ${submitted} and went back to describe\\.text`),
    );
    await terminal.waitFor(/waiting for input: Describe otters in one funny line/);
    const after = await client.get(run.workflow_run_id);
    expect(after.current_version_id).toBe(submitted);
    expect(after.current_step).toBe('describe');
    expect((after.pending_interaction?.request as { prompt?: string }).prompt).toBe(
      'Describe otters in one funny line',
    );
  });

  it('says plainly what continuing with the new version does not run again', async () => {
    const run = await pastTheChange();
    await freshScreen();
    terminal.type(`${stepwise} resume ${run.workflow_run_id} ${changedFile}`);
    await terminal.waitFor(/How should the run go on\?/);
    terminal.press('Down'); // continue with the new version from where the run stands
    await terminal.waitFor(/❯ Continue with the new version from where the run stands/);
    terminal.press('Enter');
    await terminal.waitFor(
      /switched to the new version ver_\S+, going on from pick\.colour; these changes were NOT run again/,
    );
    await terminal.waitFor(/- describe\.text changed \(inputs\) and the run has passed it/);
    const after = await client.get(run.workflow_run_id);
    expect(after.current_version_id).not.toBe(run.current_version_id);
    expect(after.current_step).toBe('pick');
    expect((await client.state(run.workflow_run_id)).state['description']).toBe('sleepy');
  });
});
