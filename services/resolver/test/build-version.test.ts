import { describe, expect, it } from 'vitest';
import { StepwiseError, createModuleCatalog } from '@stepwise/shared';
import { contentHashOfJson } from '@stepwise/shared/node';
import { buildVersion, type Submission } from '../src/build-version.js';
import {
  exampleBundle,
  exampleBundleDir,
  readTree,
  zipFiles,
} from '../../../test/support/bundles.js';

const limits = { maxEntries: 100, maxUncompressedBytes: 5 * 1024 * 1024, maxCompressionRatio: 100 };
const catalog = createModuleCatalog();
const build = (submission: Submission) => buildVersion(submission, limits, catalog);
const zip = async (files: Record<string, unknown>) =>
  ({
    sourceType: 'zip',
    bytes: await zipFiles(
      new Map(
        Object.entries(files).map(([path, value]) => [
          path,
          typeof value === 'string' ? value : JSON.stringify(value),
        ]),
      ),
    ),
  }) as const;

async function refusal(submission: Submission | Promise<Submission>): Promise<StepwiseError> {
  try {
    await build(await submission);
  } catch (error) {
    if (error instanceof StepwiseError) return error;
    throw error;
  }
  throw new Error('expected a refusal');
}

const step = (id: string) => ({
  step_id: id,
  modules: [{ module_id: 'transform.set', name: 'm', inputs: { value: id } }],
});
const workflow = (steps: unknown[]) => ({ workflow_id: 'w', steps });

describe('buildVersion', () => {
  it('resolves the example bundle: relative, root and text references', async () => {
    const built = await build({ sourceType: 'zip', bytes: await exampleBundle() });
    const files = readTree(exampleBundleDir);
    expect(built.workflow.steps).toHaveLength(4);
    expect(built.workflow.steps[3]?.modules[0]?.inputs['message']).toBe(
      files.get('prompts/approval.liquid')?.toString(),
    );
    expect(built.sourceType).toBe('zip');
  });

  it('hashes a zip by its files, not its timestamps, order, folder or junk', async () => {
    const a = await build({
      sourceType: 'zip',
      bytes: await exampleBundle({ date: new Date('2020-01-01') }),
    });
    const b = await build({
      sourceType: 'zip',
      bytes: await exampleBundle({
        reverse: true,
        folder: 'pets',
        extra: { 'pets/__MACOSX/x': 'y' },
      }),
    });
    expect(b.contentHash).toBe(a.contentHash);
    expect(b.rawSha256).not.toBe(a.rawSha256);
  });

  it('counts unreferenced files and the entry point in the hash', async () => {
    const base = await build(await zip({ 'workflow.json': workflow([step('a')]) }));
    const withNotes = await build(
      await zip({ 'workflow.json': workflow([step('a')]), 'notes.md': 'hi' }),
    );
    expect(withNotes.contentHash).not.toBe(base.contentHash);
    const otherEntry = await build({
      ...(await zip({ 'main.json': workflow([step('a')]) })),
      entryPoint: 'main.json',
    });
    const renamed = await build(await zip({ 'workflow.json': workflow([step('a')]) }));
    expect(otherEntry.contentHash).not.toBe(renamed.contentHash);
  });

  it('hashes JSON canonically', async () => {
    const document = { workflow_id: 'w', steps: [step('a')], initial_state: { z: 1, a: 2 } };
    const built = await build({
      sourceType: 'json',
      bytes: Buffer.from(JSON.stringify(document, null, 2)),
    });
    expect(built.contentHash).toBe(
      contentHashOfJson({ initial_state: { a: 2, z: 1 }, steps: [step('a')], workflow_id: 'w' }),
    );
  });

  it('reports a $ref cycle with its chain', async () => {
    const error = await refusal(
      zip({
        'workflow.json': workflow([{ $ref: 'steps/a.json' }]),
        'steps/a.json': { $ref: '../workflow.json' },
      }),
    );
    expect(error.code).toBe('WORKFLOW_INVALID');
    expect(error.message).toContain('workflow.json → steps/a.json → workflow.json');
  });

  it('allows the same file to be referenced twice without calling it a cycle', async () => {
    const built = await build(
      await zip({
        'workflow.json': workflow([
          { $ref: 's.json' },
          { step_id: 'b', modules: [{ $ref: 'm.json' }] },
        ]),
        's.json': { step_id: 'a', modules: [{ $ref: 'm.json' }] },
        'm.json': { module_id: 'transform.set', name: 'm', inputs: { value: 1 } },
      }),
    );
    expect(built.workflow.steps.map((s) => s.modules[0]?.name)).toEqual(['m', 'm']);
  });

  it('stops exponential $ref fan-out (a "billion laughs" bundle) with 413', async () => {
    const files: Record<string, unknown> = {
      'workflow.json': workflow([{ $ref: 'l0.json', type: 'json' }]),
    };
    for (let i = 0; i < 30; i++)
      files[`l${i}.json`] = [{ $ref: `l${i + 1}.json` }, { $ref: `l${i + 1}.json` }];
    files['l30.json'] = 'x'.repeat(100);
    const error = await refusal(zip(files));
    expect(error.code).toBe('PAYLOAD_TOO_LARGE');
  });

  it('rejects extra keys beside $ref, bad types and non-bundle paths', async () => {
    for (const reference of [
      { $ref: 'a.json', note: 1 },
      { $ref: 'a.json', type: 'yaml' },
      { $ref: 'C:\\\\a.json' },
      { $ref: '' },
    ]) {
      const error = await refusal(
        zip({ 'workflow.json': workflow([reference]), 'a.json': step('a') }),
      );
      expect(error.code, JSON.stringify(reference)).toBe('WORKFLOW_INVALID');
    }
  });

  it('refuses a "__proto__" key (api.md: reserved), and never makes it a prototype', async () => {
    const text =
      '{"workflow_id":"w","steps":[{"step_id":"a","modules":[{"module_id":"transform.set","name":"m","inputs":{"value":{"__proto__":{"polluted":true}}}}]}]}';
    const error = await refusal({ sourceType: 'json', bytes: Buffer.from(text) });
    expect(error.code).toBe('WORKFLOW_INVALID');
    expect(error.details).toEqual([
      expect.objectContaining({ path: 'steps[0].modules[0].inputs.value.__proto__' }),
    ]);
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
  });

  it('refuses state keys that would reach a prototype', async () => {
    const document = workflow([
      {
        step_id: 'a',
        modules: [
          {
            module_id: 'transform.set',
            name: 'm',
            inputs: { value: 1 },
            outputs_to_state: { value: '__proto__' },
          },
        ],
      },
    ]);
    const error = await refusal({
      sourceType: 'json',
      bytes: Buffer.from(JSON.stringify(document)),
    });
    expect(error.details).toEqual([
      expect.objectContaining({ path: 'steps[0].modules[0].outputs_to_state.value' }),
    ]);
  });

  it('lists every validation error with its path', async () => {
    const document = {
      workflow_id: 'w',
      steps: [
        {
          step_id: 'a',
          modules: [
            { module_id: 'user.confirm', name: 'm', inputs: {} },
            { module_id: 'user.confirm', name: 'm', inputs: { message: 'x', extra: 1 } },
          ],
        },
        { step_id: 'a', modules: [{ module_id: 'nope', name: 'n' }] },
      ],
    };
    const error = await refusal({
      sourceType: 'json',
      bytes: Buffer.from(JSON.stringify(document)),
    });
    expect((error.details as { path: string }[]).map((d) => d.path).sort()).toEqual([
      'steps[0].modules[0].inputs.message',
      'steps[0].modules[1].inputs.extra',
      'steps[0].modules[1].name',
      'steps[1].modules[0].module_id',
      'steps[1].step_id',
    ]);
  });

  it('checks static inputs but leaves templated ones for the run', async () => {
    const templated = workflow([
      {
        step_id: 'a',
        modules: [
          {
            module_id: 'user.select',
            name: 'm',
            inputs: { prompt: 'p', options: '{{ state.ideas }}', multi: '{{ config.multi }}' },
          },
        ],
      },
    ]);
    await expect(
      build({ sourceType: 'json', bytes: Buffer.from(JSON.stringify(templated)) }),
    ).resolves.toBeDefined();
    const wrong = workflow([
      {
        step_id: 'a',
        modules: [
          {
            module_id: 'user.select',
            name: 'm',
            inputs: { prompt: 'p', options: [], multi: 'yes' },
          },
        ],
      },
    ]);
    const error = await refusal({ sourceType: 'json', bytes: Buffer.from(JSON.stringify(wrong)) });
    expect((error.details as { path: string }[]).map((d) => d.path).sort()).toEqual([
      'steps[0].modules[0].inputs.multi',
      'steps[0].modules[0].inputs.options',
    ]);
  });

  it('refuses text that is not UTF-8', async () => {
    const error = await refusal({
      sourceType: 'zip',
      bytes: await zipFiles(new Map([['workflow.json', Buffer.from([0x7b, 0xff, 0xfe, 0x7d])]])),
    });
    expect(error.code).toBe('WORKFLOW_INVALID');
    expect(error.message).toMatch(/UTF-8/);
  });

  it('refuses numbers JSON.parse cannot keep finite, in a zip and as JSON', async () => {
    const workflow =
      '{"workflow_id":"w","initial_state":{"n":1e999},"steps":[{"step_id":"s","modules":[{"module_id":"user.confirm","name":"ok","inputs":{"message":"ok?"}}]}]}';
    for (const submission of [
      {
        sourceType: 'zip' as const,
        bytes: await zipFiles(new Map([['workflow.json', Buffer.from(workflow)]])),
      },
      { sourceType: 'json' as const, bytes: Buffer.from(workflow) },
    ]) {
      const error = await refusal(submission);
      expect(error.code).toBe('WORKFLOW_INVALID');
      expect(error.message).toMatch(/finite/);
    }
  });

  it('stops unpacking at the byte limit, whatever the headers claim', async () => {
    const error = await refusal({
      sourceType: 'zip',
      bytes: await zipFiles(new Map([['workflow.json', Buffer.alloc(6 * 1024 * 1024, 32)]]), {
        level: 9,
      }),
    });
    expect(error.code).toBe('PAYLOAD_TOO_LARGE');
  });
});
