import { createHash } from 'node:crypto';
import { mongo } from 'mongoose';
import { openBucket } from '@stepwise/shared/node';
import { beforeAll, describe, expect, it } from 'vitest';
import { errorEnvelopeSchema, versionSummarySchema, type VersionSummary } from '@stepwise/shared';
import {
  exampleBundle,
  exampleBundleDir,
  readTree,
  zipFiles,
} from '../../../test/support/bundles.js';
import { useTestDatabases } from '../../../test/support/databases.js';
import {
  createTestUser,
  startTestGateway,
  startTestResolver,
  testBundleLimits,
} from '../../../test/support/gateway.js';
import { snapshotDatabase } from '../../../test/support/snapshots.js';

const db = await useTestDatabases('workflows');
const gateway = await startTestGateway(db);
await startTestResolver(db);

let alice: { api_key: string; user: { user_id: string } };
let bob: { api_key: string; user: { user_id: string } };
beforeAll(async () => {
  alice = await createTestUser(gateway, 'alice');
  bob = await createTestUser(gateway, 'bob');
});

function submit(
  body: Uint8Array | string,
  options: { token?: string; type?: string; query?: string } = {},
) {
  return gateway.request(`/v1/workflows${options.query ?? ''}`, {
    method: 'POST',
    token: options.token ?? alice.api_key,
    headers: { 'content-type': options.type ?? 'application/zip' },
    body,
  });
}

async function submitOk(body: Uint8Array | string, options: Parameters<typeof submit>[1] = {}) {
  const response = await submit(body, options);
  const json: unknown = await response.json();
  if (response.status !== 200 && response.status !== 201)
    throw new Error(`${response.status}: ${JSON.stringify(json)}`);
  return { status: response.status, version: versionSummarySchema.parse(json) };
}

/** A minimal valid workflow; `changes` are merged in at the top level. */
function workflowJson(changes: Record<string, unknown> = {}) {
  return {
    workflow_id: 'tiny',
    steps: [
      {
        step_id: 'only',
        modules: [
          {
            module_id: 'transform.set',
            name: 'set',
            inputs: { value: 1 },
            outputs_to_state: { value: 'x' },
          },
        ],
      },
    ],
    ...changes,
  };
}

describe('submitting the example bundle', () => {
  it('creates a version whose $refs are resolved', async () => {
    const { status, version } = await submitOk(await exampleBundle());
    expect(status).toBe(201);
    expect(version).toMatchObject({
      workflow_template_name: 'pet_clips',
      source_type: 'zip',
      created: true,
    });
    expect(version.content_hash).toMatch(/^sha256:[0-9a-f]{64}$/);

    const detail = await gateway.request(`/v1/versions/${version.workflow_version_id}`, {
      token: alice.api_key,
    });
    expect(detail.status).toBe(200);
    const body = (await detail.json()) as {
      resolved_workflow: {
        steps: { step_id: string; modules: { inputs: Record<string, unknown> }[] }[];
      };
    };
    expect(body.resolved_workflow.steps.map((s) => s.step_id)).toEqual([
      'ideas',
      'caption',
      'prompt',
      'review',
    ]);
    const prompt = readTree(exampleBundleDir).get('prompts/video.liquid')?.toString('utf8');
    expect(body.resolved_workflow.steps[2]?.modules[0]?.inputs['template']).toBe(prompt);
    expect(JSON.stringify(body.resolved_workflow)).not.toContain('$ref');
  });

  it('gives the same version for the same tree zipped again on another day, in another order, level or folder', async () => {
    const first = await submitOk(await exampleBundle({ date: new Date('2024-01-01') }));
    for (const options of [
      { date: new Date('2025-06-30'), reverse: true },
      { level: 1 },
      { folder: 'pet-clips' },
      {
        extra: {
          '__MACOSX/._workflow.json': 'junk',
          '.DS_Store': 'junk',
          'steps/.DS_Store': 'junk',
        },
      },
    ]) {
      const again = await submitOk(await exampleBundle(options));
      expect(again.status, JSON.stringify(options)).toBe(200);
      expect(again.version).toEqual({ ...first.version, created: false });
    }
  });

  it('gives a new version when a prompt file changes, listed newest first', async () => {
    const original = await submitOk(await exampleBundle());
    const files = readTree(exampleBundleDir);
    files.set(
      'prompts/video.liquid',
      Buffer.from(`${files.get('prompts/video.liquid')?.toString()}\nSlow motion.\n`),
    );
    const changed = await submitOk(await zipFiles(files));
    expect(changed.status).toBe(201);
    expect(changed.version.workflow_version_id).not.toBe(original.version.workflow_version_id);
    expect(changed.version.workflow_template_id).toBe(original.version.workflow_template_id);

    const template = await gateway.request('/v1/templates/pet_clips', { token: alice.api_key });
    const body = (await template.json()) as {
      versions: { workflow_version_id: string }[];
      version_count: number;
      latest_version_id: string;
    };
    expect(body.versions[0]?.workflow_version_id).toBe(changed.version.workflow_version_id);
    expect(body.latest_version_id).toBe(changed.version.workflow_version_id);
    expect(body.versions.map((v) => v.workflow_version_id)).toContain(
      original.version.workflow_version_id,
    );
    expect(body.version_count).toBe(body.versions.length);
  });
});

describe('JSON submissions', () => {
  it('gives one version for reformatted JSON and a new one for changed JSON', async () => {
    const document = workflowJson({ workflow_id: 'json_flow', initial_state: { b: 1, a: [1, 2] } });
    const compact = JSON.stringify(document);
    const first = await submitOk(compact, { type: 'application/json' });
    expect(first.status).toBe(201);
    expect(first.version.source_type).toBe('json');
    const reordered = JSON.stringify(
      { steps: document.steps, initial_state: { a: [1, 2], b: 1 }, workflow_id: 'json_flow' },
      null,
      4,
    );
    const second = await submitOk(`\n  ${reordered}\n`, {
      type: 'application/json; charset=utf-8',
    });
    expect(second).toEqual({ status: 200, version: { ...first.version, created: false } });
    const changed = await submitOk(JSON.stringify({ ...document, initial_state: { b: 2 } }), {
      type: 'application/json',
    });
    expect(changed.status).toBe(201);
  });

  it('answers 202 with a job id when asked not to wait, and the job shows the result', async () => {
    const response = await submit(JSON.stringify(workflowJson({ workflow_id: 'later' })), {
      type: 'application/json',
      query: '?wait=false',
    });
    expect(response.status).toBe(202);
    const { job_id } = (await response.json()) as { job_id: string };
    expect(job_id).toMatch(/^job_/);
    let view: { state: string; result?: VersionSummary } = { state: 'waiting' };
    for (let i = 0; i < 100 && view.state !== 'completed'; i++) {
      view = (await (
        await gateway.request(`/v1/jobs/${job_id}`, { token: alice.api_key })
      ).json()) as typeof view;
      if (view.state !== 'completed') await new Promise((r) => setTimeout(r, 50));
    }
    expect(view.state).toBe('completed');
    expect(view.result).toMatchObject({ workflow_template_name: 'later', created: true });
    expect((await gateway.request(`/v1/jobs/${job_id}`, { token: bob.api_key })).status).toBe(404);
  });

  it('refuses a document that is not a workflow at once, even with wait=false', async () => {
    const response = await submit(JSON.stringify(workflowJson({ workflow_id: 'Bad Name' })), {
      type: 'application/json',
      query: '?wait=false',
    });
    expect(response.status).toBe(422);
    expect(((await response.json()) as { error: { details: unknown } }).error.details).toEqual([
      expect.objectContaining({ path: 'workflow_id' }),
    ]);
  });

  it('shows a refused submission as a failed job with the refusal', async () => {
    // A workflow in shape, refused by the resolver's module catalog: only the job can say so.
    const unknownModule = workflowJson({
      steps: [{ step_id: 'only', modules: [{ module_id: 'user.nothing', name: 'n' }] }],
    });
    const response = await submit(JSON.stringify(unknownModule), {
      type: 'application/json',
      query: '?wait=false',
    });
    expect(response.status).toBe(202);
    const { job_id } = (await response.json()) as { job_id: string };
    let view: { state: string; error?: { code: string } } = { state: 'waiting' };
    for (let i = 0; i < 100 && view.state !== 'failed'; i++) {
      view = (await (
        await gateway.request(`/v1/jobs/${job_id}`, { token: alice.api_key })
      ).json()) as typeof view;
      if (view.state !== 'failed') await new Promise((r) => setTimeout(r, 50));
    }
    expect(view).toMatchObject({ state: 'failed', error: { code: 'WORKFLOW_INVALID' } });
  });
});

describe('concurrency', () => {
  it('20 concurrent submissions of the same content create exactly one version, and all get its id', async () => {
    const bundle = await zipFiles(
      new Map([['workflow.json', JSON.stringify(workflowJson({ workflow_id: 'racing' }))]]),
    );
    const responses = await Promise.all(Array.from({ length: 20 }, () => submit(bundle)));
    const bodies = await Promise.all(
      responses.map(async (r) => ({
        status: r.status,
        body: versionSummarySchema.parse(await r.json()),
      })),
    );
    expect(new Set(bodies.map((b) => b.body.workflow_version_id)).size).toBe(1);
    expect(bodies.filter((b) => b.status === 201)).toHaveLength(1);
    expect(bodies.filter((b) => b.status === 200)).toHaveLength(19);
    const template = await db.models.templates
      .findOne({ user_id: alice.user.user_id, workflow_template_name: 'racing' })
      .lean();
    expect(await db.models.templates.countDocuments({ workflow_template_name: 'racing' })).toBe(1);
    expect(
      await db.models.versions.countDocuments({
        workflow_template_id: template?.workflow_template_id,
      }),
    ).toBe(1);
    // Only the winning submission's bytes are kept (for audit); the other 19 are deleted.
    const rawSha256 = createHash('sha256').update(bundle).digest('hex');
    const kept = await db.mongo.db
      ?.collection('submissions.files')
      .countDocuments({ 'metadata.raw_sha256': rawSha256 });
    expect(kept).toBe(1);
  });
});

describe('hostile and invalid input changes nothing', () => {
  const bigZeros = Buffer.alloc(40 * 1024 * 1024);
  const cases: {
    name: string;
    status: number;
    code: string;
    body: () => Promise<Uint8Array | string>;
    type?: string;
    query?: string;
    detailPath?: RegExp;
  }[] = [
    {
      name: 'not a zip',
      status: 400,
      code: 'INVALID_ZIP',
      body: async () => 'this is not a zip archive',
    },
    {
      name: 'a zip bomb (small file, huge ratio)',
      status: 413,
      code: 'PAYLOAD_TOO_LARGE',
      body: () => zipFiles(new Map([['workflow.json', bigZeros]]), { level: 9 }),
    },
    {
      name: 'too many entries',
      status: 413,
      code: 'PAYLOAD_TOO_LARGE',
      body: () =>
        zipFiles(
          new Map(
            Array.from({ length: testBundleLimits.maxEntries + 1 }, (_, i) => [`f${i}.txt`, 'x']),
          ),
        ),
    },
    {
      name: 'a ../ path',
      status: 422,
      code: 'WORKFLOW_INVALID',
      body: () =>
        zipFiles(new Map([['workflow.json', JSON.stringify(workflowJson())]]), {
          extra: { '../evil.json': '{}' },
        }),
      detailPath: /evil/,
    },
    {
      name: 'an absolute path',
      status: 422,
      code: 'WORKFLOW_INVALID',
      body: () =>
        zipFiles(new Map([['workflow.json', JSON.stringify(workflowJson())]]), {
          extra: { '/etc/evil.json': '{}' },
        }),
      detailPath: /evil/,
    },
    {
      name: 'a $ref cycle',
      status: 422,
      code: 'WORKFLOW_INVALID',
      body: () =>
        zipFiles(
          new Map([
            ['workflow.json', JSON.stringify(workflowJson({ steps: [{ $ref: 'a.json' }] }))],
            ['a.json', JSON.stringify({ step_id: 'a', modules: [{ $ref: 'b.json' }] })],
            [
              'b.json',
              JSON.stringify({
                module_id: 'transform.set',
                name: 'b',
                inputs: { value: { $ref: 'a.json' } },
              }),
            ],
          ]),
        ),
      detailPath: /steps\[0\]\.modules\[0\]\.inputs\.value\.\$ref/,
    },
    {
      name: 'a missing $ref target',
      status: 422,
      code: 'WORKFLOW_INVALID',
      body: () =>
        zipFiles(
          new Map([
            [
              'workflow.json',
              JSON.stringify(workflowJson({ steps: [{ $ref: 'steps/nope.json' }] })),
            ],
          ]),
        ),
      detailPath: /steps\[0\]\.\$ref/,
    },
    {
      name: 'a $ref escaping the root',
      status: 422,
      code: 'WORKFLOW_INVALID',
      body: () =>
        zipFiles(
          new Map([
            [
              'workflow.json',
              JSON.stringify(workflowJson({ steps: [{ $ref: '../../etc/passwd' }] })),
            ],
          ]),
        ),
      detailPath: /steps\[0\]\.\$ref/,
    },
    {
      name: 'invalid JSON in a referenced file',
      status: 422,
      code: 'WORKFLOW_INVALID',
      body: () =>
        zipFiles(
          new Map([
            ['workflow.json', JSON.stringify(workflowJson({ steps: [{ $ref: 's.json' }] }))],
            ['s.json', '{"step_id": "s", '],
          ]),
        ),
      detailPath: /steps\[0\]/,
    },
    {
      name: 'an unknown module',
      status: 422,
      code: 'WORKFLOW_INVALID',
      type: 'application/json',
      body: async () =>
        JSON.stringify(
          workflowJson({
            steps: [{ step_id: 's', modules: [{ module_id: 'user.selct', name: 'm' }] }],
          }),
        ),
      detailPath: /^steps\[0\]\.modules\[0\]\.module_id$/,
    },
    {
      name: 'unknown fields',
      status: 422,
      code: 'WORKFLOW_INVALID',
      type: 'application/json',
      body: async () => JSON.stringify(workflowJson({ stepz: [] })),
      detailPath: /^stepz$/,
    },
    {
      name: 'a static input of the wrong type',
      status: 422,
      code: 'WORKFLOW_INVALID',
      type: 'application/json',
      body: async () =>
        JSON.stringify(
          workflowJson({
            steps: [
              {
                step_id: 's',
                modules: [
                  {
                    module_id: 'user.select',
                    name: 'm',
                    inputs: { prompt: 'p', options: 'not a list' },
                  },
                ],
              },
            ],
          }),
        ),
      detailPath: /^steps\[0\]\.modules\[0\]\.inputs\.options$/,
    },
    {
      name: 'duplicate step ids',
      status: 422,
      code: 'WORKFLOW_INVALID',
      type: 'application/json',
      body: async () => {
        const step = workflowJson().steps[0];
        return JSON.stringify(workflowJson({ steps: [step, step] }));
      },
      detailPath: /^steps\[1\]\.step_id$/,
    },
    {
      name: 'a bad workflow_id',
      status: 422,
      code: 'WORKFLOW_INVALID',
      type: 'application/json',
      body: async () => JSON.stringify(workflowJson({ workflow_id: '../Evil' })),
      detailPath: /^workflow_id$/,
    },
    {
      name: 'malformed JSON',
      status: 400,
      code: 'BAD_REQUEST',
      type: 'application/json',
      body: async () => '{"workflow_id": ',
    },
    { name: 'an empty body', status: 400, code: 'BAD_REQUEST', body: async () => '' },
    {
      name: 'an unsupported content type',
      status: 415,
      code: 'UNSUPPORTED_MEDIA_TYPE',
      type: 'text/plain',
      body: async () => 'hello',
    },
    {
      name: 'entry_point with JSON',
      status: 400,
      code: 'BAD_REQUEST',
      type: 'application/json',
      query: '?entry_point=x.json',
      body: async () => JSON.stringify(workflowJson()),
    },
    {
      name: 'an entry point that is not in the zip',
      status: 422,
      code: 'WORKFLOW_INVALID',
      query: '?entry_point=main.json',
      body: () => exampleBundle(),
    },
    {
      name: 'an unknown query parameter',
      status: 400,
      code: 'BAD_REQUEST',
      query: '?force=1',
      body: () => exampleBundle(),
    },
  ];

  it.each(cases)(
    '$name → $status $code',
    async ({ status, code, body, type, query, detailPath }) => {
      const payload = await body();
      const before = await snapshotDatabase(db.mongo);
      const response = await submit(payload, {
        ...(type ? { type } : {}),
        ...(query ? { query } : {}),
      });
      expect(response.status).toBe(status);
      const envelope = errorEnvelopeSchema.parse(await response.json());
      expect(envelope.error.code).toBe(code);
      if (detailPath) {
        const paths = (envelope.error.details as { path: string }[]).map((d) => d.path);
        expect(
          paths.some((p) => detailPath.test(p)),
          JSON.stringify(envelope.error),
        ).toBe(true);
      }
      // No template, no version, no GridFS file (submission or resolved) is left behind.
      expect(await snapshotDatabase(db.mongo)).toEqual(before);
    },
  );

  it('a symbolic link entry → 422 and nothing written', async () => {
    const JSZip = (await import('jszip')).default;
    const zip = new JSZip();
    zip.file('workflow.json', JSON.stringify(workflowJson()), { unixPermissions: 0o100644 });
    zip.file('link.json', '/etc/passwd', { unixPermissions: 0o120777 });
    const bytes = await zip.generateAsync({ type: 'nodebuffer', platform: 'UNIX' });
    const before = await snapshotDatabase(db.mongo);
    const response = await submit(bytes);
    expect(response.status).toBe(422);
    expect(errorEnvelopeSchema.parse(await response.json()).error.details).toEqual([
      { path: 'link.json', message: 'symbolic links are not allowed' },
    ]);
    expect(await snapshotDatabase(db.mongo)).toEqual(before);
  });

  it('a body over the upload limit → 413 before anything is stored', async () => {
    const small = await startTestGateway(db, { settings: { maxUploadBytes: 64 * 1024 } });
    const before = await snapshotDatabase(db.mongo);
    const response = await small.request('/v1/workflows', {
      method: 'POST',
      token: alice.api_key,
      headers: { 'content-type': 'application/zip' },
      body: Buffer.alloc(200 * 1024, 7),
    });
    expect(response.status).toBe(413);
    expect(errorEnvelopeSchema.parse(await response.json()).error.code).toBe('PAYLOAD_TOO_LARGE');
    expect(await snapshotDatabase(db.mongo)).toEqual(before);
  });

  it('an anonymous upload is refused before its body is read', async () => {
    const response = await gateway.request('/v1/workflows', {
      method: 'POST',
      headers: { 'content-type': 'application/zip' },
      body: await exampleBundle(),
    });
    expect(response.status).toBe(401);
  });
});

describe('tenants', () => {
  it('two users own templates of the same name, and neither sees the other’s', async () => {
    const bundle = await zipFiles(
      new Map([['workflow.json', JSON.stringify(workflowJson({ workflow_id: 'shared_name' }))]]),
    );
    const mine = await submitOk(bundle, { token: alice.api_key });
    const theirs = await submitOk(bundle, { token: bob.api_key });
    expect(theirs.status).toBe(201);
    expect(theirs.version.workflow_template_id).not.toBe(mine.version.workflow_template_id);
    expect(theirs.version.workflow_version_id).not.toBe(mine.version.workflow_version_id);

    const bobsTemplates = (await (
      await gateway.request('/v1/templates', { token: bob.api_key })
    ).json()) as { items: { workflow_template_id: string }[] };
    expect(bobsTemplates.items.map((t) => t.workflow_template_id)).toEqual([
      theirs.version.workflow_template_id,
    ]);

    const asBob = await gateway.request(`/v1/versions/${mine.version.workflow_version_id}`, {
      token: bob.api_key,
    });
    expect(asBob.status).toBe(404);
    expect(errorEnvelopeSchema.parse(await asBob.json()).error.code).toBe('NOT_FOUND');
    const template = (await (
      await gateway.request('/v1/templates/shared_name', { token: bob.api_key })
    ).json()) as { workflow_template_id: string };
    expect(template.workflow_template_id).toBe(theirs.version.workflow_template_id);
    expect((await gateway.request('/v1/templates/pet_clips', { token: bob.api_key })).status).toBe(
      404,
    );
  });
});

describe('large workflows', () => {
  it('a resolved workflow above the inline limit round-trips through GridFS byte for byte', async () => {
    // 6 MB of varied text (it must not compress like a bomb), inlined by a text $ref.
    const line = (i: number) =>
      `${i.toString(36)} the cat ${'ßé漢字🐈'.repeat(i % 7)} sat on ${createHash('sha256').update(String(i)).digest('hex')}\n`;
    let text = '';
    for (let i = 0; text.length < 6 * 1024 * 1024; i++) text += line(i);
    const bundle = await zipFiles(
      new Map([
        [
          'workflow.json',
          JSON.stringify(
            workflowJson({
              workflow_id: 'big',
              steps: [
                {
                  step_id: 's',
                  modules: [
                    {
                      module_id: 'transform.template',
                      name: 't',
                      inputs: { template: { $ref: 'big.liquid', type: 'text' } },
                    },
                  ],
                },
              ],
            }),
          ),
        ],
        ['big.liquid', text],
      ]),
    );
    const { version } = await submitOk(bundle);
    const stored = await db.models.versions
      .findOne({ workflow_version_id: version.workflow_version_id })
      .lean();
    expect(stored?.resolved_workflow).toBeNull();
    expect(stored?.resolved_workflow_ref).toMatch(/^[0-9a-f]{24}$/);
    expect(stored?.size).toBeGreaterThan(4 * 1024 * 1024);

    const expected = {
      workflow_id: 'big',
      initial_state: {},
      config: {},
      steps: [
        {
          step_id: 's',
          modules: [
            {
              module_id: 'transform.template',
              name: 't',
              inputs: { template: text },
              outputs_to_state: {},
            },
          ],
        },
      ],
    };
    const chunks: Buffer[] = [];
    for await (const chunk of openBucket(db.mongo, 'resolved_workflows').openDownloadStream(
      new mongo.ObjectId(stored?.resolved_workflow_ref ?? ''),
    ))
      chunks.push(chunk as Buffer);
    expect(JSON.parse(Buffer.concat(chunks).toString('utf8'))).toEqual(expected);

    const response = await gateway.request(`/v1/versions/${version.workflow_version_id}`, {
      token: alice.api_key,
    });
    const body = (await response.json()) as { resolved_workflow: typeof expected; size: number };
    expect(body.resolved_workflow).toEqual(expected);
    expect(body.resolved_workflow.steps[0]?.modules[0]?.inputs.template === text).toBe(true);
    expect(body.size).toBe(stored?.size);
  });
});

describe('reading templates and versions', () => {
  it('pages through versions newest first', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const { version } = await submitOk(
        JSON.stringify(workflowJson({ workflow_id: 'paged', initial_state: { i } })),
        { type: 'application/json' },
      );
      ids.push(version.workflow_version_id);
    }
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const query: string = cursor ? `?limit=2&cursor=${cursor}` : '?limit=2';
      const page = (await (
        await gateway.request(`/v1/templates/paged${query}`, { token: alice.api_key })
      ).json()) as { versions: { workflow_version_id: string }[]; next_cursor: string | null };
      expect(page.versions.length).toBeLessThanOrEqual(2);
      seen.push(...page.versions.map((v) => v.workflow_version_id));
      cursor = page.next_cursor;
    } while (cursor);
    expect(seen).toEqual([...ids].reverse());
  });

  it('lists templates with their latest version and count', async () => {
    const list = (await (
      await gateway.request('/v1/templates', { token: alice.api_key })
    ).json()) as {
      items: { workflow_template_name: string; version_count: number; latest_version_id: string }[];
    };
    const paged = list.items.find((t) => t.workflow_template_name === 'paged');
    expect(paged?.version_count).toBe(5);
    expect(list.items.map((t) => t.workflow_template_name)).toEqual(
      [...list.items.map((t) => t.workflow_template_name)].sort(),
    );
  });

  it('answers 400 to malformed ids and 404 to unknown ones', async () => {
    expect((await gateway.request('/v1/versions/nope', { token: alice.api_key })).status).toBe(400);
    expect(
      (
        await gateway.request('/v1/versions/ver_01900000-0000-7000-8000-000000000000', {
          token: alice.api_key,
        })
      ).status,
    ).toBe(404);
    expect(
      (
        await gateway.request('/v1/jobs/job_01900000-0000-7000-8000-000000000000', {
          token: alice.api_key,
        })
      ).status,
    ).toBe(404);
  });
});
