import { beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { newId, type StepwiseModule, type WorkflowDefinition } from '@stepwise/shared';
import { DuplicateRequestKeyError, acceptRunCommand, commandAt } from '@stepwise/shared/node';
import { drainRun, type DrainDependencies } from '../src/engine/drain-run.js';
import { useTestDatabases } from '../../../test/support/databases.js';
import {
  queuelessDrainDependencies,
  storeNewRun,
  storeTestVersion,
} from '../../../test/support/runner.js';

/**
 * Keys that cannot be stored (api.md, "Contract decisions added later"), on the engine's side and
 * without the gateway: a command whose record cannot be stored gives its number back at once, and
 * a module whose result holds such a key fails like any module instead of stalling its run. Real
 * MongoDB, no queue: each drain here is one call.
 */
const db = await useTestDatabases('unstorable_drain');
const userId = newId('user');
let deps: DrainDependencies;

/** A plugin as a user might write one: it parses text it was given (outside data) into outputs. */
const parsesText: StepwiseModule = {
  id: 'keys.parse',
  interactive: false,
  effects: 'none',
  summary: 'Parses its text as JSON (until a retry brings feedback)',
  inputs: z.strictObject({ text: z.string() }),
  async execute(inputs, context) {
    return { value: context.run.feedback ?? (JSON.parse(String(inputs['text'])) as unknown) };
  },
};

/** A plugin with a bug: its result contains itself. */
const returnsItself: StepwiseModule = {
  id: 'keys.loop',
  interactive: false,
  effects: 'none',
  summary: 'Returns an object that contains itself',
  inputs: z.strictObject({}),
  async execute() {
    const value: Record<string, unknown> = { name: 'loop' };
    value['self'] = value;
    return { value };
  },
};

/** An interactive plugin whose request is built from outside data. */
const asksParsedText: StepwiseModule = {
  id: 'keys.ask',
  interactive: true,
  effects: 'none',
  summary: 'Asks with a request parsed from its text',
  inputs: z.strictObject({ text: z.string() }),
  async request(inputs) {
    return { shown: JSON.parse(String(inputs['text'])) as unknown };
  },
  async respond(_request, response) {
    return { ok: true, outputs: { answer: response } };
  },
};

beforeAll(async () => {
  deps = queuelessDrainDependencies(db, [parsesText, asksParsedText, returnsItself]);
});

const versionOf = (workflow: WorkflowDefinition) => storeTestVersion(db.models, userId, workflow);

function oneModule(module: Record<string, unknown>): WorkflowDefinition {
  return {
    workflow_id: 'keys',
    initial_state: {},
    config: {},
    steps: [{ step_id: 's', modules: [module] }],
  } as WorkflowDefinition;
}

/** Creates a run of `versionId` and applies its start. */
async function startedRun(versionId: string, initialState: Record<string, unknown> = {}) {
  const { run } = await storeNewRun(db.mongo, db.models, {
    userId,
    body: { workflow_version_id: versionId, project_name: 'p', initial_state: initialState },
    correlationId: newId('correlation'),
  });
  await drainRun(run, deps);
  return run.workflow_run_id;
}

const runOf = async (runId: string) => db.models.runs.findOne({ workflow_run_id: runId }).lean();
const eventsOf = (runId: string) =>
  db.models.events.find({ workflow_run_id: runId }).sort({ seq: 1 }).lean();
const respond = (runId: string, interactionId: string, response: unknown, key?: string) =>
  acceptRunCommand(db.models, {
    runId,
    userId,
    type: 'respond',
    payload: { interaction_id: interactionId, response },
    correlationId: newId('correlation'),
    idempotencyKey: key,
  });

describe('a command that cannot be stored after its number was taken', () => {
  it('gives the number back at once: the next command is applied by the next drain', async () => {
    const runId = await startedRun(
      await versionOf(
        oneModule({
          module_id: 'user.confirm',
          name: 'ok',
          inputs: { message: 'ok?' },
          outputs_to_state: { confirmed: 'ok' },
        }),
      ),
    );
    const asking = await runOf(runId);
    expect(asking?.status).toBe('awaiting_input');
    const interactionId = asking?.pending_interaction?.interaction_id ?? '';

    // Past the gateway's check (as a bug or another acceptor might send it): the driver refuses
    // the record after the run's number was taken. With an Idempotency-Key, which stays unused.
    await expect(respond(runId, interactionId, { 'a\u0000b': true }, 'answer-1')).rejects.toSatisfy(
      (error: Error) =>
        !(error instanceof DuplicateRequestKeyError) && /null bytes/.test(error.message),
    );
    const taken = (await runOf(runId))?.command_seq ?? 0;
    expect(taken).toBe(2);
    // The number holds a command that changes nothing, stored right away.
    const filler = await commandAt(db.models, runId, taken);
    expect(filler).toMatchObject({
      type: 'continue',
      payload: { expected_last_seq: -1 },
      status: 'pending',
    });
    expect(filler?.client_request_key).toBeUndefined();

    // The corrected answer, with the same key (the failed one never used it).
    const answer = await respond(runId, interactionId, { confirmed: true }, 'answer-1');
    expect(answer.seq).toBe(3);
    // One drain applies it: no waiting for the number to count as lost (30 s).
    await drainRun({ workflow_run_id: runId, user_id: userId }, deps);
    expect(
      (await db.models.runCommands.findOne({ command_id: answer.command_id }).lean())?.status,
    ).toBe('applied');
    expect(await runOf(runId)).toMatchObject({ status: 'completed', applied_command_seq: 3 });
    const events = await eventsOf(runId);
    // The filler was passed on the way and changed nothing.
    const passed = await commandAt(db.models, runId, taken);
    expect(passed?.status).not.toBe('pending');
    // What was stored: the start, the filler and the answer; nothing for the refused record.
    expect(await db.models.runCommands.countDocuments({ workflow_run_id: runId })).toBe(3);
    expect(events.filter((e) => e.command_id === filler?.command_id)).toEqual([]);
    expect(events.map((e) => e.event_type).slice(-4)).toEqual([
      'interaction_responded',
      'module_completed',
      'step_completed',
      'run_completed',
    ]);
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
  });
});

describe('a module result with a key that cannot be stored', () => {
  const parseWorkflow = oneModule({
    module_id: 'keys.parse',
    name: 'parse',
    inputs: { text: '{{ state.text }}' },
    outputs_to_state: { value: 'value' },
  });

  it.each([
    ['a NUL character', '{"ok": 1, "deep": [{"a\\u0000b": 2}]}', 'outputs.value.deep[0]["a\\0b"]'],
    ['__proto__', '{"x": {"__proto__": {"polluted": true}}}', 'outputs.value.x.__proto__'],
    ['constructor', '[{"constructor": "Ferrari"}]', 'outputs.value[0].constructor'],
    ['prototype', '{"prototype": null}', 'outputs.value.prototype'],
  ])(
    'fails the module with a recorded error naming the path (%s), and the run takes the next command',
    async (_name, text, path) => {
      const runId = await startedRun(await versionOf(parseWorkflow), { text });
      const failed = await runOf(runId);
      expect(failed?.status).toBe('error');
      expect(failed?.error).toEqual({
        code: 'OUTPUT_UNSTORABLE',
        message: expect.stringContaining(`at ${path}: `) as unknown,
      });
      const events = await eventsOf(runId);
      expect(events.map((e) => e.event_type).slice(-3)).toEqual([
        'module_started',
        'module_failed',
        'run_failed',
      ]);
      // Not retried: the same result would be refused again.
      expect(events.find((e) => e.event_type === 'module_failed')?.data).toMatchObject({
        attempt: 1,
        will_retry: false,
        error: { code: 'OUTPUT_UNSTORABLE' },
      });
      expect(await db.models.runCommands.countDocuments({ workflow_run_id: runId })).toBe(1);

      // The run is not stuck: a retry (whose feedback the plugin returns instead) is applied by the
      // next drain and completes the run.
      const retry = await acceptRunCommand(db.models, {
        runId,
        userId,
        type: 'retry',
        payload: { step_id: 's', feedback: 'fixed' },
        correlationId: newId('correlation'),
      });
      await drainRun({ workflow_run_id: runId, user_id: userId }, deps);
      expect(
        (await db.models.runCommands.findOne({ command_id: retry.command_id }).lean())?.status,
      ).toBe('applied');
      const done = await runOf(runId);
      expect(done?.status).toBe('completed');
      expect(done?.snapshot.state).toEqual({ text, value: 'fixed' });
    },
  );

  it('fails the module when its result nests deeper than can be stored, or contains itself', async () => {
    // MongoDB refuses documents nested deeper than 100 levels (the stand-in in tests does not).
    const deep = `${'['.repeat(100)}1${']'.repeat(100)}`;
    const deepRun = await startedRun(await versionOf(parseWorkflow), { text: deep });
    expect((await runOf(deepRun))?.error).toEqual({
      code: 'OUTPUT_UNSTORABLE',
      message:
        "what module 'keys.parse' returned nests deeper than 64 levels, which cannot be stored",
    });
    // A result that contains itself ends the walk too (it would otherwise never end).
    const loopRun = await startedRun(
      await versionOf(oneModule({ module_id: 'keys.loop', name: 'loop', inputs: {} })),
    );
    expect(await runOf(loopRun)).toMatchObject({
      status: 'error',
      error: { code: 'OUTPUT_UNSTORABLE' },
    });
    expect((await eventsOf(loopRun)).at(-1)?.event_type).toBe('run_failed');
  });

  it('fails an interactive plugin whose request holds such a key, before it is asked', async () => {
    const runId = await startedRun(
      await versionOf(
        oneModule({
          module_id: 'keys.ask',
          name: 'ask',
          inputs: { text: '{{ state.text }}' },
          outputs_to_state: { answer: 'answer' },
        }),
      ),
      { text: '{"fine": {"$defs": 1, "a.b": 2}, "bad": {"x\\u0000": 3}}' },
    );
    const failed = await runOf(runId);
    expect(failed?.status).toBe('error');
    expect(failed?.pending_interaction).toBeNull();
    expect(failed?.error).toMatchObject({ code: 'OUTPUT_UNSTORABLE' });
    expect(failed?.error?.message).toContain('at request.shown.bad["x\\0"]: ');
    const types = (await eventsOf(runId)).map((e) => e.event_type);
    expect(types).not.toContain('interaction_requested');
    expect(types.at(-1)).toBe('run_failed');
  });
});
