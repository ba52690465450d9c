import { pino } from 'pino';
import { beforeAll, describe, expect, it } from 'vitest';
import { newId, type RunCommandRecord } from '@stepwise/shared';
import { FairShare, JobQueue, acceptRunCommand } from '@stepwise/shared/node';
import { DeadlineTimers } from '../src/deadlines/deadline-timers.js';
import { drainRun, type DrainDependencies } from '../src/engine/drain-run.js';
import { MongoRunRepository } from '../src/engine/run-repository.js';
import { createRunJobHandler } from '../src/run-jobs.js';
import { useTestDatabases } from '../../../test/support/databases.js';
import {
  loadTestPlugins,
  queuelessDrainDependencies,
  storeNewRun,
  storeTestVersion,
} from '../../../test/support/runner.js';

/**
 * The drain loop over the real MongoDB repository, without a queue: what happens when the same
 * command is delivered twice, or drained by several processes at once.
 */
const db = await useTestDatabases('drain');
const fairShare = new FairShare(db.redis, db.queuePrefix);
// The handler's deadline timers: no test here sets one, and none fires.
const timers = new DeadlineTimers(new JobQueue('runCommand', db.redis, db.queuePrefix));
const userId = newId('user');
let deps: DrainDependencies;
let versionId: string;

beforeAll(async () => {
  deps = queuelessDrainDependencies(db, await loadTestPlugins());
  versionId = await storeTestVersion(db.models, userId, {
    workflow_id: 'drained',
    initial_state: {},
    config: {},
    steps: [
      {
        step_id: 's',
        modules: [
          {
            module_id: 'test.sleep',
            name: 'slow',
            inputs: { ms: 30, value: 1 },
            outputs_to_state: { value: 'slow' },
          },
          {
            module_id: 'user.confirm',
            name: 'ok',
            inputs: { message: 'ok?' },
            outputs_to_state: { confirmed: 'ok' },
          },
        ],
      },
    ],
  });
});

async function startedRun() {
  const { run, command } = await storeNewRun(db.mongo, db.models, {
    userId,
    body: { workflow_version_id: versionId, project_name: 'p' },
    correlationId: newId('correlation'),
  });
  return { runId: run.workflow_run_id, command };
}

const eventsOf = (runId: string) =>
  db.models.events.find({ workflow_run_id: runId }).sort({ seq: 1 }).lean();

describe('applying commands exactly once', () => {
  it('the same command drained twice appends its events once', async () => {
    const { runId, command } = await startedRun();
    await drainRun({ workflow_run_id: runId, user_id: userId }, deps);
    const after = await eventsOf(runId);
    await drainRun({ workflow_run_id: runId, user_id: userId }, deps);
    expect(await eventsOf(runId)).toEqual(after);
    const handler = createRunJobHandler(db.models, deps, fairShare, timers);
    const context = {
      jobId: 'redelivered',
      attemptsMade: 1,
      isFinalAttempt: false,
      logger: pino({ level: 'silent' }),
      reportProgress: async () => {},
    };
    const job = {
      kind: 'drain' as const,
      workflow_run_id: runId,
      user_id: userId,
      command_id: command.command_id,
    };
    expect(await handler(job, context)).toEqual({ status: 'applied' });
    expect(await handler(job, context)).toEqual({ status: 'applied' });
    expect(await eventsOf(runId)).toEqual(after);
    expect(after.filter((e) => e.command_id === command.command_id).length).toBe(after.length);
  });

  it('five drains racing on one run commit each command once, in acceptance order', async () => {
    const { runId } = await startedRun();
    const commands: RunCommandRecord[] = [];
    // A cancel accepted after the start must come after it, whoever drains first.
    commands.push(
      await acceptRunCommand(db.models, {
        runId,
        userId,
        type: 'cancel',
        correlationId: newId('correlation'),
      }),
    );
    await Promise.all(
      Array.from({ length: 5 }, () => drainRun({ workflow_run_id: runId, user_id: userId }, deps)),
    );
    const events = await eventsOf(runId);
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
    expect(events.map((e) => e.event_type)).toEqual([
      'run_created',
      'step_started',
      'module_started',
      'module_completed',
      // The cancel was accepted while the chain ran: it takes effect at the next module boundary.
      'run_cancelled',
    ]);
    const stored = await db.models.runCommands
      .find({ workflow_run_id: runId })
      .sort({ seq: 1 })
      .lean();
    expect(stored.map((c) => [c.type, c.status])).toEqual([
      ['start', 'applied'],
      ['cancel', 'applied'],
    ]);
    const run = await db.models.runs.findOne({ workflow_run_id: runId }).lean();
    expect(run).toMatchObject({ status: 'cancelled', last_seq: 5, applied_command_seq: 2 });
  });

  it('records a refusal in order and answers it again on redelivery, appending nothing', async () => {
    const { runId } = await startedRun();
    await drainRun({ workflow_run_id: runId, user_id: userId }, deps);
    const command = await acceptRunCommand(db.models, {
      runId,
      userId,
      type: 'respond',
      payload: { interaction_id: 'int_000000000000000000000000', response: {} },
      correlationId: newId('correlation'),
    });
    const before = await eventsOf(runId);
    const handler = createRunJobHandler(db.models, deps, fairShare, timers);
    const context = {
      jobId: 'j',
      attemptsMade: 0,
      isFinalAttempt: false,
      logger: pino({ level: 'silent' }),
      reportProgress: async () => {},
    };
    const job = {
      kind: 'drain' as const,
      workflow_run_id: runId,
      user_id: userId,
      command_id: command.command_id,
    };
    const first = await handler(job, context);
    expect(first).toMatchObject({ status: 'rejected', error: { code: 'INTERACTION_NOT_PENDING' } });
    expect(await handler(job, context)).toEqual(first);
    expect(await eventsOf(runId)).toEqual(before);
  });

  it('waits for a number taken but not stored yet, then applies both in acceptance order', async () => {
    const { runId } = await startedRun();
    await drainRun({ workflow_run_id: runId, user_id: userId }, deps);
    // An acceptance has taken seq 2 and is about to store its command; seq 3 is stored first.
    await db.models.runs.updateOne(
      { workflow_run_id: runId },
      { $inc: { command_seq: 1 }, $set: { command_accepted_at: new Date() } },
    );
    const cancel = await acceptRunCommand(db.models, {
      runId,
      userId,
      type: 'cancel',
      correlationId: newId('correlation'),
    });
    expect(cancel.seq).toBe(3);
    await drainRun({ workflow_run_id: runId, user_id: userId }, deps);
    expect(await db.models.runs.findOne({ workflow_run_id: runId }).lean()).toMatchObject({
      status: 'awaiting_input',
      applied_command_seq: 1,
    });
    // The answer with seq 2 lands; a drain then applies it and the cancel, in that order.
    const run = await db.models.runs.findOne({ workflow_run_id: runId }).lean();
    const answer: RunCommandRecord = {
      command_id: newId('command'),
      workflow_run_id: runId,
      user_id: userId,
      seq: 2,
      type: 'respond',
      payload: {
        interaction_id: run?.pending_interaction?.interaction_id,
        response: { confirmed: true },
      },
      correlation_id: newId('correlation'),
      status: 'pending',
      error: null,
      accepted_at: new Date(),
      finished_at: null,
    };
    await db.models.runCommands.collection.insertOne({ ...answer });
    await drainRun({ workflow_run_id: runId, user_id: userId }, deps);
    // In acceptance order: the answer finishes the run, so the cancel after it is refused. Out of
    // order, the run would be cancelled and the answer refused.
    const events = await eventsOf(runId);
    expect(events.map((e) => e.event_type)).toContain('interaction_responded');
    expect(events.at(-1)?.event_type).toBe('run_completed');
    const settled = await db.models.runCommands
      .find({ workflow_run_id: runId })
      .sort({ seq: 1 })
      .lean();
    expect(settled.map((c) => [c.seq, c.status])).toEqual([
      [1, 'applied'],
      [2, 'applied'],
      [3, 'rejected'],
    ]);
  });

  it('steps past a number lost with its acceptor, and refuses the command if it turns up late', async () => {
    const { runId } = await startedRun();
    await drainRun({ workflow_run_id: runId, user_id: userId }, deps);
    // The acceptance took seq 2 and died before storing the command, long enough ago.
    await db.models.runs.updateOne({ workflow_run_id: runId }, { $inc: { command_seq: 1 } });
    const cancel = await acceptRunCommand(db.models, {
      runId,
      userId,
      type: 'cancel',
      correlationId: newId('correlation'),
    });
    expect(cancel.seq).toBe(3);
    const patient = {
      ...deps,
      repository: new MongoRunRepository(db.models, async () => undefined, 30_000, 0),
    };
    await drainRun({ workflow_run_id: runId, user_id: userId }, patient);
    const run = await db.models.runs.findOne({ workflow_run_id: runId }).lean();
    expect(run).toMatchObject({ status: 'cancelled', applied_command_seq: 3 });
    const stored = await db.models.runCommands.findOne({ command_id: cancel.command_id }).lean();
    expect(stored?.status).toBe('applied');

    // Its command turns up after all: refused (CONFLICT), never applied out of order.
    const late: RunCommandRecord = {
      command_id: newId('command'),
      workflow_run_id: runId,
      user_id: userId,
      seq: 2,
      type: 'cancel',
      payload: {},
      correlation_id: newId('correlation'),
      status: 'pending',
      error: null,
      accepted_at: new Date(),
      finished_at: null,
    };
    await db.models.runCommands.collection.insertOne({ ...late });
    const handler = createRunJobHandler(db.models, patient, fairShare, timers);
    const context = {
      jobId: 'late',
      attemptsMade: 0,
      isFinalAttempt: false,
      logger: pino({ level: 'silent' }),
      reportProgress: async () => {},
    };
    const job = {
      kind: 'drain' as const,
      workflow_run_id: runId,
      user_id: userId,
      command_id: late.command_id,
    };
    expect(await handler(job, context)).toMatchObject({
      status: 'rejected',
      error: { code: 'CONFLICT' },
    });
    expect(
      (await db.models.runCommands.findOne({ command_id: late.command_id }).lean())?.status,
    ).toBe('rejected');
  });

  it('steps past a lost number even while new commands keep arriving after it', async () => {
    const { runId } = await startedRun();
    await drainRun({ workflow_run_id: runId, user_id: userId }, deps);
    const lostAfterMs = 60_000;
    const longAgo = new Date(Date.now() - 2 * lostAfterMs);
    // Seq 2 was taken by an acceptor that died; seq 3 was stored right after it, long ago.
    await db.models.runs.updateOne({ workflow_run_id: runId }, { $inc: { command_seq: 1 } });
    const old = await acceptRunCommand(db.models, {
      runId,
      userId,
      type: 'continue',
      payload: { expected_last_seq: -1 },
      correlationId: newId('correlation'),
      now: longAgo,
    });
    // A client keeps sending commands: the run took a number just now (seq 4).
    const cancel = await acceptRunCommand(db.models, {
      runId,
      userId,
      type: 'cancel',
      correlationId: newId('correlation'),
    });
    expect([old.seq, cancel.seq]).toEqual([3, 4]);
    const repository = new MongoRunRepository(
      db.models,
      async () => undefined,
      30_000,
      lostAfterMs,
    );
    await drainRun({ workflow_run_id: runId, user_id: userId }, { ...deps, repository });
    // Seq 2 is older than seq 3, which is older than the limit: lost, stepped over at once.
    const run = await db.models.runs.findOne({ workflow_run_id: runId }).lean();
    expect(run).toMatchObject({ status: 'cancelled', applied_command_seq: 4 });
  });

  it('settles a command whose finisher died after its commit, and applies the next', async () => {
    const { runId, command } = await startedRun();
    await drainRun({ workflow_run_id: runId, user_id: userId }, deps);
    // As if the drain had died between the commit and marking its command applied.
    await db.models.runCommands.updateOne(
      { command_id: command.command_id },
      { $set: { status: 'pending', finished_at: null } },
    );
    const cancel = await acceptRunCommand(db.models, {
      runId,
      userId,
      type: 'cancel',
      correlationId: newId('correlation'),
    });
    await drainRun({ workflow_run_id: runId, user_id: userId }, deps);
    const stored = await db.models.runCommands
      .find({ workflow_run_id: runId })
      .sort({ seq: 1 })
      .lean();
    expect(stored.map((c) => [c.command_id, c.status])).toEqual([
      [command.command_id, 'applied'],
      [cancel.command_id, 'applied'],
    ]);
    const events = await eventsOf(runId);
    expect(events.filter((e) => e.event_type === 'run_created')).toHaveLength(1);
    expect(events.at(-1)?.event_type).toBe('run_cancelled');
  });

  it("restores a branch's record when its writer died after the events, before the record", async () => {
    const { runId } = await startedRun();
    await drainRun({ workflow_run_id: runId, user_id: userId }, deps);
    const asked = await db.models.events
      .findOne({ workflow_run_id: runId, event_type: 'interaction_requested' })
      .lean();
    const branchId = newId('branch');
    const branch = await acceptRunCommand(db.models, {
      runId,
      userId,
      type: 'branch',
      payload: { from_event_id: asked?.event_id, branch_id: branchId },
      correlationId: newId('correlation'),
    });
    await drainRun({ workflow_run_id: runId, user_id: userId }, deps);
    expect(await db.models.branches.exists({ branch_id: branchId })).toBeTruthy();
    // As if the process had died after inserting the events but before the branch record and
    // marking the command applied.
    await db.models.branches.deleteOne({ branch_id: branchId });
    await db.models.runCommands.updateOne(
      { command_id: branch.command_id },
      { $set: { status: 'pending', finished_at: null }, $unset: { written_seq: 1 } },
    );
    await drainRun({ workflow_run_id: runId, user_id: userId }, deps);
    expect(await db.models.branches.findOne({ branch_id: branchId }).lean()).toMatchObject({
      workflow_run_id: runId,
      status: 'active',
    });
    expect(
      (await db.models.runCommands.findOne({ command_id: branch.command_id }).lean())?.status,
    ).toBe('applied');
  });

  it('finishes writing a commit whose writer died before the log had all its events', async () => {
    const { runId } = await startedRun();
    await drainRun({ workflow_run_id: runId, user_id: userId }, deps);
    const committed = await eventsOf(runId);
    // As if the process had died between the commit and writing the last two events (so before
    // it could mark its command applied).
    await db.models.events.deleteMany({
      workflow_run_id: runId,
      seq: { $gt: committed.length - 2 },
    });
    await db.models.runCommands.updateMany(
      { workflow_run_id: runId },
      { $set: { status: 'pending', finished_at: null }, $unset: { written_seq: 1 } },
    );
    await drainRun({ workflow_run_id: runId, user_id: userId }, deps);
    const healed = await eventsOf(runId);
    expect(healed.map(({ _id: _ignored, ...event }) => event)).toEqual(
      committed.map(({ _id: _ignored, ...event }) => event),
    );
  });

  it('finishes an attempt its drain died in, as interrupted, before the command that came next', async () => {
    const { runId } = await startedRun();
    // A drain that dies right after its module's start is committed (its second commit never
    // happens), leaving its lease behind.
    let commits = 0;
    const dying: DrainDependencies = {
      ...deps,
      repository: Object.assign(Object.create(deps.repository) as typeof deps.repository, {
        commit: (...args: Parameters<typeof deps.repository.commit>) => {
          if (++commits > 1) return Promise.reject(new Error('the process died'));
          return deps.repository.commit(...args);
        },
      }),
    };
    await expect(drainRun({ workflow_run_id: runId, user_id: userId }, dying)).rejects.toThrow(
      'the process died',
    );
    const cancel = await acceptRunCommand(db.models, {
      runId,
      userId,
      type: 'cancel',
      correlationId: newId('correlation'),
    });
    // Its lease holds the run until it expires: the cancel's drain defers to it.
    expect(await drainRun({ workflow_run_id: runId, user_id: userId }, deps)).toMatchObject({
      deferred: true,
    });
    await db.models.runs.updateOne(
      { workflow_run_id: runId },
      { $set: { lease_expires_at: new Date(Date.now() - 1) } },
    );
    await drainRun({ workflow_run_id: runId, user_id: userId }, deps);
    const events = await eventsOf(runId);
    expect(events.map((e) => e.event_type)).toEqual([
      'run_created',
      'step_started',
      'module_started',
      'module_interrupted',
      'module_completed',
      'run_cancelled',
    ]);
    const key = events[2]?.data['idempotency_key'];
    expect(events[3]?.data).toEqual({ attempt: 1, idempotency_key: key });
    expect(events[5]?.command_id).toBe(cancel.command_id);
  });
});
