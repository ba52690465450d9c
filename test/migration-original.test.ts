import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Connection, mongo } from 'mongoose';
import type { RunView } from '@stepwise/shared';
import {
  writeOriginalDatabase,
  type OriginalFixtureSummary,
  type OriginalGeneration,
} from '../packages/migrate/src/original-fixture/index.js';
import {
  migrateOriginalDatabase,
  type OriginalMigrationReport,
} from '../packages/migrate/src/original/migrate-original.js';
import { hashKeySecretForTests } from './support/keys.js';
import { useTestDatabases, type TestDatabases } from './support/databases.js';
import { startTestGateway, startTestResolver, type TestGateway } from './support/gateway.js';
import { originalRunViews } from './support/original-rules.js';
import { useOwnStandIn } from './support/stand-in.js';
import { dumpDatabase, killRepeatedly } from './support/interrupted-processes.js';
import { logRecord, startProcess } from './support/processes.js';
import { startTestRunner } from './support/runner.js';
import { RunsClient } from './support/runs.js';

/**
 * Issue 24: databases of the original system, in both generations, migrated into Stepwise and
 * checked through the API against an independent implementation of the original's rules
 * (test/support/original-rules.ts reads the source database; it shares no code with the migration).
 */

/** Runs per generation; the figure. */
const RUNS = Number(process.env['ORIGINAL_MIGRATION_RUNS'] ?? 10_000);
/** Requests in flight at once against the gateway. */
const PARALLEL = 16;

const mediaDirs: string[] = [];
afterAll(async () => {
  for (const dir of mediaDirs) await rm(dir, { recursive: true, force: true });
});

async function inParallel<T>(items: readonly T[], each: (item: T) => Promise<void>) {
  let next = 0;
  await Promise.all(
    Array.from({ length: PARALLEL }, async () => {
      while (next < items.length) {
        const item = items[next++] as T;
        await each(item);
      }
    }),
  );
}

async function generated(
  source: TestDatabases,
  generation: OriginalGeneration,
  runs: number,
  seed: string,
) {
  const mediaDir = await mkdtemp(join(tmpdir(), 'original-media-'));
  mediaDirs.push(mediaDir);
  const fixture = await writeOriginalDatabase(source.mongo.db as mongo.Db, {
    generation,
    runs,
    seed,
    mediaDir,
  });
  return { mediaDir, fixture };
}

const migrate = (source: Connection, target: Connection, mediaDir: string) =>
  migrateOriginalDatabase(source, target, {
    defaultUsername: 'admin',
    mediaBase: mediaDir,
    originalMediaBase: null,
    pageSize: 1_000,
    progress: () => undefined,
  });

/** A working secret per migrated user: one of its own original keys, else a Stepwise key. */
async function secretsByUser(
  source: mongo.Db,
  target: TestDatabases,
  report: OriginalMigrationReport,
  fixture: OriginalFixtureSummary,
): Promise<Map<string, string>> {
  const secrets = new Map<string, string>();
  const live = await source
    .collection('access_keys')
    .find({ is_active: { $ne: false }, revoked_at: null })
    .toArray();
  const inactive = new Set(report.accounts.inactive_users);
  for (const key of live) {
    const userId = String(key['user_id']);
    if (!inactive.has(userId) && !secrets.has(userId))
      secrets.set(userId, String(key['access_key']));
  }
  const users = await target.mongo.db?.collection('users').find().toArray();
  for (const user of users ?? []) {
    const userId = String(user['user_id']);
    if (secrets.has(userId)) continue;
    const secret = `sk_test_${userId}`;
    await target.models.accessKeys.create({
      key_id: `key_${createHash('sha256').update(userId).digest('hex').slice(0, 24)}`,
      user_id: userId,
      key_hash: hashKeySecretForTests(secret),
      prefix: secret.slice(0, 10),
      created_at: new Date(),
      last_used_at: null,
      revoked_at: null,
    });
    secrets.set(userId, secret);
  }
  expect(fixture.users.length === 0 || live.length > 0).toBe(true);
  return secrets;
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

// Source and target each on a stand-in of its own: 10,000 runs of a side need more heap than the
// suite's shared stand-in has, and must not slow the files that run beside this one.
const sourceStandIn = useOwnStandIn('5g');
const targetStandIn = useOwnStandIn('8g');

describe('migration from the original system', () => {
  for (const generation of ['multi-user', 'single-user'] as const) {
    it(`${generation}: ${RUNS} runs keep the original's state, usage, files, keys; waiting runs answer, branches fork, new versions win`, async () => {
      const source = await (await sourceStandIn).databases(`${generation}_source`);
      const target = await (await targetStandIn).databases(`${generation}_target`);
      const phases: Record<string, number> = {};
      let phaseStart = performance.now();
      const phase = (name: string) => {
        phases[name] = Math.round((performance.now() - phaseStart) / 100) / 10;
        phaseStart = performance.now();
      };
      const { mediaDir, fixture } = await generated(
        source,
        generation,
        RUNS,
        `issue-24-${generation}`,
      );
      const sourceDb = source.mongo.db as mongo.Db;
      phase('generate');
      const report = await migrate(source.mongo, target.mongo, mediaDir);
      phase('migrate');
      expect(report.generation).toBe(generation);
      expect(report.runs.runs_without_template).toEqual([]);
      expect(report.runs.runs_without_version).toEqual([]);
      expect(report.runs.runs_without_owner).toEqual([]);
      expect(report.files.not_migrated).toEqual([]);
      expect(report.usage.without_run).toEqual([]);
      // Every original type is mapped or kept; none is dropped.
      const targetEvents = await target.mongo.db?.collection('events').countDocuments();
      expect(targetEvents).toBe(await sourceDb.collection('events').countDocuments());
      expect(report.runs.events).toBe(targetEvents);

      const owners = new Map(
        (
          await target.mongo.db
            ?.collection('workflow_runs')
            .find({}, { projection: { workflow_run_id: 1, user_id: 1 } })
            .toArray()
        )?.map((run) => [String(run['workflow_run_id']), String(run['user_id'])]),
      );
      const views = await originalRunViews(sourceDb);
      expect(owners.size).toBe(views.size);
      const secrets = await secretsByUser(sourceDb, target, report, fixture);
      const gateway: TestGateway = await startTestGateway(target);
      const clientOf = (runId: string) =>
        new RunsClient(gateway, secrets.get(owners.get(runId) ?? '') ?? 'no-key');

      // Every run: the state the original's own rules give, and the original's usage totals.
      const mismatches: string[] = [];
      await inParallel([...views.keys()], async (runId) => {
        const view = views.get(runId);
        const client = clientOf(runId);
        const state = await client.request(`/v1/runs/${runId}/state`);
        const body = (await state.json()) as { state: unknown };
        try {
          expect(state.status).toBe(200);
          expect(body.state).toEqual(view?.flatState);
        } catch {
          mismatches.push(runId);
          return;
        }
        const usage = (await (await client.request(`/v1/runs/${runId}/usage`)).json()) as {
          totals: { total_cost: number; input_tokens: number; output_tokens: number };
        };
        if (Math.abs(usage.totals.total_cost - (view?.usageTotal ?? 0)) > 1e-6)
          mismatches.push(`${runId} usage ${usage.totals.total_cost} != ${view?.usageTotal}`);
      });
      expect(mismatches.slice(0, 5)).toEqual([]);

      phase('states and usage');
      // Every file the original stored is an artifact of its run under its own id, with the
      // original's bytes: each run's artifact list names them with their size and sha256, and each
      // file's bytes download byte for byte.
      const files = await sourceDb.collection('workflow_files').find().toArray();
      const media = await sourceDb.collection('generated_content').find().toArray();
      expect(files.length + media.length).toBe(fixture.workflow_files + fixture.media_files);
      const expectedBytes = async (file: mongo.Document): Promise<Buffer> =>
        'file_id' in file
          ? Buffer.from(
              file['content_type'] === 'json'
                ? JSON.stringify(file['content'] ?? null, null, 2)
                : String(file['content'] ?? ''),
            )
          : readFile(
              String(file['local_path']).startsWith('/')
                ? String(file['local_path'])
                : join(mediaDir, String(file['local_path'])),
            );
      const expected = new Map<string, { runId: string; size: number; sha256: string }>();
      for (const file of [...files, ...media]) {
        const bytes = await expectedBytes(file);
        expected.set(String(file['file_id'] ?? file['generated_content_id']), {
          runId: String(file['workflow_run_id']),
          size: bytes.length,
          sha256: sha256(bytes),
        });
      }
      const runsWithFiles = [...new Set([...expected.values()].map((file) => file.runId))];
      const missing: string[] = [];
      let listed = 0;
      await inParallel(runsWithFiles, async (runId) => {
        const response = await clientOf(runId).request(`/v1/runs/${runId}/artifacts`);
        const body = (await response.json()) as {
          items: { artifact_id: string; size: number; sha256: string }[];
        };
        for (const artifact of body.items) {
          const want = expected.get(artifact.artifact_id);
          if (
            !want ||
            want.runId !== runId ||
            want.size !== artifact.size ||
            want.sha256 !== artifact.sha256
          )
            missing.push(
              `${artifact.artifact_id}: listed as ${JSON.stringify(artifact).slice(0, 160)}`,
            );
          else listed++;
        }
      });
      expect(missing.slice(0, 5)).toEqual([]);
      expect(listed).toBe(expected.size);
      let downloaded = 0;
      await inParallel([...expected.entries()], async ([id, want]) => {
        const content = await clientOf(want.runId).request(`/v1/artifacts/${id}/content`);
        const bytes = new Uint8Array(await content.arrayBuffer());
        if (content.status !== 200 || sha256(bytes) !== want.sha256)
          missing.push(`${id}: content ${content.status}`);
        else downloaded++;
      });
      expect(missing.slice(0, 5)).toEqual([]);
      expect(downloaded).toBe(expected.size);

      // Another user's key finds none of a migrated run, its state or its files.
      const owned = [...expected.entries()].find(
        ([, file]) => owners.get(file.runId) !== undefined,
      );
      const stranger = [...secrets.entries()].find(
        ([userId]) => userId !== owners.get(owned?.[1].runId ?? ''),
      );
      if (owned && stranger) {
        const other = new RunsClient(gateway, stranger[1]);
        for (const path of [
          `/v1/runs/${owned[1].runId}/state`,
          `/v1/runs/${owned[1].runId}/usage`,
          `/v1/artifacts/${owned[0]}`,
          `/v1/artifacts/${owned[0]}/content`,
        ])
          expect((await other.request(path)).status, path).toBe(404);
      }
      expect(generation === 'single-user' || (owned !== undefined && stranger !== undefined)).toBe(
        true,
      );

      // Runners only now: they go on with the runs the original left processing (as with any run
      // a crash interrupted), which would move those runs on while the states above are compared.
      await startTestRunner(target);
      await startTestResolver(target);

      phase('files');
      // A waiting run is answered, and moves on under the migrated version.
      expect(fixture.waiting_run_ids.length).toBeGreaterThan(0);
      let answered = 0;
      for (const runId of fixture.waiting_run_ids.slice(0, 20)) {
        const client = clientOf(runId);
        const run = await client.get(runId);
        expect(run.status).toBe('awaiting_input');
        const before = (await client.events(runId)).length;
        const answers: Record<string, unknown> = {
          'user.select': { selected_indices: [0] },
          'user.text_input': { value: 'after migration' },
          'user.confirm': { confirmed: true },
        };
        const response = answers[run.pending_interaction?.module_id ?? ''];
        expect(response, run.pending_interaction?.module_id).toBeDefined();
        const { status, body } = await client.answer(
          runId,
          run.pending_interaction?.interaction_id ?? '',
          response,
        );
        expect(status, JSON.stringify(body)).toBe(200);
        const events = await client.events(runId);
        expect(events.length).toBeGreaterThan(before);
        expect(events[before]?.event_type).toBe('interaction_responded');
        answered++;
        if (answered >= 3) break;
      }
      expect(answered).toBeGreaterThan(0);

      // A branch from a migrated event (its original evt_… id).
      const forkRun = [...views.keys()].find(
        (runId) => (views.get(runId)?.status ?? '') === 'completed',
      );
      expect(forkRun).toBeDefined();
      const forkClient = clientOf(forkRun ?? '');
      const forkEvents = await forkClient.events(forkRun ?? '');
      const forkAt = forkEvents.find((event) => event.event_type === 'module_completed');
      expect(forkAt?.event_id).toMatch(/^evt_[0-9a-f]{32}$/);
      const branched = await forkClient.request(`/v1/runs/${forkRun}/branches`, {
        method: 'POST',
        json: { from_event_id: forkAt?.event_id },
      });
      expect(branched.status, await branched.clone().text()).toBeLessThan(300);
      const fork = (await branched.json()) as { branch: { branch_id: string } | null };
      expect(fork.branch?.branch_id).toBeDefined();

      // A new submission of a migrated template is the newest version: a run by name uses it.
      const someRun = await forkClient.get(forkRun ?? '');
      const template = await target.mongo.db
        ?.collection('workflow_versions')
        .findOne({ workflow_version_id: someRun.current_version_id });
      const workflow = template?.['resolved_workflow'] as { workflow_id: string; steps: unknown[] };
      const submittable = {
        workflow_id: someRun.workflow_template_name,
        steps: [
          {
            step_id: 'after_migration',
            modules: [{ module_id: 'transform.set', name: 'mark', inputs: { value: 1 } }],
          },
        ],
      };
      expect(workflow.steps.length).toBeGreaterThan(0);
      // A migrated version is read, and a run is started on it, by its original ver_… id.
      expect(someRun.current_version_id).toMatch(/^ver_[0-9a-f]{32}$/);
      const version = await forkClient.request(`/v1/versions/${someRun.current_version_id}`);
      expect(version.status).toBe(200);
      const onMigrated = await forkClient.start({
        workflow_version_id: someRun.current_version_id,
      });
      expect(onMigrated.status, JSON.stringify(onMigrated.run)).toBeLessThan(300);
      expect(onMigrated.run.current_version_id).toBe(someRun.current_version_id);
      const newVersion = await forkClient.submitJson(submittable);
      const started = await forkClient.start({
        workflow_template_name: someRun.workflow_template_name,
      });
      expect(started.status).toBeLessThan(300);
      expect((started.run as RunView).current_version_id).toBe(newVersion);
      phase('answer, branch, submit');
      // Seconds per phase, for the record (docs/migration-original.md quotes a 10,000-run pass).
      console.info(`[migration-original] ${generation}, ${RUNS} runs:`, JSON.stringify(phases));
      await source.drop();
      await target.drop();
    }, 1_800_000);
  }

  it('odd and hostile source documents are reported, never stop the migration, never read outside the media base', async () => {
    const source = await useTestDatabases('orig_odd_source', { indexes: false });
    const { mediaDir } = await generated(source, 'multi-user', 48, 'issue-24-odd');
    const db = source.mongo.db as mongo.Db;
    const runIds = (
      await db
        .collection('workflow_runs')
        .find({ parent_workflow_id: { $exists: false } })
        .sort({ workflow_run_id: 1 })
        .toArray()
    ).map((run) => String(run['workflow_run_id']));
    // Dates stored as strings, a lineage entry that is not an object, a project path that is a
    // number, an event without an id, a media path that climbs out of the base, a user whose
    // email another target user already has.
    await db
      .collection('workflow_runs')
      .updateOne(
        { workflow_run_id: runIds[0] },
        { $set: { created_at: '2025-11-03T10:00:00Z', project_name: null, project_path: 42 } },
      );
    await db
      .collection('branches')
      .updateOne({ workflow_run_id: runIds[1] }, { $push: { lineage: null } } as never);
    const oddEvent = await db
      .collection('events')
      .findOne({ workflow_run_id: runIds[2], event_type: 'step_started' });
    await db.collection('events').updateOne({ _id: oddEvent?._id }, { $unset: { event_id: '' } });
    const climbing = await db.collection('generated_content').findOne({});
    await db
      .collection('generated_content')
      .updateOne({ _id: climbing?._id }, { $set: { local_path: '../../../../etc/passwd' } });
    const target = await useTestDatabases('orig_odd_target', { indexes: false });
    const firstUser = await db.collection('users').find().sort({ user_id: 1 }).next();
    await target.mongo.db?.collection('users').insertOne({
      user_id: 'usr_someoneelse01',
      username: 'someone',
      email: String(firstUser?.['email'] ?? 'x@example.com').toLowerCase(),
      created_at: new Date(),
      updated_at: new Date(),
    });

    const report = await migrate(source.mongo, target.mongo, mediaDir);
    expect(report.runs.failed).toEqual([]);
    expect(report.runs.events_without_id).toEqual([String(oddEvent?._id)]);
    expect(report.files.not_migrated).toEqual([
      {
        id: String(climbing?.['generated_content_id']),
        reason: 'path outside the media base: ../../../../etc/passwd',
      },
    ]);
    expect(report.accounts.emails_replaced).toEqual(
      firstUser?.['email'] ? [String(firstUser['user_id'])] : [],
    );
    const runs = target.mongo.db?.collection('workflow_runs');
    expect((await runs?.findOne({ workflow_run_id: runIds[0] }))?.['created_at']).toEqual(
      new Date('2025-11-03T10:00:00Z'),
    );
    expect(await runs?.countDocuments({ workflow_run_id: { $in: runIds.slice(0, 3) } })).toBe(3);
    expect(
      await target.mongo.db
        ?.collection('artifacts')
        .findOne({ artifact_id: climbing?.['generated_content_id'] }),
    ).toBeNull();

    // The source as a target, under another name for the same server, is refused.
    await expect(migrate(target.mongo, source.mongo, mediaDir)).rejects.toThrow(
      /never writes in place/,
    );
  }, 120_000);

  it('a run waiting at a module whose original name is not a Stepwise name is answered at its renamed module', async () => {
    const source = await useTestDatabases('orig_names_source', { indexes: false });
    const { mediaDir, fixture } = await generated(source, 'single-user', 24, 'issue-24-names');
    const db = source.mongo.db as mongo.Db;
    // A waiting run; its version's module of that name, and the run's events, renamed as an
    // original author could have named it (capitals and spaces: not a slug).
    const runId = fixture.waiting_run_ids[0] ?? '';
    const run = await db.collection('workflows').findOne({ workflow_id: runId });
    const asked = await db
      .collection('events')
      .find({ workflow_id: runId, event_type: 'interaction_requested' })
      .sort({ event_id: -1 })
      .next();
    const moduleName = String(asked?.['module_name']);
    const renamed = `${moduleName.toUpperCase()} (picked)`;
    const versions = await db.collection('workflow_versions').find().toArray();
    for (const version of versions) {
      const workflow = JSON.parse(JSON.stringify(version['resolved_workflow'])) as {
        steps: { modules: { name?: string }[] }[];
      };
      for (const step of workflow.steps)
        for (const module of step.modules) if (module.name === moduleName) module.name = renamed;
      await db
        .collection('workflow_versions')
        .updateOne({ _id: version._id }, { $set: { resolved_workflow: workflow } });
    }
    await db
      .collection('events')
      .updateMany(
        { workflow_id: runId, module_name: moduleName },
        { $set: { module_name: renamed } },
      );

    const target = await useTestDatabases('orig_names_target', { indexes: false });
    const report = await migrate(source.mongo, target.mongo, mediaDir);
    expect(report.runs.failed).toEqual([]);
    const migrated = await target.mongo.db
      ?.collection('workflow_runs')
      .findOne({ workflow_run_id: runId });
    const userId = String(migrated?.['user_id']);
    const secret = 'sk_test_names_key';
    await target.models.accessKeys.create({
      key_id: 'key_000000000000000000000024',
      user_id: userId,
      key_hash: hashKeySecretForTests(secret),
      prefix: secret.slice(0, 10),
      created_at: new Date(),
      last_used_at: null,
      revoked_at: null,
    });
    const gateway = await startTestGateway(target);
    await startTestRunner(target);
    const client = new RunsClient(gateway, secret);
    const view = await client.get(runId);
    expect(view.status).toBe('awaiting_input');
    // Where the translated version has the module, by its Stepwise name.
    expect(view.pending_interaction?.module_name).toBe(`${moduleName}_picked`);
    const answers: Record<string, unknown> = {
      'user.select': { selected_indices: [0] },
      'user.text_input': { value: 'renamed' },
      'user.confirm': { confirmed: true },
    };
    const { status, body } = await client.answer(
      runId,
      view.pending_interaction?.interaction_id ?? '',
      answers[view.pending_interaction?.module_id ?? ''],
    );
    expect(status, JSON.stringify(body)).toBe(200);
    const events = await client.events(runId);
    const moved = events.find((event) => event.module_name === `${moduleName}_picked`);
    expect(moved?.data['legacy_position']).toEqual({
      step_id: run?.['current_step'] ?? moved?.step_id,
      module_name: renamed,
    });
  }, 120_000);

  it('killed at random points and run again, ends in the same target as one uninterrupted run', async () => {
    const source = await useTestDatabases('orig_kill_source', { indexes: false });
    const { mediaDir } = await generated(source, 'multi-user', 400, 'issue-24-kill');
    const calm = await useTestDatabases('orig_kill_calm', { indexes: false });
    const killed = await useTestDatabases('orig_kill_killed', { indexes: false });
    await migrate(source.mongo, calm.mongo, mediaDir);
    const args = [
      '--source-url',
      source.mongoUrl,
      '--target-url',
      killed.mongoUrl,
      '--media-base',
      mediaDir,
      '--page-size',
      '25',
    ];
    const { kills, finished } = await killRepeatedly(
      'packages/migrate/dist/from-original.js',
      args,
      {
        attempts: 30,
        firstDelayMs: 400,
        stepMs: 150,
        jitterMs: 400,
      },
    );
    expect(finished === null || finished === 0).toBe(true);
    expect(kills).toBeGreaterThanOrEqual(1);
    const last = startProcess('packages/migrate/dist/from-original.js', args, {});
    expect(await last.exited).toBe(0);
    const report = last.lines.map(logRecord).find((record) => record !== null && 'runs' in record);
    expect((report?.['runs'] as { runs: number } | undefined)?.runs).toBe(0);
    expect(await dumpDatabase(killed.mongo)).toEqual(await dumpDatabase(calm.mongo));
  }, 600_000);
});
