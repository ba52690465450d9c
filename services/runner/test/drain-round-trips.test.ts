import { beforeAll, describe, expect, it } from 'vitest';
import { newId } from '@stepwise/shared';
import { acceptRunCommand } from '@stepwise/shared/node';
import { drainRun, type DrainDependencies, type DrainHint } from '../src/engine/drain-run.js';
import { useTestDatabases } from '../../../test/support/databases.js';
import {
  loadTestPlugins,
  queuelessDrainDependencies,
  storeNewRun,
  storeTestVersion,
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
/** Start and end of every command, in the order the driver saw them. */
const timeline: string[] = [];
const requests = new Map<number, string>();
monitored.connection.getClient().on('commandStarted', (event) => {
  const command = event.command as Record<string, unknown>;
  const target = command[event.commandName];
  const collection = typeof target === 'string' ? target : null;
  sent.push({ name: event.commandName, collection });
  requests.set(event.requestId, `${event.commandName} ${collection}`);
  timeline.push(`started ${event.commandName} ${collection}`);
});
monitored.connection.getClient().on('commandSucceeded', (event) => {
  timeline.push(`ended ${requests.get(event.requestId) ?? event.commandName}`);
});

beforeAll(async () => {
  deps = queuelessDrainDependencies(monitored.databases, await loadTestPlugins());
  versionId = await storeTestVersion(db.models, userId, {
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
  });
});

async function drainCounted(hinted = false): Promise<SentCommand[]> {
  const { run, command } = await storeNewRun(db.mongo, db.models, {
    userId,
    body: { workflow_version_id: versionId, project_name: 'p' },
    correlationId: newId('correlation'),
  });
  const ref = { workflow_run_id: run.workflow_run_id, user_id: userId };
  sent.length = 0;
  timeline.length = 0;
  await drainRun(ref, deps, hinted ? { commandSeq: command.seq } : {});
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

  it("with the job's command number, its command is read while the lease is taken, not after", async () => {
    await drainCounted(true);
    const commands = await drainCounted(true);
    // The same six commands, not one more...
    expect([...commands].sort(byName)).toEqual(
      [
        { name: 'findAndModify', collection: 'workflow_runs' },
        { name: 'find', collection: 'run_commands' },
        { name: 'update', collection: 'workflow_runs' },
        { name: 'insert', collection: 'events' },
        { name: 'find', collection: 'webhook_subscriptions' },
        { name: 'update', collection: 'run_commands' },
      ].sort(byName),
    );
    // ...and the command's read is on its way before the lease's answer is back.
    expect(timeline.indexOf('started find run_commands')).toBeLessThan(
      timeline.indexOf('ended findAndModify workflow_runs'),
    );
  });
});

const byName = (a: SentCommand, b: SentCommand) =>
  `${a.name} ${a.collection}`.localeCompare(`${b.name} ${b.collection}`);

/**
 * A job's command number is a read from before the lease: a drain must come to the same end
 * whatever the number says, stale or early, and whatever state the commands around it are in.
 */
describe('a drain told its command number', () => {
  async function completedRun() {
    const { run, command } = await storeNewRun(db.mongo, db.models, {
      userId,
      body: { workflow_version_id: versionId, project_name: 'p' },
      correlationId: newId('correlation'),
    });
    const ref = { workflow_run_id: run.workflow_run_id, user_id: userId };
    await drainRun(ref, deps, { commandSeq: command.seq });
    return { ref, start: command };
  }
  const cancel = (runId: string) =>
    acceptRunCommand(db.models, {
      runId,
      userId,
      type: 'cancel',
      correlationId: newId('correlation'),
    });
  const statusOf = async (runId: string, commandId: string) =>
    (await db.models.runCommands.findOne({ workflow_run_id: runId, command_id: commandId }).lean())
      ?.status;

  it.each<[string, (start: number, next: number) => DrainHint]>([
    ['the number of a command applied long ago', (start) => ({ commandSeq: start })],
    ['the number of the command to apply', (_start, next) => ({ commandSeq: next })],
    ['a number not taken yet', (_start, next) => ({ commandSeq: next + 1 })],
  ])('applies the next command when told %s', async (_case, hintFor) => {
    const { ref, start } = await completedRun();
    const next = await cancel(ref.workflow_run_id);
    const { outcomes } = await drainRun(ref, deps, hintFor(start.seq, next.seq));
    // A finished run refuses the cancel: refused, and settled as such, all the same.
    expect(outcomes.get(next.command_id)?.status).toBe('rejected');
    expect(await statusOf(ref.workflow_run_id, next.command_id)).toBe('rejected');
    const stored = await db.models.runs.findOne(ref).lean();
    expect(stored?.applied_command_seq).toBe(next.seq);
  });

  it('settles the command before it that a dead drain left pending, told the next number', async () => {
    const { ref, start } = await completedRun();
    // Its drain committed but died before settling it.
    await db.models.runCommands.updateOne(
      { workflow_run_id: ref.workflow_run_id, command_id: start.command_id },
      { $set: { status: 'pending' } },
    );
    const next = await cancel(ref.workflow_run_id);
    await drainRun(ref, deps, { commandSeq: next.seq });
    expect(await statusOf(ref.workflow_run_id, start.command_id)).toBe('applied');
    expect(await statusOf(ref.workflow_run_id, next.command_id)).toBe('rejected');
  });
});
