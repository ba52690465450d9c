import { beforeAll, describe, expect, it } from 'vitest';
import { newId } from '@stepwise/shared';
import { useTestDatabases } from './support/databases.js';
import { createTestUser, startTestGateway, startTestResolver } from './support/gateway.js';
import { startTestRunner } from './support/runner.js';
import { RunsClient } from './support/runs.js';
import { verifyRuns, type AcknowledgedAnswer } from '../soak/verify.mjs';

/**
 * The soak's verdict is only worth something if its checks fire: a healthy run passes, and each
 * kind of damage the soak looks for is reported against the run it concerns.
 */
const db = await useTestDatabases('soak_verifier');
const gateway = await startTestGateway(db);
await startTestResolver(db);
await startTestRunner(db);
let client: RunsClient;
let versionId: string;

beforeAll(async () => {
  client = new RunsClient(gateway, (await createTestUser(gateway, 'verifier')).api_key);
  versionId = await client.submitJson({
    workflow_id: 'verified',
    steps: [
      {
        step_id: 's',
        modules: [
          {
            module_id: 'transform.set',
            name: 'set',
            inputs: { value: 'x' },
            outputs_to_state: { value: 'v' },
          },
          { module_id: 'user.confirm', name: 'one', inputs: { message: '1?' } },
          { module_id: 'user.confirm', name: 'two', inputs: { message: '2?' } },
        ],
      },
    ],
  });
});

/** A run answered once (so it is waiting on its second question), and the answer's record. */
async function answeredRun(): Promise<{ runId: string; answer: AcknowledgedAnswer }> {
  const { run } = await client.start({ workflow_version_id: versionId });
  const interactionId = run.pending_interaction?.interaction_id ?? '';
  await client.answerPending(run, { confirmed: true });
  return {
    runId: run.workflow_run_id,
    answer: {
      run_id: run.workflow_run_id,
      branch_id: run.active_branch_id,
      interaction_id: interactionId,
    },
  };
}

async function violationsOf(runId: string, answers: AcknowledgedAnswer[] = []): Promise<string[]> {
  const { violations } = await verifyRuns(db.models, answers);
  return violations.filter((v) => v.run === runId).map((v) => v.what);
}

describe('the soak verifier', () => {
  it('passes a healthy run with its acknowledged answer', async () => {
    const { runId, answer } = await answeredRun();
    expect(await violationsOf(runId, [answer])).toEqual([]);
  });

  it('reports a gap in the log', async () => {
    const { runId } = await answeredRun();
    await db.models.events.deleteOne({ workflow_run_id: runId, seq: 3 });
    expect(await violationsOf(runId)).toContain('seq has a gap or a repeat');
  });

  it('reports a snapshot that a replay does not give', async () => {
    const { runId } = await answeredRun();
    await db.models.runs.updateOne(
      { workflow_run_id: runId },
      { $set: { 'snapshot.state.v': 'tampered' } },
    );
    expect(await violationsOf(runId)).toContain('snapshot differs from a replay of the log');
  });

  it('reports a run stuck in running and a command never applied', async () => {
    const { runId } = await answeredRun();
    await db.models.runs.updateOne({ workflow_run_id: runId }, { $set: { status: 'running' } });
    await db.models.runCommands.collection.insertOne({
      command_id: newId('command'),
      workflow_run_id: runId,
      user_id: 'usr_x',
      seq: 99,
      type: 'cancel',
      payload: {},
      correlation_id: newId('correlation'),
      status: 'pending',
      error: null,
      accepted_at: new Date(),
      finished_at: null,
    });
    const found = await violationsOf(runId);
    expect(found).toContain('still running after the system went quiet');
    expect(found).toContain('command 99 still pending');
    expect(found).toContain('an accepted command was never applied');
  });

  it('reports a command applied twice (its events in two commits)', async () => {
    const { runId } = await answeredRun();
    const events = await db.models.events.find({ workflow_run_id: runId }).sort({ seq: 1 }).lean();
    const first = events[0];
    const last = events.at(-1);
    if (!first || !last) throw new Error('no events');
    // The start command's events appear again after the answer's: a second application.
    const { _id: _ignored, ...again } = first;
    await db.models.events.collection.insertOne({
      ...again,
      event_id: newId('event'),
      seq: last.seq + 1,
    });
    await db.models.runs.updateOne({ workflow_run_id: runId }, { $inc: { last_seq: 1 } });
    expect((await violationsOf(runId)).join('\n')).toMatch(/events are not one commit/);
  });

  it('reports an acknowledged answer missing from the log, or present twice', async () => {
    const { runId, answer } = await answeredRun();
    const ghost = { ...answer, interaction_id: newId('interaction') };
    expect(await violationsOf(runId, [ghost])).toContain(
      `acknowledged answer to ${ghost.interaction_id} is not in the log`,
    );
    const responded = await db.models.events
      .findOne({ workflow_run_id: runId, event_type: 'interaction_responded' })
      .lean();
    if (!responded) throw new Error('no answer in the log');
    const last = await db.models.runs.findOne({ workflow_run_id: runId }).lean();
    const { _id: _ignored, ...twice } = responded;
    await db.models.events.collection.insertOne({
      ...twice,
      event_id: newId('event'),
      seq: (last?.last_seq ?? 0) + 1,
    });
    expect(await violationsOf(runId, [answer])).toContain(
      'an interaction was answered twice on one branch',
    );
  });
});
