import { beforeAll, describe, expect, it } from 'vitest';
import type { RunView } from '@stepwise/shared';
import { useTestDatabases } from '../../../test/support/databases.js';
import {
  createTestUser,
  startTestGateway,
  startTestResolver,
} from '../../../test/support/gateway.js';
import { startTestRunner } from '../../../test/support/runner.js';
import { RunsClient, expectConsistentLog } from '../../../test/support/runs.js';

/**
 * The same answer twice (effects.md, rule 7) and the Idempotency-Key header on commands, through
 * real HTTP with two runners on one queue; and the actor every event of a command carries.
 */
const db = await useTestDatabases('command-idempotency');
const gateway = await startTestGateway(db);
await startTestResolver(db);
await startTestRunner(db);
await startTestRunner(db);

let alice: RunsClient;
let aliceKeyId: string;
let aliceId: string;
let versionId: string;
beforeAll(async () => {
  const created = await createTestUser(gateway, 'idem-alice');
  alice = new RunsClient(gateway, created.api_key);
  aliceKeyId = created.key_id;
  aliceId = created.user.user_id;
  versionId = await alice.submitJson(twice);
});

/** Text input, then an effect outside the log, then a confirmation. */
const twice = {
  workflow_id: 'twice',
  steps: [
    {
      step_id: 's',
      modules: [
        {
          module_id: 'user.text_input',
          name: 'topic',
          inputs: { prompt: 'Topic?' },
          outputs_to_state: { value: 'topic' },
        },
        // An effect outside the log (it leaves a trace line per execution), between questions.
        { module_id: 'test.sleep', name: 'work', inputs: { ms: 50, value: 1 } },
        { module_id: 'user.confirm', name: 'ok', inputs: { message: 'ok?' } },
      ],
    },
  ],
};

async function waitingRun(): Promise<RunView> {
  const { run } = await alice.start({ workflow_version_id: versionId });
  expect(run.status).toBe('awaiting_input');
  return run;
}

function answer(run: RunView, value: string, key?: string) {
  return alice.request(
    `/v1/runs/${run.workflow_run_id}/interactions/${run.pending_interaction?.interaction_id ?? ''}`,
    {
      method: 'POST',
      json: { response: { value } },
      ...(key ? { headers: { 'idempotency-key': key } } : {}),
    },
  );
}

async function commandsOf(runId: string) {
  return db.models.runCommands.find({ workflow_run_id: runId }).sort({ seq: 1 }).lean();
}

describe('the same answer twice', () => {
  it('applies one of two concurrent identical answers; the other gets 409; the modules run once', async () => {
    for (let round = 0; round < 5; round++) {
      const run = await waitingRun();
      const replies = await Promise.all([answer(run, 'cats'), answer(run, 'cats')]);
      expect(replies.map((r) => r.status).sort()).toEqual([200, 409]);
      const refused = (await replies.find((r) => r.status === 409)?.json()) as {
        error: { code: string };
      };
      expect(refused.error.code).toBe('INTERACTION_NOT_PENDING');
      const events = await expectConsistentLog(alice, run.workflow_run_id);
      expect(events.filter((e) => e.event_type === 'interaction_responded')).toHaveLength(1);
      expect(
        events.filter((e) => e.event_type === 'module_started' && e.module_name === 'work'),
      ).toHaveLength(1);
    }
  });

  it('with one Idempotency-Key, both get the first outcome and only one command exists', async () => {
    const run = await waitingRun();
    const key = `answer-${run.workflow_run_id}`;
    const replies = await Promise.all([answer(run, 'dogs', key), answer(run, 'dogs', key)]);
    expect(replies.map((r) => r.status)).toEqual([200, 200]);
    const bodies = (await Promise.all(replies.map((r) => r.json()))) as RunView[];
    expect(bodies.map((b) => b.current_module)).toEqual(['ok', 'ok']);
    // A third repeat, long after: the same outcome again, nothing new.
    const again = await answer(run, 'dogs', key);
    expect(again.status).toBe(200);
    const commands = await commandsOf(run.workflow_run_id);
    const responds = commands.filter((c) => c.type === 'respond');
    expect(responds).toHaveLength(1);
    expect(responds[0]?.status).toBe('applied');
    // A number taken by the losing request is filled, so nothing waits for it.
    expect(commands.every((c) => c.status !== 'pending')).toBe(true);
    const events = await expectConsistentLog(alice, run.workflow_run_id);
    expect(events.filter((e) => e.event_type === 'interaction_responded')).toHaveLength(1);
  });

  it('repeats a refusal for a repeated key, and refuses a key reused for another request', async () => {
    const run = await waitingRun();
    const wrong = 'wrong-interaction';
    const refuse = () =>
      alice.request(`/v1/runs/${run.workflow_run_id}/interactions/int_${'0'.repeat(24)}`, {
        method: 'POST',
        json: { response: { value: 'x' } },
        headers: { 'idempotency-key': wrong },
      });
    const first = await refuse();
    expect(first.status).toBe(409);
    const second = await refuse();
    expect(second.status).toBe(409);
    expect(await second.json()).toEqual(await first.json());

    const reused = await answer(run, 'another body', wrong);
    expect(reused.status).toBe(409);
    expect(await reused.json()).toMatchObject({
      error: { code: 'CONFLICT', details: [{ path: 'headers.idempotency-key' }] },
    });
    expect((await alice.get(run.workflow_run_id)).status).toBe('awaiting_input');
  });

  it('scopes keys to their user: the same key from another tenant is a request of its own', async () => {
    const run = await waitingRun();
    const key = `shared-key-${run.workflow_run_id}`;
    expect((await answer(run, 'mine', key)).status).toBe(200);
    const bob = new RunsClient(gateway, (await createTestUser(gateway, 'idem-bob')).api_key);
    const { run: bobs } = await bob.start({ workflow_version_id: await bob.submitJson(twice) });
    const reply = await bob.request(
      `/v1/runs/${bobs.workflow_run_id}/interactions/${bobs.pending_interaction?.interaction_id ?? ''}`,
      { method: 'POST', json: { response: { value: 'his' } }, headers: { 'idempotency-key': key } },
    );
    expect(reply.status).toBe(200);
    expect((await reply.json()) as RunView).toMatchObject({
      workflow_run_id: bobs.workflow_run_id,
      current_module: 'ok',
    });
    // Alice's key named her command only: bob's same key on her run would be a 404, not hers.
    const across = await bob.request(`/v1/runs/${run.workflow_run_id}/cancel`, {
      method: 'POST',
      headers: { 'idempotency-key': key },
    });
    expect(across.status).toBe(404);
    expect((await alice.get(run.workflow_run_id)).current_module).toBe('ok');
  });

  it('refuses a malformed Idempotency-Key with 400 and changes nothing', async () => {
    const run = await waitingRun();
    const before = await commandsOf(run.workflow_run_id);
    const reply = await answer(run, 'cats', 'has spaces in it');
    expect(reply.status).toBe(400);
    expect(await reply.json()).toMatchObject({
      error: { code: 'BAD_REQUEST', details: [{ path: 'headers.idempotency-key' }] },
    });
    expect(await commandsOf(run.workflow_run_id)).toEqual(before);
  });
});

describe('actors', () => {
  it('stamps every event a command causes with the user and key that sent it', async () => {
    const run = await waitingRun();
    const reply = await answer(run, 'birds');
    expect(reply.status).toBe(200);
    const events = await alice.events(run.workflow_run_id);
    const caused = events.filter((e) => e.seq > (run.last_seq ?? 0));
    expect(caused.length).toBeGreaterThan(2);
    for (const event of caused)
      expect(event.actor).toEqual({ user_id: aliceId, key_id: aliceKeyId });
    const [respond] = (await commandsOf(run.workflow_run_id)).filter((c) => c.type === 'respond');
    expect(respond?.actor).toEqual({ user_id: aliceId, key_id: aliceKeyId });
  });
});
