import { beforeAll, describe, expect, it } from 'vitest';
import {
  displayKinds,
  interactionRequestSchemas,
  MAX_DISPLAY_ITEMS,
  pluginRequestSchema,
  type EventView,
  type RunView,
} from '@stepwise/shared';
import { useTestDatabases } from './support/databases.js';
import { createTestUser, startTestGateway, startTestResolver } from './support/gateway.js';
import { startTestRunner } from './support/runner.js';
import { expectConsistentLog, RunsClient } from './support/runs.js';

/**
 * The context a person sees beside a question (people.md, "Context"): `display` items rendered
 * with the run's state when the question is asked, carried in the request (the run's pending
 * interaction and the `interaction_requested` event), checked at submission; and `user.select`
 * options' own description and image.
 */
const db = await useTestDatabases('interaction_context');
const gateway = await startTestGateway(db);
await startTestResolver(db);
await startTestRunner(db);

let client: RunsClient;
beforeAll(async () => {
  client = new RunsClient(gateway, (await createTestUser(gateway, 'context')).api_key);
});

const ARTIFACT_ID = `art_${'ab'.repeat(12)}`;

type ModuleSpec = Record<string, unknown>;

/** One step: set some state (`draft`), then ask with `asking` (the first one named `question`). */
function workflow(
  id: string,
  asking: ModuleSpec | ModuleSpec[],
  state: Record<string, unknown> = {},
  draft: ModuleSpec = {},
) {
  const [first, ...rest] = Array.isArray(asking) ? asking : [asking];
  return {
    workflow_id: id,
    initial_state: { topic: 'cats', ...state },
    config: { tone: 'dry' },
    steps: [
      {
        step_id: 'ask',
        modules: [
          {
            module_id: 'transform.set',
            name: 'draft',
            inputs: { value: { text: 'A {{ state.topic }} clip', words: 3 } },
            outputs_to_state: { value: 'draft' },
            ...draft,
          },
          { name: 'question', ...first },
          ...rest,
        ],
      },
    ],
  };
}

async function submitRefused(document: unknown): Promise<{ path: string; message: string }[]> {
  const response = await client.request('/v1/workflows', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(document),
  });
  const body = (await response.json()) as {
    error: { code: string; details: { path: string; message: string }[] };
  };
  expect(response.status, JSON.stringify(body)).toBe(422);
  expect(body.error.code).toBe('WORKFLOW_INVALID');
  return body.error.details;
}

async function startWaiting(versionId: string): Promise<RunView> {
  const { status, run } = await client.start({ workflow_version_id: versionId }, '?wait_ms=20000');
  expect(status).toBe(201);
  expect(run.status, JSON.stringify(run.error)).toBe('awaiting_input');
  return run;
}

async function requestedEvent(runId: string): Promise<EventView> {
  const events = await client.events(runId);
  const asked = events.filter((event) => event.event_type === 'interaction_requested');
  expect(asked).toHaveLength(1);
  return asked[0] as EventView;
}

describe('display beside a question', () => {
  it('renders every kind with the run state when the question is asked', async () => {
    const display = [
      { label: 'Topic', kind: 'text', value: '{{ state.topic | upcase }} ({{ config.tone }})' },
      { label: 'Draft', kind: 'markdown', value: '**{{ state.draft.text }}**' },
      { label: 'Draft data', kind: 'json', value: '{{ state.draft }}' },
      { label: 'As JSON text', kind: 'json', value: '{"n": {{ state.draft.words }}}' },
      { label: 'Not JSON', kind: 'json', value: 'just {{ state.topic }}' },
      { label: 'Still', kind: 'image', value: 'https://img.example/{{ state.topic }}.png' },
      { label: 'Voice', kind: 'audio', value: 'https://media.example/{{ state.topic }}.mp3' },
      { label: 'Clip', kind: 'video', value: 'https://media.example/{{ state.topic }}.mp4' },
      { label: 'File', kind: 'artifact', value: '{{ state.file }}' },
    ];
    expect(display.map((item) => item.kind).sort()).toEqual(
      [...displayKinds, 'json', 'json'].sort(),
    );
    const versionId = await client.submitJson(
      workflow(
        'display_kinds',
        {
          module_id: 'user.confirm',
          inputs: { message: 'Publish {{ state.topic }}?' },
          display,
          outputs_to_state: { confirmed: 'ok' },
        },
        { file: ARTIFACT_ID },
      ),
    );
    const run = await startWaiting(versionId);
    const expected = [
      { label: 'Topic', kind: 'text', value: 'CATS (dry)' },
      { label: 'Draft', kind: 'markdown', value: '**A cats clip**' },
      { label: 'Draft data', kind: 'json', value: { text: 'A cats clip', words: 3 } },
      { label: 'As JSON text', kind: 'json', value: { n: 3 } },
      { label: 'Not JSON', kind: 'json', value: 'just cats' },
      { label: 'Still', kind: 'image', value: 'https://img.example/cats.png' },
      { label: 'Voice', kind: 'audio', value: 'https://media.example/cats.mp3' },
      { label: 'Clip', kind: 'video', value: 'https://media.example/cats.mp4' },
      { label: 'File', kind: 'artifact', value: ARTIFACT_ID },
    ];
    const request = { message: 'Publish cats?', display: expected };
    expect(run.pending_interaction?.request).toEqual(request);
    // The same through GET, and in the log.
    expect((await client.get(run.workflow_run_id)).pending_interaction?.request).toEqual(request);
    const event = await requestedEvent(run.workflow_run_id);
    expect(event.data).toMatchObject({ module_id: 'user.confirm', request });
    // The documented shape is the one produced.
    expect(interactionRequestSchemas['user.confirm'].safeParse(request).success).toBe(true);

    const done = await client.answerPending(run, { confirmed: true });
    expect(done.status).toBe('completed');
    await expectConsistentLog(client, run.workflow_run_id);
  });

  it('renders from the state of the moment, not the start', async () => {
    // A second question shows what the first answer wrote to the state.
    const document = workflow('display_state', [
      {
        module_id: 'user.text_input',
        inputs: { prompt: 'Your caption' },
        display: [{ label: 'Words', kind: 'text', value: '{{ state.draft.words }} words' }],
        outputs_to_state: { value: 'caption' },
      },
      {
        module_id: 'user.select',
        name: 'pick',
        inputs: { prompt: 'Pick', options: ['a', 'b'] },
        display: [{ label: 'Caption', kind: 'text', value: 'You wrote: {{ state.caption }}' }],
        outputs_to_state: { selected: 'picked' },
      },
    ]);
    const run = await startWaiting(await client.submitJson(document));
    expect(run.pending_interaction?.request).toMatchObject({
      prompt: 'Your caption',
      display: [{ label: 'Words', kind: 'text', value: '3 words' }],
    });
    const next = await client.answerPending(run, { value: 'Hello there' });
    expect(next.pending_interaction?.request).toEqual({
      prompt: 'Pick',
      options: [
        { index: 0, value: 'a', key: null, last_used: null },
        { index: 1, value: 'b', key: null, last_used: null },
      ],
      multi: false,
      min: 1,
      max: 1,
      display: [{ label: 'Caption', kind: 'text', value: 'You wrote: Hello there' }],
    });
  });

  it('fails the module with a readable reason when a display template fails', async () => {
    const versionId = await client.submitJson(
      workflow('display_broken', {
        module_id: 'user.form',
        inputs: { fields: [{ name: 'mood', type: 'string' }] },
        display: [
          { label: 'Fine', kind: 'text', value: '{{ state.topic }}' },
          { label: 'Broken', kind: 'text', value: 'See {{ state.nowhere }}' },
        ],
      }),
    );
    const { run } = await client.start({ workflow_version_id: versionId }, '?wait_ms=20000');
    expect(run.status).toBe('error');
    expect(run.error?.code).toBe('TEMPLATE_ERROR');
    expect(run.error?.message).toMatch(/display\[1\] \("Broken"\)/);
    expect(run.error?.message).toContain('state.nowhere');
    const events = await client.events(run.workflow_run_id);
    expect(events.some((event) => event.event_type === 'interaction_requested')).toBe(false);
    expect(events.find((event) => event.event_type === 'module_failed')).toMatchObject({
      module_name: 'question',
      data: { error: { code: 'TEMPLATE_ERROR' }, will_retry: false },
    });
  });

  it('fails the module when an artifact item does not render an artifact id', async () => {
    const versionId = await client.submitJson(
      workflow('display_not_artifact', {
        module_id: 'user.confirm',
        inputs: { message: 'ok?' },
        display: [{ label: 'File', kind: 'artifact', value: '{{ state.topic }}' }],
      }),
    );
    const { run } = await client.start({ workflow_version_id: versionId }, '?wait_ms=20000');
    expect(run.status).toBe('error');
    expect(run.error).toMatchObject({ code: 'DISPLAY_INVALID' });
    expect(run.error?.message).toContain('not an artifact id');
  });

  it("adds display to a plugin module's own request", async () => {
    const versionId = await client.submitJson(
      workflow('display_plugin', {
        module_id: 'test.vote',
        inputs: { question: 'Good?' },
        display: [{ label: 'Draft', kind: 'json', value: '{{ state.draft }}' }],
      }),
    );
    const run = await startWaiting(versionId);
    const request = {
      question: 'Good?',
      display: [{ label: 'Draft', kind: 'json', value: { text: 'A cats clip', words: 3 } }],
    };
    expect(run.pending_interaction?.request).toEqual(request);
    expect(pluginRequestSchema.safeParse(request).success).toBe(true);
  });

  it('refuses a bad display at submission, naming the path', async () => {
    const ask = (display: unknown) =>
      workflow('display_bad', {
        module_id: 'user.confirm',
        inputs: { message: 'ok?' },
        display,
      });
    const path = 'steps[0].modules[1].display';
    expect(await submitRefused(ask([{ label: 'Doc', kind: 'pdf', value: 'x' }]))).toEqual([
      expect.objectContaining({ path: `${path}[0].kind` }),
    ]);
    expect(await submitRefused(ask([{ label: 'N', kind: 'text', value: 3 }]))).toEqual([
      expect.objectContaining({ path: `${path}[0].value` }),
    ]);
    expect(
      await submitRefused(ask([{ label: 'N', kind: 'text', value: 'x', colour: 'red' }])),
    ).toEqual([expect.objectContaining({ path: `${path}[0].colour` })]);
    expect(await submitRefused(ask([{ kind: 'text', value: 'x' }]))).toEqual([
      expect.objectContaining({ path: `${path}[0].label` }),
    ]);
    const tooMany = Array.from({ length: MAX_DISPLAY_ITEMS + 1 }, (_, i) => ({
      label: `item ${i}`,
      kind: 'text',
      value: 'x',
    }));
    expect(await submitRefused(ask(tooMany))).toEqual([
      { path, message: `at most ${MAX_DISPLAY_ITEMS} display items` },
    ]);
    // Exactly the limit is fine.
    await client.submitJson(ask(tooMany.slice(0, MAX_DISPLAY_ITEMS)));
    // A module that asks nobody has nobody to show it to.
    const onTransform = workflow(
      'display_on_transform',
      { module_id: 'user.confirm', inputs: { message: 'ok?' } },
      {},
      { display: [{ label: 'x', kind: 'text', value: 'y' }] },
    );
    expect(await submitRefused(onTransform)).toEqual([
      expect.objectContaining({ path: 'steps[0].modules[0].display' }),
    ]);
  });
});

describe('user.select options with a description and an image', () => {
  it('carries them in the request as rendered', async () => {
    const versionId = await client.submitJson(
      workflow('select_described', {
        module_id: 'user.select',
        inputs: {
          prompt: 'Which draft?',
          options: [
            {
              id: 'long',
              description: 'A long draft about {{ state.topic }}.\nSecond line.',
              image: 'https://img.example/{{ state.topic }}.png',
            },
            { id: 'file', image: ARTIFACT_ID },
            'plain',
          ],
        },
        outputs_to_state: { selected: 'choice' },
      }),
    );
    const run = await startWaiting(versionId);
    const first = {
      id: 'long',
      description: 'A long draft about cats.\nSecond line.',
      image: 'https://img.example/cats.png',
    };
    const request = {
      prompt: 'Which draft?',
      options: [
        {
          index: 0,
          value: first,
          key: null,
          last_used: null,
          description: first.description,
          image: first.image,
        },
        {
          index: 1,
          value: { id: 'file', image: ARTIFACT_ID },
          key: null,
          last_used: null,
          image: ARTIFACT_ID,
        },
        { index: 2, value: 'plain', key: null, last_used: null },
      ],
      multi: false,
      min: 1,
      max: 1,
    };
    expect(run.pending_interaction?.request).toEqual(request);
    expect((await requestedEvent(run.workflow_run_id)).data).toMatchObject({ request });
    expect(interactionRequestSchemas['user.select'].safeParse(request).success).toBe(true);
    const done = await client.answerPending(run, { selected_indices: [0] });
    expect(done.status).toBe('completed');
    expect((await client.state(run.workflow_run_id)).state['choice']).toEqual(first);
  });

  it('refuses a description that is not text, at submission and when rendered', async () => {
    expect(
      await submitRefused(
        workflow('select_bad', {
          module_id: 'user.select',
          inputs: { prompt: 'p', options: ['a', { description: 5 }] },
        }),
      ),
    ).toEqual([
      expect.objectContaining({ path: 'steps[0].modules[1].inputs.options[1].description' }),
    ]);
    // Options that come from the state are checked when the module renders them.
    const versionId = await client.submitJson(
      workflow(
        'select_bad_state',
        { module_id: 'user.select', inputs: { prompt: 'p', options: '{{ state.opts }}' } },
        { opts: [{ image: ['not', 'text'] }] },
      ),
    );
    const { run } = await client.start({ workflow_version_id: versionId }, '?wait_ms=20000');
    expect(run.error).toMatchObject({ code: 'INPUT_INVALID' });
    expect(run.error?.message).toContain('image');
  });
});

describe('workflows without display', () => {
  it('ask exactly what they asked before', async () => {
    const versionId = await client.submitJson(
      workflow('no_display', {
        module_id: 'user.text_input',
        inputs: { prompt: 'Say {{ state.topic }}', default: 'x', max_length: 5 },
        outputs_to_state: { value: 'said' },
      }),
    );
    const run = await startWaiting(versionId);
    expect(run.pending_interaction?.request).toEqual({
      prompt: 'Say cats',
      default: 'x',
      pattern: null,
      min_length: null,
      max_length: 5,
    });
    expect(
      (await requestedEvent(run.workflow_run_id)).data['request'] as Record<string, unknown>,
    ).not.toHaveProperty('display');
    const done = await client.answerPending(run, { value: 'meow' });
    expect(done.status).toBe('completed');
    expect((await client.state(run.workflow_run_id)).state['said']).toBe('meow');
  });
});

describe('the contract', () => {
  it('names every built-in request shape and the display item', async () => {
    const response = await gateway.request('/openapi.json');
    expect(response.status).toBe(200);
    const document = (await response.json()) as {
      components: { schemas: Record<string, Record<string, unknown>> };
    };
    const schemas = document.components.schemas;
    for (const id of [
      'SelectRequest',
      'SelectOption',
      'TextInputRequest',
      'FormRequest',
      'FormField',
      'ConfirmRequest',
      'PluginRequest',
      'DisplayItem',
      'DisplayItemDefinition',
    ])
      expect(schemas, id).toHaveProperty(id);
    expect(schemas['SelectRequest']?.['properties']).toHaveProperty('display');
    expect(schemas['SelectOption']?.['properties']).toHaveProperty('description');
    expect(schemas['SelectOption']?.['properties']).toHaveProperty('image');
    // The run's pending interaction offers the named shapes, not "anything".
    const text = JSON.stringify(document);
    expect(text).toContain('"$ref":"#/components/schemas/SelectRequest"');
    expect(text).toContain('"$ref":"#/components/schemas/DisplayItemDefinition"');
  });
});
