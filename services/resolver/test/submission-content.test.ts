import { describe, expect, it } from 'vitest';
import { StepwiseError, createModuleCatalog } from '@stepwise/shared';
import { buildVersion, type Submission } from '../src/build-version.js';
import { zipFiles } from '../../../test/support/bundles.js';
import { zipWithRepeatedNames } from './support/repeated-entries.js';

/** Keys that cannot be stored, and zips whose entries share a path (issue 15). */

const limits = { maxEntries: 100, maxUncompressedBytes: 5 * 1024 * 1024, maxCompressionRatio: 100 };
const build = (submission: Submission) => buildVersion(submission, limits, createModuleCatalog());

async function refusal(submission: Submission): Promise<StepwiseError> {
  try {
    await build(submission);
  } catch (error) {
    if (error instanceof StepwiseError) return error;
    throw error;
  }
  throw new Error('expected a refusal');
}

const json = (text: string): Submission => ({ sourceType: 'json', bytes: Buffer.from(text) });
const zip = async (files: Record<string, string>): Promise<Submission> => ({
  sourceType: 'zip',
  bytes: await zipFiles(new Map(Object.entries(files))),
});

/** A workflow as JSON text, with `stateJson` (raw JSON text, so any key can be written). */
const workflowText = (stateJson: string, id = 'keys') =>
  `{"workflow_id": "${id}", "initial_state": ${stateJson}, "steps": [{"step_id": "s", "modules": ` +
  `[{"module_id": "user.confirm", "name": "c", "inputs": {"message": "ok?"}}]}]}`;

describe('keys that cannot be stored', () => {
  it.each([
    ['a NUL', '{"a\\u0000b": 1}', 'initial_state["a\\0b"]', 'NUL'],
    [
      '__proto__',
      '{"x": {"__proto__": {"polluted": true}}}',
      'initial_state.x.__proto__',
      'reserved',
    ],
    ['constructor', '{"constructor": 1}', 'initial_state.constructor', 'reserved'],
    ['prototype', '{"list": [{"prototype": 1}]}', 'initial_state.list[0].prototype', 'reserved'],
  ])(
    'a JSON submission with %s key → WORKFLOW_INVALID at its path',
    async (_, state, path, why) => {
      const error = await refusal(json(workflowText(state)));
      expect(error.code).toBe('WORKFLOW_INVALID');
      expect(error.details).toEqual([{ path, message: expect.stringContaining(why) as string }]);
    },
  );

  it('a zip: names the file and the key in it, at the place it lands in the workflow', async () => {
    const error = await refusal(
      await zip({
        'workflow.json': workflowText('{"ok": {"$ref": "state.json"}}'),
        'state.json': '{"inner": [{"bad\\u0000key": 1}]}',
      }),
    );
    expect(error.code).toBe('WORKFLOW_INVALID');
    expect(error.details).toEqual([
      {
        path: 'initial_state.ok.inner[0]["bad\\0key"]',
        message: `a key may not contain the NUL character (in 'state.json' at inner[0]["bad\\0key"])`,
      },
    ]);
  });

  it('a zip: a reserved key in the entry file itself', async () => {
    const error = await refusal(
      await zip({ 'workflow.json': workflowText('{"__proto__": {"admin": true}}') }),
    );
    expect(error.details).toEqual([
      {
        path: 'initial_state.__proto__',
        message: `'__proto__' is a reserved key (in 'workflow.json' at initial_state.__proto__)`,
      },
    ]);
  });

  it('a key inside a $ref object is refused, not taken for a reference field', async () => {
    const error = await refusal(
      await zip({
        'workflow.json': workflowText('{"s": {"$ref": "s.json", "constructor": 1}}'),
        's.json': '{}',
      }),
    );
    expect(error.details).toEqual([
      expect.objectContaining({ path: 'initial_state.s.constructor' }) as unknown,
    ]);
  });

  it('keeps $-prefixed and dotted keys exactly, in JSON and in zip submissions', async () => {
    const schema = {
      $schema: 'https://json-schema.org/draft/2020-12/schema',
      $defs: { 'item.v1': { type: 'object', properties: { 'a.b': { type: 'string' } } } },
      type: 'object',
    };
    const state = { $x: 1, 'dotted.key': { '$nested.too': [{ '.': '' }] } };
    const document = {
      workflow_id: 'dollars',
      initial_state: state,
      steps: [
        {
          step_id: 's',
          modules: [
            { module_id: 'api.llm', name: 'm', inputs: { model: 'x', json_schema: schema } },
          ],
        },
      ],
    };
    const fromJson = await build(json(JSON.stringify(document)));
    expect(fromJson.workflow.initial_state).toEqual(state);
    expect(fromJson.workflow.steps[0]?.modules[0]?.inputs['json_schema']).toEqual(schema);
    const fromZip = await build(
      await zip({
        'workflow.json': JSON.stringify({
          ...document,
          steps: [{ ...document.steps[0], modules: [{ $ref: 'module.json' }] }],
        }),
        'module.json': JSON.stringify(document.steps[0]?.modules[0]),
      }),
    );
    expect(fromZip.workflow).toEqual(fromJson.workflow);
  });
});

describe('zip entries that share a path', () => {
  const valid = workflowText('{}');

  it('two entries named workflow.json → INVALID_ZIP naming the entry', async () => {
    const error = await refusal({
      sourceType: 'zip',
      bytes: await zipWithRepeatedNames([
        ['workflow.json', valid],
        ['workflow.json', workflowText('{}', 'other')],
      ]),
    });
    expect(error.code).toBe('INVALID_ZIP');
    expect(error.message).toContain("'workflow.json'");
    expect(error.details).toEqual([
      { path: 'workflow.json', message: 'more than one entry has this path' },
    ]);
  });

  it('paths that are the same once normalized (./a.json, a//b.json) count as one', async () => {
    const error = await refusal({
      sourceType: 'zip',
      bytes: await zipWithRepeatedNames([
        ['workflow.json', valid],
        ['./workflow.json', valid],
        ['steps/a.json', '{}'],
        ['steps//a.json', '{}'],
      ]),
    });
    expect(error.code).toBe('INVALID_ZIP');
    expect((error.details as { path: string }[]).map((d) => d.path)).toEqual([
      'steps/a.json',
      'workflow.json',
    ]);
  });

  it('a later entry cannot hide an unsafe earlier one of the same path', async () => {
    const error = await refusal({
      sourceType: 'zip',
      bytes: await zipWithRepeatedNames([
        ['x/../workflow.json', workflowText('{}', 'hidden')],
        ['workflow.json', valid],
      ]),
    });
    expect(error.code).toBe('INVALID_ZIP');
  });

  it('repeated folder and junk entries carry nothing and are let through', async () => {
    const built = await build({
      sourceType: 'zip',
      bytes: await zipWithRepeatedNames([
        ['steps/', ''],
        ['steps/', ''],
        ['.DS_Store', 'a'],
        ['.DS_Store', 'b'],
        ['workflow.json', valid],
      ]),
    });
    expect(built.workflow.workflow_id).toBe('keys');
  });
});
