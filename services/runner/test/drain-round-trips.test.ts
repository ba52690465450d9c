import { beforeAll, describe, expect, it } from 'vitest';
import { newId } from '@stepwise/shared';
import { drainRun, type DrainDependencies } from '../src/engine/drain-run.js';
import { useTestDatabases } from '../../../test/support/databases.js';
import {
  loadTestPlugins,
  queuelessDrainDependencies,
  storeNewRun,
} from '../../../test/support/runner.js';
import { monitoredDatabases } from '../../../test/support/tenant-world.js';

/**
 * What one drain of a run of pure modules sends to MongoDB, counted where the commands leave the
 * process (the driver's command events). Each of these is a round trip on the hot path of every
 * run (docs/performance.md, "Engine throughput"): a new one has to be argued for, not slip in.
 */
const db = await useTestDatabases('drain_round_trips');
const monitored = await monitoredDatabases(db);
const userId = newId('user');
let deps: DrainDependencies;
let versionId: string;

interface SentCommand {
  name: string;
  collection: string | null;
}
const sent: SentCommand[] = [];
monitored.connection.getClient().on('commandStarted', (event) => {
  const command = event.command as Record<string, unknown>;
  const target = command[event.commandName];
  sent.push({ name: event.commandName, collection: typeof target === 'string' ? target : null });
});

beforeAll(async () => {
  deps = queuelessDrainDependencies(monitored.databases, await loadTestPlugins());
  const templateId = newId('template');
  versionId = newId('version');
  const now = new Date();
  await db.models.templates.create({
    workflow_template_id: templateId,
    user_id: userId,
    workflow_template_name: 'counted',
    display_name: null,
    created_at: now,
    updated_at: now,
  });
  await db.models.versions.create({
    workflow_version_id: versionId,
    workflow_template_id: templateId,
    user_id: userId,
    content_hash: 'sha256:counted',
    raw_sha256: 'counted',
    source_type: 'json',
    size: 1,
    source_file_id: null,
    created_at: now,
    resolved_workflow: {
      workflow_id: 'counted',
      initial_state: {},
      config: {},
      steps: [
        {
          step_id: 's',
          modules: Array.from({ length: 5 }, (_, i) => ({
            module_id: 'transform.set',
            name: `set_${i}`,
            inputs: { value: `{{ run.project_name }}:${i}` },
            outputs_to_state: { value: `v_${i}` },
          })),
        },
      ],
    },
  });
});

async function drainCounted(): Promise<SentCommand[]> {
  const { run } = await storeNewRun(db.mongo, db.models, {
    userId,
    body: { workflow_version_id: versionId, project_name: 'p' },
    correlationId: newId('correlation'),
  });
  const ref = { workflow_run_id: run.workflow_run_id, user_id: userId };
  sent.length = 0;
  await drainRun(ref, deps);
  const commands = [...sent];
  const stored = await db.models.runs.findOne(ref).lean();
  expect(stored?.status).toBe('completed');
  return commands;
}

describe('the MongoDB round trips of one drain', () => {
  it('a run of pure modules, start to end, takes six commands and never reads the run twice', async () => {
    // The first drain of a process also loads the version's plan; count a later one.
    await drainCounted();
    const commands = await drainCounted();
    expect(commands).toEqual([
      { name: 'findAndModify', collection: 'workflow_runs' }, // the lease, with the whole run
      { name: 'find', collection: 'run_commands' }, // its next command
      { name: 'update', collection: 'workflow_runs' }, // the commit, letting the lease go
      { name: 'insert', collection: 'events' }, // the commit's events
      { name: 'find', collection: 'webhook_subscriptions' }, // run.completed: anyone to tell?
      { name: 'update', collection: 'run_commands' }, // the start command settled
    ]);
  });
});
