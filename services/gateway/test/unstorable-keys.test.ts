import { beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  createModuleCatalog,
  errorEnvelopeSchema,
  type RunView,
  type StepwiseModule,
} from '@stepwise/shared';
import { declarationsOf, loadPluginModules } from '@stepwise/shared/node';
import { useTestDatabases } from '../../../test/support/databases.js';
import { startTestRunner } from '../../../test/support/runner.js';
import {
  createTestUser,
  startTestGateway,
  startTestResolver,
  testPluginPath,
} from '../../../test/support/gateway.js';
import { RunsClient, expectConsistentLog } from '../../../test/support/runs.js';

/**
 * Issue 15, done when: keys that cannot be stored (a NUL character; `__proto__`, `constructor`,
 * `prototype`) are refused with 400 before anything is stored or a command number is taken, so an
 * answer that is refused never stalls the run; `$`-prefixed and dotted keys are stored and read back
 * exactly (api.md, "Contract decisions added later"). Real HTTP, gateway, resolver and runner.
 */
const db = await useTestDatabases('unstorable_keys');
const gateway = await startTestGateway(db);

/**
 * Every built-in asks for a fixed answer shape; this one takes any JSON object as the answer, as a
 * plugin for free-form data would, so that the keys in an answer reach the log and the state.
 */
const freeAnswer: StepwiseModule = {
  id: 'keys.free_answer',
  interactive: true,
  effects: 'none',
  summary: 'A person answers with any JSON object',
  inputs: z.strictObject({ prompt: z.string() }),
  async request(inputs) {
    return { prompt: inputs['prompt'] };
  },
  async respond(_request, response) {
    if (typeof response !== 'object' || response === null || Array.isArray(response))
      return { ok: false, errors: [{ path: 'response', message: 'must be an object' }] };
    return { ok: true, outputs: { answer: response } };
  },
};
const plugins = [...(await loadPluginModules([testPluginPath])), freeAnswer];
await startTestResolver(db, { catalog: createModuleCatalog(declarationsOf(plugins)) });

await startTestRunner(db, { extraPlugins: [freeAnswer] });

let client: RunsClient;
let userId = '';
let versionId = '';
beforeAll(async () => {
  const user = await createTestUser(gateway, 'keeper');
  userId = user.user.user_id;
  client = new RunsClient(gateway, user.api_key);
  versionId = await client.submitJson({
    workflow_id: 'keys',
    steps: [
      {
        step_id: 'note',
        modules: [
          {
            module_id: 'keys.free_answer',
            name: 'free',
            inputs: { prompt: 'Anything?' },
            outputs_to_state: { answer: 'answer' },
          },
        ],
      },
      {
        step_id: 'check',
        modules: [
          {
            module_id: 'user.confirm',
            name: 'ok',
            inputs: { message: 'Sure?' },
            outputs_to_state: { confirmed: 'ok' },
          },
        ],
      },
    ],
  });
});

/** POSTs a JSON text as written: `__proto__` in an object literal would set a prototype instead. */
async function postText(path: string, text: string) {
  const response = await client.request(path, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: text,
  });
  return { status: response.status, body: (await response.json()) as unknown };
}

/** What is stored: this user's runs and commands, and every branch record. */
async function stored() {
  const runIds = (await db.models.runs.find({ user_id: userId }).lean()).map(
    (run) => run.workflow_run_id,
  );
  return {
    runs: runIds.length,
    commands: await db.models.runCommands.countDocuments({ user_id: userId }),
    // A run's branch record is written before the run: count them all, orphans included.
    branches: await db.models.branches.countDocuments({}),
  };
}

function expectBadRequest(reply: { status: number; body: unknown }, path: string) {
  expect(reply.status).toBe(400);
  const envelope = errorEnvelopeSchema.parse(reply.body);
  expect(envelope.error.code).toBe('BAD_REQUEST');
  expect(envelope.error.details).toEqual([{ path, message: expect.any(String) as unknown }]);
}

const asking = (text: string) => `{"response": ${text}}`;

describe('POST /v1/runs with an initial_state key that cannot be stored', () => {
  it.each([
    ['a NUL character', '{"a\\u0000b": 1}', 'body.initial_state["a\\0b"]'],
    [
      '__proto__',
      '{"x": [{"y": {"__proto__": {"admin": true}}}]}',
      'body.initial_state.x[0].y.__proto__',
    ],
    [
      'constructor',
      '{"deep": {"er": {"constructor": "Ferrari"}}}',
      'body.initial_state.deep.er.constructor',
    ],
    [
      'prototype',
      '{"list": [[1, {"prototype": null}]]}',
      'body.initial_state.list[0][1].prototype',
    ],
  ])('is 400 (%s) and creates nothing', async (_name, state, path) => {
    const before = await stored();
    const reply = await postText(
      '/v1/runs',
      `{"workflow_version_id": "${versionId}", "project_name": "p", "initial_state": ${state}}`,
    );
    expectBadRequest(reply, path);
    expect(await stored()).toEqual(before);
  });

  it('is 201 for the same request with a storable key (the refusal is about the key)', async () => {
    const reply = await postText(
      '/v1/runs',
      `{"workflow_version_id": "${versionId}", "project_name": "p", "initial_state": {"ab": 1}}`,
    );
    expect(reply.status).toBe(201);
  });
});

describe('an answer with a key that cannot be stored', () => {
  it('is 400 at once, takes no number, and the valid answer after it is applied at once', async () => {
    const { run } = await client.start({ workflow_version_id: versionId });
    expect(run.status).toBe('awaiting_input');
    const answerPath = `/v1/runs/${run.workflow_run_id}/interactions/${run.pending_interaction?.interaction_id}`;
    const before = await db.models.runs.findOne({ workflow_run_id: run.workflow_run_id }).lean();
    const commandsBefore = await stored();

    for (const [text, path] of [
      ['{"note": {"a\\u0000b": "x"}}', 'body.response.note["a\\0b"]'],
      ['{"__proto__": {"admin": true}}', 'body.response.__proto__'],
      ['{"list": [{"constructor": 1}]}', 'body.response.list[0].constructor'],
    ] as const)
      expectBadRequest(await postText(answerPath, asking(text)), path);
    // No command number was taken and no command stored: nothing for later commands to wait for.
    const after = await db.models.runs.findOne({ workflow_run_id: run.workflow_run_id }).lean();
    expect(after?.command_seq).toBe(before?.command_seq);
    expect(await stored()).toEqual(commandsBefore);

    // The valid answer is applied within the request: 200 with the run at the next question.
    const valid = await postText(answerPath, asking('{"note": "fine"}'));
    expect(valid.status).toBe(200);
    const moved = valid.body as RunView;
    expect(moved).toMatchObject({ status: 'awaiting_input', current_step: 'check' });
    expect((await client.state(run.workflow_run_id)).state['answer']).toEqual({ note: 'fine' });
    const done = await client.answerPending(moved, { confirmed: true });
    expect(done.status).toBe('completed');
    await expectConsistentLog(client, run.workflow_run_id);
  });
});

describe('`$` and dotted keys', () => {
  it('round-trip exactly in initial_state and in an answer, through the state and the events', async () => {
    const initialState = {
      $defs: { pet: { type: 'object', properties: { name: { $ref: '#/$defs/name' } } } },
      $x: 1,
      'a.b': { 'c.d': [{ $e: 'f', 'g.h': null }] },
      plain: { $gt: 2, '.lead': 'dot', 'trail.': true },
    };
    const answer = {
      $defs: { 'x.y': { $z: [1, { $in: ['a'] }] } },
      $x: 'answered',
      'a.b': { 'c.d': { $set: 1 } },
    };
    const { run } = await client.start({
      workflow_version_id: versionId,
      initial_state: initialState,
    });
    expect(run.status).toBe('awaiting_input');
    expect((await client.state(run.workflow_run_id)).state).toEqual(initialState);

    const moved = await client.answerPending(run, answer);
    expect(moved.status).toBe('awaiting_input');
    const done = await client.answerPending(moved, { confirmed: true });
    expect(done.status).toBe('completed');

    expect((await client.state(run.workflow_run_id)).state).toEqual({
      ...initialState,
      answer,
      ok: true,
    });
    const events = await expectConsistentLog(client, run.workflow_run_id);
    const dataOf = (type: string, module?: string) =>
      events.find(
        (e) => e.event_type === type && (module === undefined || e.module_name === module),
      )?.data;
    expect(dataOf('run_created')?.['initial_state']).toEqual(initialState);
    expect(dataOf('interaction_responded', 'free')?.['response']).toEqual(answer);
    expect(dataOf('module_completed', 'free')).toMatchObject({
      outputs: { answer },
      state_changes: { answer },
    });
    expect(dataOf('run_completed')?.['state']).toEqual({ ...initialState, answer, ok: true });
  });
});
