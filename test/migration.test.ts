import { describe, expect, it } from 'vitest';
import type { Connection } from 'mongoose';
import type { EventView, RunView } from '@stepwise/shared';
import { hashKeySecretForTests } from './support/keys.js';
import {
  generateLegacyDatabase,
  type GeneratedLegacy,
} from '../packages/migrate/src/legacy-generator.js';
import { migrateLegacyDatabase, type MigrationReport } from '../packages/migrate/src/migrate.js';
import { useTestDatabases } from './support/databases.js';
import { startTestGateway } from './support/gateway.js';
import { dumpDatabase, killRepeatedly } from './support/interrupted-processes.js';
import { logRecord, startProcess } from './support/processes.js';
import { startTestRunner } from './support/runner.js';
import { RunsClient } from './support/runs.js';

const migrate = (
  connection: Connection,
  options: { dryRun?: boolean; dropLegacy?: boolean } = {},
) =>
  migrateLegacyDatabase(connection, {
    dryRun: options.dryRun ?? false,
    defaultUsername: 'admin',
    dropLegacy: options.dropLegacy ?? false,
    batchSize: 50,
    progress: () => undefined,
  });

describe('migration from the single-user schema', () => {
  it('leaves runs usable through the API: ordered versioned events, legacy state, answerable runs, history', async () => {
    const db = await useTestDatabases('migration_usable', { indexes: false });
    const legacy = await generateLegacyDatabase(db.mongo.db as never, { seed: 7, runs: 40 });
    const report = await migrate(db.mongo);
    expect(report.counts.runs_created).toBe(40);
    expect(report.counts.events_migrated).toBe(legacy.events);
    expect(report.orphans).toEqual({
      events_without_run: legacy.orphan_event_ids,
      runs_without_template: legacy.orphan_run_ids,
      runs_without_version: [],
    });

    // A key for the migrated user, so the API can be used as that user.
    const secret = 'sk_migration-test-key';
    await db.models.accessKeys.create({
      key_id: 'key_000000000000000000000001',
      user_id: report.user.user_id,
      key_hash: hashKeySecretForTests(secret),
      prefix: 'sk_migrati',
      created_at: new Date(),
      last_used_at: null,
      revoked_at: null,
    });
    const gateway = await startTestGateway(db);
    await startTestRunner(db);
    const client = new RunsClient(gateway, secret);

    const listed = (await (await client.request('/v1/runs?limit=100')).json()) as {
      items: RunView[];
    };
    expect(listed.items).toHaveLength(40);
    for (const run of legacy.runs) {
      const view = await client.get(run.workflow_id);
      expect(view.status).toBe(
        {
          created: 'running',
          processing: 'running',
          awaiting_input: 'awaiting_input',
          completed: 'completed',
          error: 'error',
        }[run.status],
      );
      const events: EventView[] = await client.events(run.workflow_id);
      const seqs = events.map((e) => e.seq);
      expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
      if (run.branches === 1) expect(seqs).toEqual(seqs.map((_, index) => index + 1));
      expect(events.every((e) => e.workflow_version_id === view.current_version_id)).toBe(true);
      const timestamps = events.map((e) => e.timestamp);
      expect([...timestamps].sort()).toEqual(timestamps);
      expect((await client.state(run.workflow_id)).state).toEqual(run.expected_state);
      if (run.branches > 1) {
        const tree = (await (
          await client.request(`/v1/runs/${run.workflow_id}/branches`)
        ).json()) as { items: { lineage: unknown[]; status: string }[] };
        expect(tree.items.map((b) => [b.lineage.length, b.status])).toEqual([
          [0, 'inactive'],
          [1, 'active'],
        ]);
      }
    }

    // A run that was waiting for a person can be answered and finished.
    const waiting = legacy.runs.find(
      (run) => run.status === 'awaiting_input' && run.expected_state['choice'] === undefined,
    );
    let run = await client.get(waiting?.workflow_id ?? '');
    run = await client.answerPending(run, { selected_indices: [2] });
    run = await client.answerPending(run, { value: 'after the migration' });
    run = await client.answerPending(run, { confirmed: true });
    expect(run.status).toBe('completed');
    expect((await client.state(run.workflow_run_id)).state).toMatchObject({
      choice: 'c',
      caption: 'after the migration',
      shipped: true,
    });

    const keywords = (await (
      await client.request('/v1/templates/legacy_flow_0/keywords')
    ).json()) as { items: { keyword: string }[] };
    expect(keywords.items.map((k) => k.keyword)).toEqual(['cinematic', 'cosy', 'neon']);
    const usage = (await (
      await client.request('/v1/templates/legacy_flow_0/option-usage')
    ).json()) as { options: Record<string, string> };
    expect(Object.keys(usage.options).sort()).toEqual(
      ['opt:a', 'opt:b', 'opt:c'].slice(0, Object.keys(usage.options).length),
    );
    expect(Object.keys(usage.options)).toEqual(expect.arrayContaining(['opt:a', 'opt:b']));
  }, 60_000);

  it('changes nothing the second time, and --dry-run writes nothing but counts the same', async () => {
    const db = await useTestDatabases('migration_twice', { indexes: false });
    await generateLegacyDatabase(db.mongo.db as never, { seed: 11, runs: 25 });
    const before = await dumpDatabase(db.mongo);
    const dry = await migrate(db.mongo, { dryRun: true });
    expect(await dumpDatabase(db.mongo)).toEqual(before);
    const real = await migrate(db.mongo);
    expect(dry.counts).toEqual(real.counts);
    expect(dry.orphans).toEqual(real.orphans);
    expect(real.changed).toBe(true);
    const after = await dumpDatabase(db.mongo);
    const again: MigrationReport = await migrate(db.mongo);
    expect(again.changed).toBe(false);
    expect(again.counts.runs_created).toBe(0);
    expect(again.counts.runs_already_migrated).toBe(25);
    expect(await dumpDatabase(db.mongo)).toEqual(after);
    // Orphans are left as they were.
    const orphan = await db.mongo.db
      ?.collection('events')
      .findOne({ event_id: again.orphans.events_without_run[0] });
    expect(orphan?.['workflow_id']).toBe('wf_0000deadbeef');
    expect(orphan?.['seq']).toBeUndefined();
  }, 60_000);

  it('killed at random points and run again, ends in the same database as one uninterrupted run', async () => {
    const calm = await useTestDatabases('migration_calm', { indexes: false });
    const killed = await useTestDatabases('migration_killed', { indexes: false });
    const generated: GeneratedLegacy = await generateLegacyDatabase(calm.mongo.db as never, {
      seed: 23,
      runs: 120,
    });
    await generateLegacyDatabase(killed.mongo.db as never, { seed: 23, runs: 120 });
    expect(await dumpDatabase(killed.mongo)).toEqual(await dumpDatabase(calm.mongo));
    await migrate(calm.mongo);

    const { kills, finished } = await killRepeatedly(
      'packages/migrate/dist/main.js',
      ['--mongo-url', killed.mongoUrl, '--batch-size', '10'],
      { attempts: 30, firstDelayMs: 250, stepMs: 120, jitterMs: 300 },
    );
    expect(finished === null || finished === 0).toBe(true);
    expect(kills).toBeGreaterThanOrEqual(1);
    const finalRun = startProcess(
      'packages/migrate/dist/main.js',
      ['--mongo-url', killed.mongoUrl],
      {},
    );
    expect(await finalRun.exited).toBe(0);
    const report = finalRun.lines
      .map(logRecord)
      .find((record) => record !== null && 'changed' in record);
    expect(report?.['changed']).toBe(false);
    expect(await dumpDatabase(killed.mongo)).toEqual(await dumpDatabase(calm.mongo));
    expect(generated.runs).toHaveLength(120);
  }, 120_000);

  it('drops the old runs collection only with --drop-legacy, after every run is migrated', async () => {
    const db = await useTestDatabases('migration_drop', { indexes: false });
    await generateLegacyDatabase(db.mongo.db as never, { seed: 5, runs: 10 });
    const kept = await migrate(db.mongo);
    expect(kept.legacy_dropped).toBe(false);
    const names = async () =>
      (await db.mongo.db?.listCollections().toArray())?.map((c) => c.name) ?? [];
    expect(await names()).toContain('workflows');
    // Not while a run that could not be mapped lives only there.
    const refused = await migrate(db.mongo, { dropLegacy: true });
    expect(refused.legacy_dropped).toBe(false);
    expect(await names()).toContain('workflows');
    await db.mongo.db
      ?.collection('workflows')
      .deleteMany({ workflow_id: { $in: refused.orphans.runs_without_template } });
    const dropped = await migrate(db.mongo, { dropLegacy: true });
    expect(dropped.legacy_dropped).toBe(true);
    expect(await names()).not.toContain('workflows');
    expect(await db.models.runs.countDocuments()).toBe(10);
  });
});
