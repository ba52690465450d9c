import { Job } from 'bullmq';
import { beforeAll, describe, expect, it } from 'vitest';
import { errorEnvelopeSchema, versionSummarySchema, type RunView } from '@stepwise/shared';
import { zipFiles } from '../../../test/support/bundles.js';
import { useTestDatabases } from '../../../test/support/databases.js';
import {
  createTestUser,
  startTestGateway,
  startTestResolver,
} from '../../../test/support/gateway.js';
import { startTestRunner } from '../../../test/support/runner.js';
import { snapshotDatabase as fullSnapshot } from '../../../test/support/snapshots.js';
import { zipWithRepeatedNames } from '../../resolver/test/support/repeated-entries.js';

/**
 * The upload contract of issue 15, over HTTP with a real resolver and runner: refusals no retry
 * can change come at once in the error envelope, keys that cannot be stored are refused, keys
 * that can are read back exactly, a zip may not hold two entries at one path, and `entry_point`
 * gets one answer from both upload routes.
 */

const db = await useTestDatabases('upload_contract');
const gateway = await startTestGateway(db);
await startTestResolver(db);
await startTestRunner(db);

let token = '';
beforeAll(async () => {
  token = (await createTestUser(gateway, 'uploader')).api_key;
});

/** The database's documents; a collection created empty on the way (a GridFS bucket) is none. */
async function snapshotDatabase(connection: typeof db.mongo) {
  return Object.fromEntries(
    Object.entries(await fullSnapshot(connection)).filter(([, documents]) => documents.length > 0),
  );
}

type Body = Uint8Array | string;
const zipType = 'application/zip';
const jsonType = 'application/json';

function post(path: string, body: Body | null, type: string) {
  return gateway.request(path, {
    method: 'POST',
    token,
    ...(body === null ? {} : { headers: { 'content-type': type }, body }),
  });
}

async function answer(response: Response) {
  return { status: response.status, body: (await response.json()) as unknown };
}

/** A one-step workflow as JSON text; `stateJson` is raw JSON text, so any key can be written. */
const workflowText = (id: string, stateJson = '{}') =>
  `{"workflow_id": "${id}", "initial_state": ${stateJson}, "steps": [{"step_id": "s", "modules": ` +
  `[{"module_id": "user.confirm", "name": "c", "inputs": {"message": "ok?"}}]}]}`;

const zipOf = (files: Record<string, string>) => zipFiles(new Map(Object.entries(files)));

/** Polls `GET /v1/jobs/{id}` until the job is no longer waiting or running. */
async function settledJob(jobId: string) {
  for (let i = 0; i < 200; i++) {
    const view = (await (await gateway.request(`/v1/jobs/${jobId}`, { token })).json()) as {
      state: string;
    };
    if (view.state === 'completed' || view.state === 'failed') return view;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`job ${jobId} did not settle`);
}

const unstorable: { name: string; type: string; body: () => Promise<Body>; path: string }[] = [
  {
    name: 'a JSON workflow with a NUL in a key',
    type: jsonType,
    body: async () => workflowText('nul_key', '{"a\\u0000b": 1}'),
    path: 'initial_state["a\\0b"]',
  },
  {
    name: 'a JSON workflow with a __proto__ key',
    type: jsonType,
    body: async () => workflowText('proto_key', '{"x": {"__proto__": {"polluted": true}}}'),
    path: 'initial_state.x.__proto__',
  },
  {
    name: 'a zip whose referenced file has a NUL in a key',
    type: zipType,
    body: () =>
      zipOf({
        'workflow.json': workflowText('zip_nul', '{"$ref": "state.json"}'),
        'state.json': '{"inner": {"bad\\u0000": true}}',
      }),
    path: 'initial_state.inner["bad\\0"]',
  },
  {
    name: 'a zip whose entry file has a constructor key',
    type: zipType,
    body: () => zipOf({ 'workflow.json': workflowText('zip_ctor', '{"constructor": 1}') }),
    path: 'initial_state.constructor',
  },
];

describe('keys that cannot be stored: 422 at once, never retried', () => {
  it.each(unstorable)('$name → 422 WORKFLOW_INVALID at its path', async ({ type, body, path }) => {
    const payload = await body();
    const before = await snapshotDatabase(db.mongo);
    const response = await post('/v1/workflows', payload, type);
    expect(response.status).toBe(422);
    const { error } = errorEnvelopeSchema.parse(await response.json());
    expect(error.code).toBe('WORKFLOW_INVALID');
    expect(error.details).toEqual([expect.objectContaining({ path })]);
    if (type === zipType)
      expect(error.details).toEqual([
        expect.objectContaining({ message: expect.stringMatching(/in '(state|workflow)\.json'/) }),
      ]);
    expect(await snapshotDatabase(db.mongo)).toEqual(before);
  });

  it('wait=false with JSON: refused at once with 422, before anything is queued', async () => {
    const waiting = await gateway.deps.queues.resolve.queue.getJobCounts();
    const response = await post(
      '/v1/workflows?wait=false',
      workflowText('now_nul', '{"a\\u0000": 1}'),
      jsonType,
    );
    expect(response.status).toBe(422);
    expect(await response.json()).toEqual({
      error: {
        code: 'WORKFLOW_INVALID',
        message: 'initial_state["a\\0"]: a key may not contain the NUL character',
        details: [
          { path: 'initial_state["a\\0"]', message: 'a key may not contain the NUL character' },
        ],
      },
    });
    expect(await gateway.deps.queues.resolve.queue.getJobCounts()).toEqual(waiting);
  });

  it('wait=false with a zip: the job shows the refusal with its code, after one attempt', async () => {
    const response = await post(
      '/v1/workflows?wait=false',
      await zipOf({ 'workflow.json': workflowText('later_nul', '{"a\\u0000": 1}') }),
      zipType,
    );
    expect(response.status).toBe(202);
    const { job_id } = (await response.json()) as { job_id: string };
    expect(await settledJob(job_id)).toEqual({
      job_id,
      state: 'failed',
      error: {
        code: 'WORKFLOW_INVALID',
        message: expect.stringContaining(
          'initial_state["a\\0"]: a key may not contain the NUL character',
        ),
        details: [
          {
            path: 'initial_state["a\\0"]',
            message: `a key may not contain the NUL character (in 'workflow.json' at initial_state["a\\0"])`,
          },
        ],
      },
    });
    const job = await Job.fromId(gateway.deps.queues.resolve.queue, job_id);
    expect(job?.attemptsStarted).toBe(1);
    expect(job?.finishedOn).toBeDefined();
  });

  it('the resume route refuses such a workflow the same way', async () => {
    const run = await startRun(await submitted(workflowText('resume_keys'), jsonType));
    const response = await post(
      `/v1/runs/${run.workflow_run_id}/resume`,
      workflowText('resume_keys', '{"prototype": 1}'),
      jsonType,
    );
    expect(response.status).toBe(422);
    expect(errorEnvelopeSchema.parse(await response.json()).error).toMatchObject({
      code: 'WORKFLOW_INVALID',
      details: [{ path: 'initial_state.prototype', message: "'prototype' is a reserved key" }],
    });
  });
});

describe('keys starting with $ or holding a dot', () => {
  const state = {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    $defs: { 'item.v1': { type: 'object', properties: { 'a.b': { type: 'string' } } } },
    'dotted.key': { $nested: [{ '.': '' }] },
  };
  const jsonSchema = { $defs: { 'x.y': { type: 'number' } }, properties: { '$id.z': {} } };
  const llmModule = {
    module_id: 'api.llm',
    name: 'm',
    inputs: { model: 'x', json_schema: jsonSchema },
  };

  it.each([
    [
      'JSON',
      jsonType,
      async () =>
        JSON.stringify({
          workflow_id: 'dollars_json',
          initial_state: state,
          steps: [{ step_id: 's', modules: [llmModule] }],
        }),
    ],
    [
      'zip',
      zipType,
      () =>
        zipOf({
          'workflow.json': JSON.stringify({
            workflow_id: 'dollars_zip',
            initial_state: { $ref: 'state.json' },
            steps: [{ step_id: 's', modules: [{ $ref: 'module.json' }] }],
          }),
          'state.json': JSON.stringify(state),
          'module.json': JSON.stringify(llmModule),
        }),
    ],
  ])(
    'a %s workflow keeps them, and GET /v1/versions reads them back exactly',
    async (_, type, body) => {
      const versionId = await submitted(await body(), type);
      const detail = await gateway.request(`/v1/versions/${versionId}`, { token });
      expect(detail.status).toBe(200);
      const { resolved_workflow } = (await detail.json()) as {
        resolved_workflow: { initial_state: unknown; steps: { modules: { inputs: unknown }[] }[] };
      };
      expect(resolved_workflow.initial_state).toEqual(state);
      expect(resolved_workflow.steps[0]?.modules[0]?.inputs).toEqual(llmModule.inputs);
    },
  );
});

describe('a zip with two entries at one path', () => {
  it.each([
    ['workflow.json', 'workflow.json'],
    ['./workflow.json', 'workflow.json'],
  ])('%s after workflow.json → 400 INVALID_ZIP naming the entry', async (second) => {
    const bytes = await zipWithRepeatedNames([
      ['workflow.json', workflowText('first')],
      [second, workflowText('second')],
    ]);
    const before = await snapshotDatabase(db.mongo);
    const response = await post('/v1/workflows', bytes, zipType);
    expect(response.status).toBe(400);
    const { error } = errorEnvelopeSchema.parse(await response.json());
    expect(error.code).toBe('INVALID_ZIP');
    expect(error.details).toEqual([
      { path: 'workflow.json', message: 'more than one entry has this path' },
    ]);
    expect(await snapshotDatabase(db.mongo)).toEqual(before);
  });
});

async function submitted(body: Body, type: string, query = ''): Promise<string> {
  const response = await post(`/v1/workflows${query}`, body, type);
  const json: unknown = await response.json();
  if (response.status !== 200 && response.status !== 201)
    throw new Error(`${response.status}: ${JSON.stringify(json)}`);
  return versionSummarySchema.parse(json).workflow_version_id;
}

async function startRun(versionId: string): Promise<RunView> {
  const response = await gateway.request('/v1/runs', {
    method: 'POST',
    token,
    json: { workflow_version_id: versionId, project_name: 'uploads' },
  });
  const run = (await response.json()) as RunView;
  expect(run.status, JSON.stringify(run)).toBe('awaiting_input');
  return run;
}

describe('entry_point: one rule for both upload routes', () => {
  let runId = '';
  let bundle: Buffer;
  beforeAll(async () => {
    bundle = await zipOf({ 'main.json': workflowText('entry_points') });
    runId = (await startRun(await submitted(bundle, zipType, '?entry_point=main.json')))
      .workflow_run_id;
  });

  const bad: { name: string; query: string; type: string; message: RegExp }[] = [
    { name: 'empty', query: 'entry_point=', type: zipType, message: />=1 characters/ },
    { name: 'a backslash', query: 'entry_point=a%5Cb.json', type: zipType, message: /inside/ },
    { name: 'a NUL', query: 'entry_point=a%00b.json', type: zipType, message: /inside/ },
    {
      name: '513 characters',
      query: `entry_point=${'a'.repeat(513)}`,
      type: zipType,
      message: /512/,
    },
    {
      name: 'with a JSON workflow',
      query: 'entry_point=main.json',
      type: jsonType,
      message: /application\/json/,
    },
  ];

  it.each(bad)(
    '$name: the same 400 from POST /v1/workflows and resume',
    async ({ query, type, message }) => {
      const body = type === zipType ? bundle : workflowText('entry_points');
      const before = await snapshotDatabase(db.mongo);
      const submit = await answer(await post(`/v1/workflows?${query}`, body, type));
      const resume = await answer(await post(`/v1/runs/${runId}/resume?${query}`, body, type));
      expect(resume).toEqual(submit);
      expect(submit.status).toBe(400);
      const { error } = errorEnvelopeSchema.parse(submit.body);
      expect(error.code).toBe('BAD_REQUEST');
      expect(error.details).toContainEqual({
        path: 'query.entry_point',
        message: expect.stringMatching(message) as string,
      });
      expect(await snapshotDatabase(db.mongo)).toEqual(before);
    },
  );

  it('a resume without a workflow refuses entry_point with the same message', async () => {
    const response = await answer(
      await post(`/v1/runs/${runId}/resume?entry_point=main.json`, null, zipType),
    );
    expect(response.status).toBe(400);
    expect(errorEnvelopeSchema.parse(response.body).error).toEqual({
      code: 'BAD_REQUEST',
      message: 'entry_point applies to zip submissions only',
      details: [{ path: 'query.entry_point', message: 'not allowed without a zip' }],
    });
  });

  it('a good entry_point works on both routes', async () => {
    const again = await post('/v1/workflows?entry_point=./main.json', bundle, zipType);
    expect(again.status).toBe(200);
    const resumed = await post(`/v1/runs/${runId}/resume?entry_point=main.json`, bundle, zipType);
    expect(resumed.status).toBe(200);
    expect(((await resumed.json()) as RunView).workflow_run_id).toBe(runId);
  });
});
