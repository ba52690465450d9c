import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  impactReportSchema,
  migrationDryRunSchema,
  migrationViewSchema,
  type EventView,
  type MigrationView,
  type RunView,
} from '@stepwise/shared';
import { useTestDatabases } from './support/databases.js';
import { createTestUser, startTestGateway, startTestResolver } from './support/gateway.js';
import { startTestRunner } from './support/runner.js';
import { RunsClient } from './support/runs.js';
import { TestTerminal } from './support/terminal.js';

/**
 * Versions at scale in the terminal (issue 20): `impact` says which runs a version touches and how,
 * `migrate --dry-run` says what a migration would do and changes nothing, `migrate` moves the runs
 * and follows the migration to its end. Each command is typed into a real terminal against a
 * running gateway and runner (whose migration worker takes the migration), and what it did is
 * checked through the API.
 */
const db = await useTestDatabases('cli_migrations');
const gateway = await startTestGateway(db);
await startTestResolver(db);
await startTestRunner(db);

const root = new URL('../', import.meta.url).pathname;
const configDir = mkdtempSync(join(tmpdir(), 'stepwise-cli-migrations-config-'));
const workDir = mkdtempSync(join(tmpdir(), 'stepwise-cli-migrations-'));
const terminal = new TestTerminal(workDir, { STEPWISE_CONFIG_DIR: configDir, NO_COLOR: '1' });
const stepwise = `${root}node_modules/.bin/stepwise`;

/** A question whose prompt v2 changes, then a choice, then an echo. */
const flow = (workflowId: string, prompt: string, withPick = true) => ({
  workflow_id: workflowId,
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
    ...(withPick
      ? [
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
        ]
      : []),
    {
      step_id: 'finish',
      modules: [
        { module_id: 'test.echo', name: 'echo', inputs: { value: '{{ state.description }}' } },
      ],
    },
  ],
});
const oldPrompt = 'Describe {{ state.topic }} in a line';
const newPrompt = 'Describe {{ state.topic }} in one funny line';

let client: RunsClient;

beforeAll(async () => {
  const created = await createTestUser(gateway, 'migrations');
  client = new RunsClient(gateway, created.api_key);
  terminal.type(`${stepwise} login --server ${gateway.url} --key ${created.api_key}`);
  await terminal.waitFor(/Logged in to .* as migrations/);
});

/** A template in two versions, a run waiting at the changed question and one that has passed it. */
async function twoVersionsAndRuns(template: string) {
  const v1 = await client.submitJson(flow(template, oldPrompt));
  const v2 = await client.submitJson(flow(template, newPrompt));
  const atQuestion = await startAtRest(v1);
  const passed = await client.answerPending(await startAtRest(v1), { value: 'sleepy' });
  expect(passed.current_step).toBe('pick');
  return { v1, v2, atQuestion, passed };
}

async function startAtRest(versionId: string): Promise<RunView> {
  const { run } = await client.start({ workflow_version_id: versionId }, '?wait_ms=20000');
  expect(run.status).toBe('awaiting_input');
  return run;
}

/** Clears the terminal, so that nothing an earlier command printed matches what the next prints. */
async function freshScreen(): Promise<void> {
  terminal.clear();
  await terminal.waitFor(/^\s*bash-[\d.]+#\s*$/);
}

/** Types a command, then prints its exit code; answers the code once the command has ended. */
async function exitCodeOf(command: string, timeoutMs = 60_000): Promise<number> {
  terminal.type(`${command}; echo "exit=$?"`);
  return Number((await terminal.waitFor(/exit=(\d+)/, timeoutMs))[1]);
}

/** `ver_…` and the id's last 8 characters, as the tables show a version. */
const short = (versionId: string) => `ver_…${versionId.slice(-8)}`;
const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

describe('stepwise impact', () => {
  it('says which runs continue as is and which passed a change, with the step to restart at', async () => {
    const { v1, v2, atQuestion, passed } = await twoVersionsAndRuns('mig_impact');

    await freshScreen();
    expect(await exitCodeOf(`${stepwise} impact mig_impact ${v2}`)).toBe(0);
    const screen = terminal.screen();
    expect(screen).toMatch(/RUN\s+STATUS\s+VERSION\s+POSITION\s+BEFORE\/AT\/AFTER\s+VERDICT/);
    expect(screen).toMatch(
      new RegExp(
        `${passed.workflow_run_id}\\s+awaiting_input\\s+${escape(short(v1))}\\s+pick\\.colour\\s+1/0/0\\s+` +
          'changes behind its position: restart at describe suggested\\n',
      ),
    );
    expect(screen).toMatch(
      new RegExp(
        `${atQuestion.workflow_run_id}\\s+awaiting_input\\s+${escape(short(v1))}\\s+describe\\.text\\s+0/1/0\\s+` +
          'continues as is; its question changes\\n',
      ),
    );
    expect(screen).toContain(`${short(v1)} is ${v1}`);
    expect(screen).not.toContain('more runs follow');

    // One run a page: the first page says how to see the rest; --all reads them all.
    await freshScreen();
    expect(await exitCodeOf(`${stepwise} impact mig_impact ${v2} --limit 1`)).toBe(0);
    expect(terminal.screen()).toContain('more runs follow: add --all to list them all');
    expect(terminal.screen().match(/run_[0-9a-f]{24}\s+awaiting_input/g)).toHaveLength(1);
    await freshScreen();
    expect(
      await exitCodeOf(`${stepwise} impact mig_impact ${v2} --limit 1 --all --json > all.json`),
    ).toBe(0);
    const all = impactReportSchema.parse(
      JSON.parse(readFileSync(join(workDir, 'all.json'), 'utf8')),
    );
    expect(all.next_cursor).toBeNull();
    expect(new Set(all.items.map((item) => item.workflow_run_id))).toEqual(
      new Set([atQuestion.workflow_run_id, passed.workflow_run_id]),
    );
  });
});

describe('stepwise migrate', () => {
  it('--dry-run prints what each run would become and changes nothing', async () => {
    const { v1, v2, atQuestion, passed } = await twoVersionsAndRuns('mig_dry');
    const logBefore = await client.events(passed.workflow_run_id);

    await freshScreen();
    expect(
      await exitCodeOf(
        `${stepwise} migrate mig_dry --to ${v2} --policy restart_at_earliest_change --dry-run`,
      ),
    ).toBe(0);
    let screen = terminal.screen();
    expect(screen).toContain(`dry run, nothing changed: moving runs of mig_dry to ${v2}`);
    expect(screen).toContain('2 matched: 1 switched, 1 restarted_at, 0 skipped, 0 failed');
    expect(screen).toMatch(
      new RegExp(`${passed.workflow_run_id}\\s+${escape(short(v1))}\\s+restarted_at describe\\n`),
    );
    expect(screen).toMatch(
      new RegExp(`${atQuestion.workflow_run_id}\\s+${escape(short(v1))}\\s+switched\\n`),
    );

    await freshScreen();
    expect(
      await exitCodeOf(`${stepwise} migrate mig_dry --to ${v2} --policy skip_if_behind --dry-run`),
    ).toBe(0);
    screen = terminal.screen();
    expect(screen).toContain('2 matched: 1 switched, 0 restarted_at, 1 skipped, 0 failed');
    expect(screen).toMatch(
      new RegExp(
        `${passed.workflow_run_id}\\s+${escape(short(v1))}\\s+skipped: 1 change lies behind its position \\(pick\\.colour\\)`,
      ),
    );

    // --json: the server's answer as it is.
    await freshScreen();
    expect(
      await exitCodeOf(
        `${stepwise} migrate mig_dry --to ${v2} --policy skip_if_behind --dry-run --json > dry.json`,
      ),
    ).toBe(0);
    const dryRun = migrationDryRunSchema.parse(
      JSON.parse(readFileSync(join(workDir, 'dry.json'), 'utf8')),
    );
    expect(dryRun.counts).toMatchObject({ matched: 2, switched: 1, skipped: 1 });

    for (const run of [atQuestion, passed]) {
      const after = await client.get(run.workflow_run_id);
      expect(after.current_version_id).toBe(v1);
      expect(after.current_step).toBe(run.current_step);
    }
    expect(await client.events(passed.workflow_run_id)).toEqual(logBefore);
  });

  it('moves the runs, follows the migration to the end and exits 0', async () => {
    const { v2, atQuestion, passed } = await twoVersionsAndRuns('mig_real');

    await freshScreen();
    expect(
      await exitCodeOf(
        `${stepwise} migrate mig_real --to ${v2} --policy restart_at_earliest_change ` +
          `--run ${atQuestion.workflow_run_id} ${passed.workflow_run_id}`,
      ),
    ).toBe(0);
    const screen = terminal.screen();
    const migrationId =
      screen.match(
        /migration (mig_[0-9a-f-]{36}): 2 runs of mig_real to ver_\S+ by restart_at_earliest_change/,
      )?.[1] ?? '';
    expect(migrationId).not.toBe('');
    expect(screen).toContain('2/2 done');
    expect(screen).toContain(
      'completed: 2 matched: 1 switched, 1 restarted_at, 0 skipped, 0 failed',
    );
    expect(screen).toMatch(
      new RegExp(`${passed.workflow_run_id}\\s+\\S+\\s+restarted_at describe\\n`),
    );
    expect(screen).toMatch(new RegExp(`${atQuestion.workflow_run_id}\\s+\\S+\\s+switched\\n`));

    const moved = await client.get(passed.workflow_run_id);
    expect(moved.current_version_id).toBe(v2);
    expect(moved.current_step).toBe('describe');
    const switched = (await client.events(passed.workflow_run_id)).filter(
      (event: EventView) => event.event_type === 'version_switched',
    );
    expect(switched.at(-1)?.data).toMatchObject({
      to_version_id: v2,
      restart_at: { step_id: 'describe', module_name: 'text' },
    });
    const continued = await client.get(atQuestion.workflow_run_id);
    expect(continued.current_version_id).toBe(v2);
    expect(continued.current_step).toBe('describe');

    // The migration as the API keeps it agrees with what was printed.
    const response = await client.request(`/v1/templates/mig_real/migrations/${migrationId}`);
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({
      status: 'completed',
      counts: { matched: 2, pending: 0, switched: 1, restarted_at: 1, skipped: 0, failed: 0 },
    });
  });

  it('--no-follow --json prints the queued migration and leaves it to the runner', async () => {
    const { v2, atQuestion, passed } = await twoVersionsAndRuns('mig_nofollow');
    await freshScreen();
    expect(
      await exitCodeOf(
        `${stepwise} migrate mig_nofollow --to ${v2} --policy continue_with_new --no-follow --json > queued.json`,
      ),
    ).toBe(0);
    const queued = migrationViewSchema.parse(
      JSON.parse(readFileSync(join(workDir, 'queued.json'), 'utf8')),
    );
    expect(queued.counts.matched).toBe(2);
    // The runner takes it on by itself.
    let current: MigrationView = queued;
    while (current.status !== 'completed') {
      await new Promise((resolve) => setTimeout(resolve, 200));
      const response = await client.request(
        `/v1/templates/mig_nofollow/migrations/${queued.migration_id}`,
      );
      expect(response.status).toBe(200);
      current = migrationViewSchema.parse(await response.json());
    }
    expect(current.counts).toMatchObject({ matched: 2, switched: 2, failed: 0 });
    for (const run of [atQuestion, passed])
      expect((await client.get(run.workflow_run_id)).current_version_id).toBe(v2);
  });

  it('exits 1 and says so when a run fails to move, leaving it on its version', async () => {
    const v1 = await client.submitJson(flow('mig_gone', oldPrompt));
    const v2 = await client.submitJson(flow('mig_gone', oldPrompt, false));
    const atPick = await client.answerPending(await startAtRest(v1), { value: 'sleepy' });
    expect(atPick.current_step).toBe('pick');

    await freshScreen();
    expect(
      await exitCodeOf(`${stepwise} migrate mig_gone --to ${v2} --policy continue_with_new`),
    ).toBe(1);
    const screen = terminal.screen();
    expect(screen).toContain(
      'completed: 1 matched: 0 switched, 0 restarted_at, 0 skipped, 1 failed',
    );
    expect(screen).toMatch(
      new RegExp(
        `${atPick.workflow_run_id}\\s+\\S+\\s+failed: the target version has no pick\\.colour, where the run stands \\(POSITION_NOT_IN_VERSION\\)`,
      ),
    );
    expect(screen).toContain('1 run failed to move (the reasons are above)');
    expect((await client.get(atPick.workflow_run_id)).current_version_id).toBe(v1);
  });

  it('refuses a policy it does not know, naming the ones it does', async () => {
    const { v2, passed } = await twoVersionsAndRuns('mig_bad');
    await freshScreen();
    expect(
      await exitCodeOf(`${stepwise} migrate mig_bad --to ${v2} --policy restart_everything`),
    ).not.toBe(0);
    expect(terminal.screen()).toContain(
      "error: option '--policy <policy>' argument 'restart_everything' is invalid. Allowed choices are continue_with_new, restart_at_earliest_change, skip_if_behind.",
    );
    expect((await client.get(passed.workflow_run_id)).current_version_id).not.toBe(v2);
  });
});
