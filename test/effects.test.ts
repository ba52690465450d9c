import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import type { RunView } from '@stepwise/shared';
import { useTestDatabases, type TestDatabases } from './support/databases.js';
import { createTestUser, startTestGateway, startTestResolver } from './support/gateway.js';
import { startTestRunner } from './support/runner.js';
import { RunsClient } from './support/runs.js';
import {
  effectfulWorkflow,
  startFakeProvider,
  type FakeProvider,
} from './support/fake-provider.mjs';
import { verifyEffects, type EffectsRow } from '../soak/verify.mjs';

/**
 * Side effects happen once per attempt, and the log accounts for every one (effects.md, "How it
 * is checked"): runs waiting at a text input are each sent their answer and, at the same moment, a
 * second command; then every provider call the fake counted must be an attempt in the log, every
 * call must have its `tokens` record, and every logged artifact must hold the bytes the log hashes.
 * With one runner (two drains of one run in one process) and with two.
 */
const RUNS = 8;

const provider: FakeProvider = await startFakeProvider({ delayMs: 50 });
afterAll(() => provider.close());

interface World {
  db: TestDatabases;
  client: RunsClient;
  versionId: string;
}

async function world(label: string, runners: number): Promise<World> {
  const db = await useTestDatabases(label);
  const gateway = await startTestGateway(db);
  await startTestResolver(db);
  for (let i = 0; i < runners; i++)
    await startTestRunner(db, { llm: { baseUrl: provider.baseUrl }, allowedHosts: ['127.0.0.1'] });
  const client = new RunsClient(gateway, (await createTestUser(gateway, 'effects')).api_key);
  const versionId = await client.submitJson(effectfulWorkflow({ renderUrl: provider.renderUrl }));
  return { db, client, versionId };
}

const worlds = new Map<number, World>([
  [1, await world('effects_one_runner', 1)],
  [2, await world('effects_two_runners', 2)],
]);

/** Runs waiting at their text input, each with a project name of its own (the marker). */
async function waitingRuns({ client, versionId }: World, label: string): Promise<RunView[]> {
  const tag = randomBytes(3).toString('hex');
  return Promise.all(
    Array.from({ length: RUNS }, async (_, i) => {
      const { status, run } = await client.start(
        { workflow_version_id: versionId, project_name: `${label}-${tag}-${i}` },
        '?wait_ms=20000',
      );
      expect(status).toBe(201);
      expect(run.status).toBe('awaiting_input');
      return run;
    }),
  );
}

/** Until no run is running, no command pending, no provider call open, and nothing moved for 1 s. */
async function settle({ db }: World, runIds: string[]): Promise<void> {
  const deadline = Date.now() + 20_000;
  let last = '';
  let stableSince = Date.now();
  for (;;) {
    const [runs, pending] = await Promise.all([
      db.models.runs.collection
        .find({ workflow_run_id: { $in: runIds } }, { projection: { status: 1, last_seq: 1 } })
        .toArray(),
      db.models.runCommands.collection.countDocuments({
        workflow_run_id: { $in: runIds },
        status: 'pending',
      }),
    ]);
    const quiet =
      runs.every((run) => run['status'] !== 'running') &&
      pending === 0 &&
      provider.inFlight() === 0;
    const fingerprint = JSON.stringify([
      runs.map((run) => run['last_seq']),
      pending,
      provider.calls.length,
    ]);
    if (fingerprint !== last) {
      last = fingerprint;
      stableSince = Date.now();
    }
    if ((quiet && Date.now() - stableSince >= 1_000) || Date.now() > deadline) return;
    await sleep(100);
  }
}

const reached = (attempts: EffectsRow['llm']) =>
  attempts.completed + attempts.failed + attempts.interrupted;

/** Each run's books: what the provider saw against what the log and `tokens` say. */
function ledger(rows: EffectsRow[]) {
  return rows.map((row) => ({
    run: row.marker,
    status: row.status,
    llmCalls: row.llm_calls,
    llmAttempts: reached(row.llm),
    tokens: row.tokens,
    renderCalls: row.fetch_calls,
    fetchAttempts: reached(row.fetch),
    artifactMismatches: row.artifact_mismatches,
  }));
}

interface Case {
  name: string;
  second: (client: RunsClient, run: RunView) => Promise<Response>;
  finalStatus: string;
  /** The second command is the same answer again. */
  sameAnswer?: boolean;
}

const answerOf = (run: RunView) => ({ value: `a clip about ${run.project_name}` });
const answer = (client: RunsClient, run: RunView) =>
  client.request(
    `/v1/runs/${run.workflow_run_id}/interactions/${run.pending_interaction?.interaction_id ?? ''}?wait_ms=20000`,
    { method: 'POST', json: { response: answerOf(run) } },
  );

const cases: Case[] = [
  {
    name: 'answer + cancel',
    second: (client, run) =>
      client.request(`/v1/runs/${run.workflow_run_id}/cancel?wait_ms=20000`, { method: 'POST' }),
    finalStatus: 'cancelled',
  },
  {
    name: 'answer + retry of the first step',
    second: (client, run) =>
      client.request(`/v1/runs/${run.workflow_run_id}/retry?wait_ms=20000`, {
        method: 'POST',
        json: { step_id: 'ask' },
      }),
    finalStatus: 'awaiting_input',
  },
  {
    name: 'the same answer twice',
    second: answer,
    finalStatus: 'awaiting_input',
    sameAnswer: true,
  },
];

describe.each([1, 2])(
  'with %i runner(s), each run answered together with a second command',
  (runners) => {
    it.each(cases)(
      '$name: one provider call per attempt in the log',
      async (testCase) => {
        const here = worlds.get(runners);
        if (!here) throw new Error('no world');
        const runs = await waitingRuns(here, testCase.name.split(' ').at(-1) ?? 'case');
        const runIds = runs.map((run) => run.workflow_run_id);
        const replies = await Promise.all(
          runs.map((run) =>
            Promise.all(
              [answer(here.client, run), testCase.second(here.client, run)].map(async (sent) => {
                const reply = await sent;
                return { status: reply.status, body: await reply.text() };
              }),
            ),
          ),
        );
        expect(replies.flat().filter((reply) => reply.status >= 500)).toEqual([]);
        await settle(here, runIds);

        const { violations, rows } = await verifyEffects(here.db.models, {
          calls: provider.calls,
          runIds,
        });
        const books = ledger(rows);
        // Every provider call is an attempt the log records (completed, failed, or interrupted)…
        expect(books.filter((b) => b.llmCalls !== b.llmAttempts)).toEqual([]);
        expect(books.filter((b) => b.renderCalls !== b.fetchAttempts)).toEqual([]);
        // …every call has its tokens record…
        expect(books.filter((b) => b.tokens !== b.llmCalls)).toEqual([]);
        // …and every artifact a committed event names holds the bytes the log hashes.
        expect(books.filter((b) => b.artifactMismatches > 0)).toEqual([]);
        // Nothing stuck: every run where its commands leave it, no command pending.
        expect(books.filter((b) => b.status !== testCase.finalStatus)).toEqual([]);
        const pending = await here.db.models.runCommands.collection.countDocuments({
          workflow_run_id: { $in: runIds },
          status: 'pending',
        });
        expect(pending).toBe(0);
        expect(violations).toEqual([]);

        if (testCase.sameAnswer) {
          // Exactly one of the two answers is applied; the other is refused with 409 (effects.md §7).
          expect(replies.map((pair) => pair.map((r) => r.status).sort())).toEqual(
            replies.map(() => [200, 409]),
          );
          const responded = await here.db.models.events.collection.countDocuments({
            workflow_run_id: { $in: runIds },
            event_type: 'interaction_responded',
          });
          expect(responded).toBe(RUNS);
          // The modules after the answer ran once.
          expect(books.map((b) => b.llmCalls)).toEqual(books.map(() => 1));
        }
      },
      60_000,
    );
  },
);

describe.each([1, 2])('with %i runner(s), a cancel sent while the LLM call is open', (runners) => {
  it('takes effect at the next module boundary; the chain is not run twice', async () => {
    const here = worlds.get(runners);
    if (!here) throw new Error('no world');
    const runs = await waitingRuns(here, 'midcall');
    const runIds = runs.map((run) => run.workflow_run_id);
    // Hold these runs' LLM calls long enough for the cancel to arrive while they are open.
    const held = new Set(runs.map((run) => run.project_name));
    const previousDelay = provider.delayMs;
    provider.delayMs = (call) => (call.marker !== null && held.has(call.marker) ? 500 : 50);
    try {
      const replies = await Promise.all(
        runs.map(async (run) => {
          const answered = answer(here.client, run);
          await provider.waitForCall(
            (call) => call.kind === 'chat' && call.marker === run.project_name,
          );
          const cancelled = await here.client.request(
            `/v1/runs/${run.workflow_run_id}/cancel?wait_ms=20000`,
            { method: 'POST' },
          );
          return [(await answered).status, cancelled.status];
        }),
      );
      expect(replies).toEqual(runs.map(() => [200, 200]));
      await settle(here, runIds);
    } finally {
      provider.delayMs = previousDelay;
    }
    const { violations, rows } = await verifyEffects(here.db.models, {
      calls: provider.calls,
      runIds,
    });
    // The open call completes and is committed; the cancel applies before api.fetch starts.
    expect(ledger(rows)).toEqual(
      ledger(rows).map((b) => ({
        ...b,
        status: 'cancelled',
        llmCalls: 1,
        llmAttempts: 1,
        tokens: 1,
        renderCalls: 0,
        fetchAttempts: 0,
        artifactMismatches: 0,
      })),
    );
    expect(violations).toEqual([]);
  }, 60_000);
});

describe('idempotency keys', () => {
  it('api.llm and api.fetch send the key of their module_started as Idempotency-Key', async () => {
    const here = worlds.get(1);
    if (!here) throw new Error('no world');
    const [run] = await waitingRuns(here, 'keys');
    if (!run) throw new Error('no run');
    const { status } = await here.client.answer(
      run.workflow_run_id,
      run.pending_interaction?.interaction_id ?? '',
      answerOf(run),
    );
    expect(status).toBe(200);
    expect((await here.client.get(run.workflow_run_id, '?wait=true&wait_ms=20000')).status).toBe(
      'awaiting_input',
    );
    const events = await here.client.events(run.workflow_run_id);
    const startedOf = (moduleName: string) => {
      const started = events.filter(
        (e) => e.event_type === 'module_started' && e.module_name === moduleName,
      );
      expect(started).toHaveLength(1);
      return started[0]?.data ?? {};
    };
    const draft = startedOf('draft');
    const render = startedOf('render');
    expect(draft['effects']).toBe('external');
    expect(typeof draft['idempotency_key']).toBe('string');
    expect(draft['idempotency_key']).not.toBe(render['idempotency_key']);

    const chats = provider.callsOf('chat', run.project_name);
    expect(chats.map((c) => c.idempotencyKey)).toEqual([draft['idempotency_key']]);
    const renders = provider.callsOf('render', run.project_name);
    expect(renders.map((c) => c.idempotencyKey)).toEqual([render['idempotency_key']]);

    // The call's usage is recorded under the same key, once, completed.
    const tokens = await here.db.models.tokens.collection
      .find({ workflow_run_id: run.workflow_run_id })
      .toArray();
    expect(
      tokens.map((t) => ({
        idempotency_key: t['idempotency_key'],
        call_index: t['call_index'],
        status: t['status'],
      })),
    ).toEqual([{ idempotency_key: draft['idempotency_key'], call_index: 0, status: 'completed' }]);
  });
});
