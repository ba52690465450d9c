import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  impactReportSchema,
  migrationDryRunSchema,
  migrationViewSchema,
  versionChangeViewSchema,
  type MigrationRunOutcome,
  type MigrationView,
  type RunImpact,
} from '@stepwise/shared';
import { useTestDatabases } from './support/databases.js';
import { createTestUser, startTestGateway, startTestResolver } from './support/gateway.js';
import { startQuickRecoveryRunner, type ServiceProcess } from './support/processes.js';
import { RunsClient } from './support/runs.js';

/**
 * Batch migration at scale (versions.md, "Impact report" and "Batch migration"): 300 waiting runs
 * over three versions and three positions, moved onto a fourth. The impact report places each run
 * as its own version-changes answer does; a dry run writes nothing and predicts the migration
 * exactly; a migration whose runner is killed (SIGKILL) halfway ends, once another runner takes it
 * over, in the same state as an uninterrupted one; another user's runs are never touched.
 */
const RUNS_PER_VERSION = 100;
const db = await useTestDatabases('batch_migration');
const gateway = await startTestGateway(db);
await startTestResolver(db);

const runners: ServiceProcess[] = [];
async function startRunner(): Promise<ServiceProcess> {
  const runner = await startQuickRecoveryRunner(db);
  runners.push(runner);
  return runner;
}
afterAll(async () => {
  for (const runner of runners) runner.child.kill('SIGKILL');
});

const TEMPLATE = 'migrated_posts';
type Label = 'v1' | 'v2' | 'v3' | 'v4';

/**
 * Against v4 (the target): v1 differs only in the last question (after or at every position), v2
 * in the second question (behind a run at `publish`), v3 in the draft's prompt (behind them all).
 */
function posts(label: Label) {
  const ask = (step: string, message: string) => ({
    step_id: step,
    modules: [{ module_id: 'user.confirm', name: 'ask', inputs: { message } }],
  });
  return {
    workflow_id: TEMPLATE,
    initial_state: { topic: 'cats' },
    steps: [
      {
        step_id: 'draft',
        modules: [
          {
            module_id: 'transform.template',
            name: 'render',
            inputs: {
              template:
                label === 'v3'
                  ? 'Write at length about {{ state.topic }}.'
                  : 'Write about {{ state.topic }}.',
            },
            outputs_to_state: { text: 'prompt' },
          },
        ],
      },
      ask('tone', 'Is the tone right for: {{ state.prompt }}'),
      ask('length', label === 'v2' ? 'Is it short enough?' : 'Is it under 30 seconds?'),
      ask('publish', label === 'v1' ? 'Publish it?' : 'Publish it now?'),
    ],
  };
}

/** One user's world: the template's four versions and 300 runs waiting at known places. */
interface World {
  client: RunsClient;
  versions: Record<Label, string>;
  /** In creation order; the same order and answers for every world. */
  runs: { runId: string; label: Label; answers: number }[];
}

async function inParallel<T>(count: number, width: number, task: (index: number) => Promise<T>) {
  const results: T[] = new Array<T>(count);
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < count) {
        const index = next++;
        results[index] = await task(index);
      }
    }),
  );
  return results;
}

async function seedWorld(username: string, runsPerVersion: number): Promise<World> {
  const client = new RunsClient(gateway, (await createTestUser(gateway, username)).api_key);
  const versions = {} as Record<Label, string>;
  for (const label of ['v1', 'v2', 'v3', 'v4'] as const)
    versions[label] = await client.submitJson(posts(label));
  const plan = (['v1', 'v2', 'v3'] as const).flatMap((label) =>
    Array.from({ length: runsPerVersion }, (_, index) => ({ label, answers: index % 3 })),
  );
  const created = await inParallel(plan.length, 8, async (index) => {
    const { label, answers } = plan[index] ?? { label: 'v1' as const, answers: 0 };
    const started = await client.start({ workflow_version_id: versions[label] }, '?wait_ms=10000');
    expect(started.status).toBe(201);
    let run = started.run;
    for (let answered = 0; answered < answers; answered += 1) {
      run = await client.answerPending(run, { confirmed: true });
    }
    expect(run.status).toBe('awaiting_input');
    return { runId: run.workflow_run_id, label, answers };
  });
  return {
    client,
    versions,
    runs: created,
  };
}

async function impactOf(world: World): Promise<RunImpact[]> {
  const items: RunImpact[] = [];
  let cursor = '';
  for (;;) {
    const response = await world.client.request(
      `/v1/templates/${TEMPLATE}/versions/${world.versions.v4}/impact?limit=100${cursor}`,
    );
    expect(response.status).toBe(200);
    const page = impactReportSchema.parse(await response.json());
    items.push(...page.items);
    if (page.next_cursor === null) return items;
    cursor = `&cursor=${page.next_cursor}`;
  }
}

async function migrate(world: World, body: Record<string, unknown>) {
  return world.client.request(`/v1/templates/${TEMPLATE}/migrations`, {
    method: 'POST',
    json: { to_version_id: world.versions.v4, policy: 'restart_at_earliest_change', ...body },
  });
}

async function readMigration(world: World, migrationId: string): Promise<MigrationView> {
  const outcomes: MigrationRunOutcome[] = [];
  let cursor = '';
  for (;;) {
    const response = await world.client.request(
      `/v1/templates/${TEMPLATE}/migrations/${migrationId}?limit=1000${cursor}`,
    );
    expect(response.status).toBe(200);
    const page = migrationViewSchema.parse(await response.json());
    outcomes.push(...page.outcomes);
    if (page.next_cursor === null) return { ...page, outcomes };
    cursor = `&cursor=${page.next_cursor}`;
  }
}

async function untilCompleted(world: World, migrationId: string): Promise<MigrationView> {
  for (;;) {
    const migration = await readMigration(world, migrationId);
    if (migration.status === 'completed') return migration;
    await sleep(200);
  }
}

/** What "the same state" means (versions.md): ids and times may differ, nothing else. */
async function comparableRuns(world: World) {
  const labelOf = new Map(Object.entries(world.versions).map(([label, id]) => [id, label]));
  return Promise.all(
    world.runs.map(async ({ runId }) => {
      const run = await world.client.get(runId);
      const events = await world.client.events(runId);
      return {
        version: labelOf.get(run.current_version_id),
        status: run.status,
        state: (await world.client.state(runId)).state,
        position: [run.current_step, run.current_module],
        pending: run.pending_interaction?.request ?? null,
        events: events.map((event) => event.event_type),
      };
    }),
  );
}

/** The outcome the layout of the versions implies for a run under restart_at_earliest_change. */
function expectedOutcome(
  label: Label,
  answers: number,
): { outcome: string; restart_at: string | null } {
  if (label === 'v3') return { outcome: 'restarted_at', restart_at: 'draft' };
  if (label === 'v2' && answers === 2) return { outcome: 'restarted_at', restart_at: 'length' };
  return { outcome: 'switched', restart_at: null };
}

let owner: World;
let twin: World;
let stranger: World;

beforeAll(async () => {
  await startRunner();
  owner = await seedWorld('migration_owner', RUNS_PER_VERSION);
  twin = await seedWorld('migration_twin', RUNS_PER_VERSION);
  stranger = await seedWorld('migration_stranger', 3);
}, 600_000);

describe('the impact report over 300 waiting runs', () => {
  it('places every run as its own version-changes answer does', async () => {
    const items = await impactOf(owner);
    expect(items).toHaveLength(3 * RUNS_PER_VERSION);
    const byRun = new Map(items.map((item) => [item.workflow_run_id, item]));
    await inParallel(owner.runs.length, 8, async (index) => {
      const { runId, label, answers } = owner.runs[index] ?? { runId: '', label: 'v1', answers: 0 };
      const item = byRun.get(runId);
      const response = await owner.client.request(
        `/v1/runs/${runId}/version-changes?version_id=${owner.versions.v4}`,
      );
      expect(response.status).toBe(200);
      const view = versionChangeViewSchema.parse(await response.json());
      expect(item?.current_version_id).toBe(owner.versions[label]);
      expect(item?.changes).toEqual(view.changes);
      expect(item?.behind_position).toEqual(view.behind_position);
      expect(item?.suggested_restart_at).toBe(view.suggested_restart_at);
      expect(item?.options).toEqual(view.options);
      // And by the layout of the versions, independently of the server's own view.
      const expected = expectedOutcome(label, answers);
      expect(item?.continue_without_restart).toBe(expected.outcome === 'switched');
      expect(item?.suggested_restart_at).toBe(expected.restart_at);
    });
  }, 120_000);

  it('answers a resume with the v4 workflow with the same VERSION_MISMATCH view', async () => {
    const items = new Map((await impactOf(owner)).map((item) => [item.workflow_run_id, item]));
    for (const runId of [0, 150, 299].map((index) => owner.runs[index]?.runId ?? '')) {
      const response = await owner.client.request(`/v1/runs/${runId}/resume`, {
        method: 'POST',
        json: posts('v4'),
      });
      expect(response.status).toBe(409);
      const body = (await response.json()) as { error: { code: string; details: unknown } };
      expect(body.error.code).toBe('VERSION_MISMATCH');
      const view = versionChangeViewSchema.parse(body.error.details);
      expect(view.suggested_restart_at).toBe(items.get(runId)?.suggested_restart_at);
      expect(view.changes).toEqual(items.get(runId)?.changes);
    }
  });
});

describe('a batch migration of 300 runs', () => {
  let predicted: MigrationRunOutcome[] = [];

  it('dry run: writes nothing and says what would happen to each run', async () => {
    const before = await Promise.all([
      db.models.migrations.countDocuments(),
      db.models.migrationRuns.countDocuments(),
      db.models.runCommands.countDocuments(),
      db.models.events.countDocuments(),
    ]);
    const response = await migrate(owner, { dry_run: true });
    expect(response.status).toBe(200);
    const dry = migrationDryRunSchema.parse(await response.json());
    expect(dry.counts).toEqual({
      matched: 300,
      pending: 0,
      switched: 100 + 67,
      restarted_at: 100 + 33,
      skipped: 0,
      failed: 0,
    });
    const byRun = new Map(dry.outcomes.map((outcome) => [outcome.workflow_run_id, outcome]));
    for (const { runId, label, answers } of owner.runs) {
      expect(byRun.get(runId)).toMatchObject(expectedOutcome(label, answers));
    }
    predicted = dry.outcomes;
    const after = await Promise.all([
      db.models.migrations.countDocuments(),
      db.models.migrationRuns.countDocuments(),
      db.models.runCommands.countDocuments(),
      db.models.events.countDocuments(),
    ]);
    expect(after).toEqual(before);
  });

  it('moves every run as the dry run said, and touches no other user’s runs', async () => {
    const strangerBefore = await comparableRuns(stranger);
    const response = await migrate(owner, {});
    expect(response.status).toBe(202);
    const created = migrationViewSchema.parse(await response.json());
    expect(created.counts.matched).toBe(300);
    const done = await untilCompleted(owner, created.migration_id);
    expect(done.counts).toMatchObject({ pending: 0, skipped: 0, failed: 0 });
    const real = new Map(done.outcomes.map((outcome) => [outcome.workflow_run_id, outcome]));
    for (const guess of predicted) {
      expect(real.get(guess.workflow_run_id)).toMatchObject({
        outcome: guess.outcome,
        restart_at: guess.restart_at,
        reason: guess.reason,
      });
    }
    const after = await comparableRuns(owner);
    for (const run of after) expect(run.version).toBe('v4');
    // The stranger's runs of a template with the same name are where they were.
    expect(await comparableRuns(stranger)).toEqual(strangerBefore);
    // Run ids of another user match nothing.
    const foreign = await migrate(owner, {
      filter: { run_ids: stranger.runs.map((run) => run.runId) },
      dry_run: true,
    });
    expect(migrationDryRunSchema.parse(await foreign.json()).counts.matched).toBe(0);
    const peek = await stranger.client.request(
      `/v1/templates/${TEMPLATE}/migrations/${created.migration_id}`,
    );
    expect(peek.status).toBe(404);
    // A second migration finds nothing left to move.
    const again = migrationDryRunSchema.parse(
      await (await migrate(owner, { dry_run: true })).json(),
    );
    expect(again.counts.matched).toBe(0);
  }, 600_000);

  it('killed (SIGKILL) halfway and taken over by another runner, ends as the uninterrupted one', async () => {
    const response = await migrate(twin, {});
    expect(response.status).toBe(202);
    const { migration_id: migrationId } = migrationViewSchema.parse(await response.json());
    // Wait until the migration is well under way, then kill every runner.
    for (;;) {
      const { counts } = await readMigration(twin, migrationId);
      if (counts.matched - counts.pending >= 100) break;
      await sleep(50);
    }
    for (const runner of runners.splice(0)) {
      runner.child.kill('SIGKILL');
      await runner.exited;
    }
    const halfway = await readMigration(twin, migrationId);
    expect(halfway.status).not.toBe('completed');
    expect(halfway.counts.pending).toBeGreaterThan(0);
    await startRunner();
    const done = await untilCompleted(twin, migrationId);
    expect(done.counts).toMatchObject({ pending: 0, skipped: 0, failed: 0 });
    expect(await comparableRuns(twin)).toEqual(await comparableRuns(owner));
    // One command and one version switch per run, however many times the job was taken.
    for (const { runId } of twin.runs) {
      const commands = await db.models.runCommands.countDocuments({
        workflow_run_id: runId,
        type: 'switch_version',
      });
      expect(commands).toBe(1);
      const switches = await db.models.events.countDocuments({
        workflow_run_id: runId,
        event_type: 'version_switched',
      });
      expect(switches).toBe(1);
    }
  }, 600_000);
});
