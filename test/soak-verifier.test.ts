import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId } from '@stepwise/shared';
import { deleteFromBucket, uploadToBucket } from '@stepwise/shared/node';
import { useTestDatabases } from './support/databases.js';
import { createTestUser, startTestGateway, startTestResolver } from './support/gateway.js';
import { startTestRunner } from './support/runner.js';
import { RunsClient } from './support/runs.js';
import { effectfulWorkflow, startFakeProvider, type FakeCall } from './support/fake-provider.mjs';
import {
  verifyEffects,
  verifyRuns,
  type AcknowledgedAnswer,
  type ProviderCall,
} from '../soak/verify.mjs';

/**
 * The soak's verdict is only worth something if its checks fire: a healthy run passes, and each
 * kind of damage the soak looks for is reported against the run it concerns.
 */
const db = await useTestDatabases('soak_verifier');
const gateway = await startTestGateway(db);
await startTestResolver(db);
const provider = await startFakeProvider();
afterAll(() => provider.close());
await startTestRunner(db, { llm: { baseUrl: provider.baseUrl }, allowedHosts: ['127.0.0.1'] });
let client: RunsClient;
let versionId: string;
let effectfulVersionId: string;

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
  effectfulVersionId = await client.submitJson(
    effectfulWorkflow({ renderUrl: provider.renderUrl }),
  );
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

/** A run of the effectful workflow, answered once, its chain done (waiting for the review). */
async function effectfulRun() {
  const { run } = await client.start({
    workflow_version_id: effectfulVersionId,
    project_name: `fx-${newId('correlation').slice(5, 17)}`,
  });
  const done = await client.answerPending(run, { value: 'cats' });
  expect(done.current_step).toBe('review');
  const calls = (kind: 'chat' | 'render') => provider.callsOf(kind, run.project_name);
  const started = async (moduleName: string) => {
    const event = await db.models.events.collection.findOne({
      workflow_run_id: run.workflow_run_id,
      event_type: 'module_started',
      module_name: moduleName,
    });
    if (!event) throw new Error(`no module_started of ${moduleName}`);
    return event;
  };
  return { runId: run.workflow_run_id, marker: run.project_name, calls, started };
}

/** What the soak finds about one run, its side effects included. */
async function soakViolationsOf(runId: string, calls: readonly ProviderCall[]): Promise<string[]> {
  const { violations } = await verifyRuns(db.models, [], { calls });
  return violations.filter((v) => v.run === runId).map((v) => v.what);
}

/** What the effects check without crashes (scripts/effects-check.mjs, the effects tests) finds. */
async function effectViolationsOf(
  runId: string,
  calls: readonly ProviderCall[],
): Promise<string[]> {
  const { violations } = await verifyEffects(db.models, { calls, runIds: [runId] });
  return violations.map((v) => v.what);
}

const keyOf = (call: FakeCall | undefined) => call?.idempotencyKey ?? '';

describe('the soak verifier, on side effects (effects.md)', () => {
  it('passes a healthy run of the effectful workflow', async () => {
    const { runId } = await effectfulRun();
    expect(await soakViolationsOf(runId, provider.calls)).toEqual([]);
    expect(await effectViolationsOf(runId, provider.calls)).toEqual([]);
  });

  it('reports provider calls that no attempt in the log accounts for, or attempts without calls', async () => {
    const { runId, calls } = await effectfulRun();
    const [chat] = calls('chat');
    const [render] = calls('render');
    if (!chat || !render) throw new Error('no calls');
    const doubled = [...provider.calls, chat, render];
    expect(await soakViolationsOf(runId, doubled)).toEqual(
      expect.arrayContaining([
        'api.llm: 2 provider calls, more than the 1 attempts recorded (completed 1, failed 0, interrupted 0)',
        'api.fetch: 2 provider calls, more than the 1 attempts recorded (completed 1, failed 0, interrupted 0)',
      ]),
    );
    expect(await effectViolationsOf(runId, doubled)).toEqual(
      expect.arrayContaining([
        'api.llm: 2 provider calls for 1 attempts that reached it (completed 1, failed 0, interrupted 0)',
        'api.fetch: 2 provider calls for 1 attempts that reached it (completed 1, failed 0, interrupted 0)',
      ]),
    );
    const none = provider.calls.filter((call) => call !== chat && call !== render);
    expect(await soakViolationsOf(runId, none)).toEqual(
      expect.arrayContaining([
        'api.llm: 0 provider calls, fewer than the 1 attempts that ended (completed 1, failed 0, interrupted 0)',
        'api.fetch: 0 provider calls, fewer than the 1 attempts that ended (completed 1, failed 0, interrupted 0)',
      ]),
    );
  });

  it('reports a provider call without an Idempotency-Key, or with a key of no attempt', async () => {
    const { runId, calls } = await effectfulRun();
    const [chat] = calls('chat');
    const [render] = calls('render');
    if (!chat || !render) throw new Error('no calls');
    const others = provider.calls.filter((call) => call !== chat && call !== render);
    const unkeyed = [
      ...others,
      { ...chat, idempotencyKey: null },
      { ...render, idempotencyKey: null },
    ];
    expect(await soakViolationsOf(runId, unkeyed)).toEqual(
      expect.arrayContaining([
        'api.llm: 1 provider calls carried no Idempotency-Key',
        'api.fetch: 1 provider calls carried no Idempotency-Key',
      ]),
    );
    const stranger = `${runId}:999`;
    const misKeyed = [...others, { ...chat, idempotencyKey: stranger }, render];
    expect(await soakViolationsOf(runId, misKeyed)).toContain(
      `api.llm: a call's Idempotency-Key ${stranger} is no module_started key of the run`,
    );
  });

  it('reports a call without its tokens record, a record too many, and a record left pending', async () => {
    const { runId, calls } = await effectfulRun();
    const key = keyOf(calls('chat')[0]);
    const record = await db.models.tokens.collection.findOne({ workflow_run_id: runId });
    if (!record) throw new Error('no tokens record');
    const { _id: _ignored, ...fields } = record;

    await db.models.tokens.collection.updateOne(
      { _id: record._id },
      { $set: { status: 'pending' } },
    );
    expect(await soakViolationsOf(runId, provider.calls)).toContain(
      `tokens record ${key}#0 still pending`,
    );

    // A second record for the one call (a repeat that counted usage twice).
    await db.models.tokens.collection.updateOne(
      { _id: record._id },
      { $set: { status: 'completed' } },
    );
    await db.models.tokens.collection.insertOne({ ...fields, call_index: 1, status: 'lost' });
    expect(await soakViolationsOf(runId, provider.calls)).toContain(
      '2 tokens records for 1 api.llm attempts recorded',
    );
    expect(await effectViolationsOf(runId, provider.calls)).toContain(
      '2 tokens records for 1 provider calls',
    );

    await db.models.tokens.collection.deleteMany({ workflow_run_id: runId });
    const found = await soakViolationsOf(runId, provider.calls);
    expect(found).toContain('0 tokens records for 1 provider calls');
    expect(found).toContain(`1 provider calls with key ${key}, 0 tokens records`);
  });

  it('reports two completed tokens records of one key, and a record of a key the log never had', async () => {
    const { runId, calls } = await effectfulRun();
    const key = keyOf(calls('chat')[0]);
    const record = await db.models.tokens.collection.findOne({ workflow_run_id: runId });
    if (!record) throw new Error('no tokens record');
    const { _id: _ignored, ...fields } = record;
    await db.models.tokens.collection.insertOne({ ...fields, call_index: 1, status: 'completed' });
    expect(await soakViolationsOf(runId, provider.calls)).toContain(
      `2 completed tokens records share idempotency key ${key}`,
    );

    await db.models.tokens.collection.updateOne(
      { _id: record._id },
      { $set: { idempotency_key: `${runId}:999` } },
    );
    expect(await soakViolationsOf(runId, provider.calls)).toContain(
      `tokens record with idempotency key ${runId}:999, no module_started of this run`,
    );
  });

  it('reports an effectful module_started without its key, and a key used twice', async () => {
    const { runId, started } = await effectfulRun();
    const draft = await started('draft');
    const render = await started('render');
    await db.models.events.collection.updateOne(
      { _id: render._id },
      { $set: { 'data.idempotency_key': draft['data']['idempotency_key'] } },
    );
    expect(await soakViolationsOf(runId, provider.calls)).toContain(
      `idempotency key ${String(draft['data']['idempotency_key'])} on two module_started events`,
    );
    await db.models.events.collection.updateOne(
      { _id: draft._id },
      { $unset: { 'data.idempotency_key': '' } },
    );
    expect(await soakViolationsOf(runId, provider.calls)).toContain(
      `module_started of api.llm at seq ${draft['seq']} has no idempotency_key`,
    );
  });

  it('reports a logged artifact whose bytes differ from the log, are gone, or have no record', async () => {
    const { runId } = await effectfulRun();
    const artifact = await db.models.artifacts.collection.findOne({ workflow_run_id: runId });
    if (!artifact) throw new Error('no artifact');
    const completed = await db.models.events.collection.findOne({
      workflow_run_id: runId,
      event_type: 'module_completed',
      module_name: 'keep',
    });
    const seq = String(completed?.['seq']);
    const id = String(artifact['artifact_id']);

    // Another call's text in place of the logged one (what two drains saving one artifact do).
    const other = await uploadToBucket(
      db.mongo,
      'artifacts',
      'draft.txt',
      Buffer.from('other'),
      {},
    );
    await db.models.artifacts.collection.updateOne(
      { _id: artifact._id },
      { $set: { file_id: other } },
    );
    expect((await soakViolationsOf(runId, provider.calls)).join('\n')).toMatch(
      new RegExp(`artifact ${id} \\(seq ${seq}\\) holds bytes hashing to \\w+, the log says`),
    );

    await db.models.artifacts.collection.updateOne(
      { _id: artifact._id },
      { $set: { file_id: artifact['file_id'], sha256: 'f'.repeat(64) } },
    );
    expect((await soakViolationsOf(runId, provider.calls)).join('\n')).toMatch(
      new RegExp(`artifact ${id} \\(seq ${seq}\\) record says sha256 f{12}, the log`),
    );

    await deleteFromBucket(db.mongo, 'artifacts', String(artifact['file_id']));
    expect(await soakViolationsOf(runId, provider.calls)).toContain(
      `artifact ${id} (seq ${seq}) has no stored bytes`,
    );

    await db.models.artifacts.collection.deleteOne({ _id: artifact._id });
    expect(await soakViolationsOf(runId, provider.calls)).toContain(
      `artifact ${id} (seq ${seq}) has no record`,
    );
  });

  it('reports, outside the soak, a run still running and a command still pending', async () => {
    const { runId } = await effectfulRun();
    await db.models.runs.collection.updateOne(
      { workflow_run_id: runId },
      { $set: { status: 'running' } },
    );
    await db.models.runCommands.collection.updateOne(
      { workflow_run_id: runId, seq: 1 },
      { $set: { status: 'pending' } },
    );
    const found = await effectViolationsOf(runId, provider.calls);
    expect(found).toContain('still running after the work settled');
    expect(found).toContain('command 1 still pending');
  });
});
