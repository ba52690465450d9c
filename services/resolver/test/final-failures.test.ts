import { pino } from 'pino';
import { z } from 'zod';
import { describe, expect, it } from 'vitest';
import { mongo } from 'mongoose';
import {
  StepwiseError,
  UnavailableError,
  createModuleCatalog,
  newId,
  type ModuleCatalog,
  type ResolveJob,
} from '@stepwise/shared';
import {
  readResolvedWorkflow,
  sha256Hex,
  uploadToBucket,
  type JobContext,
} from '@stepwise/shared/node';
import { createResolveHandler, finalError } from '../src/resolve-submission.js';
import { useTestDatabases } from '../../../test/support/databases.js';

/**
 * Which failures end a resolve job at once (a result, never a throw the queue would retry), and
 * that what a workflow may hold is stored and read back exactly (issue 15).
 */

const db = await useTestDatabases('resolve_final_failures');
const limits = {
  maxEntries: 100,
  maxUncompressedBytes: 10 * 1024 * 1024,
  maxCompressionRatio: 100,
};
const handlerWith = (catalog: ModuleCatalog = createModuleCatalog(), inlineLimitBytes = 1 << 20) =>
  createResolveHandler({ mongo: db.mongo, models: db.models, catalog, inlineLimitBytes, limits });
const context: JobContext = {
  jobId: 'j',
  attemptsMade: 0,
  isFinalAttempt: false,
  logger: pino({ level: 'silent' }),
  reportProgress: async () => {},
};
const userId = newId('user');

async function stageJson(text: string): Promise<ResolveJob> {
  const bytes = Buffer.from(text);
  const fileId = await uploadToBucket(db.mongo, 'submissions', 'submission', bytes, {
    user_id: userId,
  });
  return {
    user_id: userId,
    submission_file_id: fileId,
    source_type: 'json',
    raw_sha256: sha256Hex(bytes),
    size: bytes.length,
    correlation_id: newId('correlation'),
  };
}

const workflowText = (
  stateJson: string,
  moduleJson = '{"module_id": "user.confirm", "name": "c", "inputs": {"message": "ok?"}}',
) =>
  `{"workflow_id": "final", "initial_state": ${stateJson}, "steps": [{"step_id": "s", "modules": [${moduleJson}]}]}`;

/** What a finished job left of its submission: its bytes, and templates or versions. */
async function leftBehind(job: ResolveJob) {
  return {
    bytes: await db.mongo.db
      ?.collection('submissions.files')
      .countDocuments({ _id: new mongo.ObjectId(job.submission_file_id) }),
    templates: await db.models.templates.countDocuments({ workflow_template_name: 'final' }),
    versions: await db.models.versions.countDocuments({ source_file_id: job.submission_file_id }),
  };
}

describe('the resolve job ends at once', () => {
  it('with WORKFLOW_INVALID for a key MongoDB cannot store (it threw before, and was retried)', async () => {
    const job = await stageJson(workflowText('{"a\\u0000b": 1}'));
    const result = await handlerWith()(job, context);
    expect(result).toEqual({
      ok: false,
      error: {
        code: 'WORKFLOW_INVALID',
        message: 'initial_state["a\\0b"]: a key may not contain the NUL character',
        details: [
          { path: 'initial_state["a\\0b"]', message: 'a key may not contain the NUL character' },
        ],
      },
    });
    // Nothing stored, and the submission's bytes deleted.
    expect(await leftBehind(job)).toEqual({ bytes: 0, templates: 0, versions: 0 });
  });

  it('with INTERNAL when processing the content throws unexpectedly: no retry can mend it', async () => {
    const throwing = createModuleCatalog({
      'test.throws': {
        interactive: false,
        effects: 'none',
        summary: 'a declaration whose validation throws',
        inputs: z.strictObject({
          value: z.unknown().superRefine(() => {
            throw new TypeError('validator bug');
          }),
        }),
      },
    });
    const job = await stageJson(
      workflowText('{}', '{"module_id": "test.throws", "name": "t", "inputs": {"value": 1}}'),
    );
    const result = await handlerWith(throwing)(job, context);
    expect(result).toEqual({
      ok: false,
      error: { code: 'INTERNAL', message: 'the workflow could not be processed' },
    });
    expect(await leftBehind(job)).toEqual({ bytes: 0, templates: 0, versions: 0 });
  });
});

describe('finalError', () => {
  it('ends on the caller’s errors and on encoding errors; retries what a store may mend', () => {
    expect(finalError(new StepwiseError('PAYLOAD_TOO_LARGE', 'big'))?.code).toBe(
      'PAYLOAD_TOO_LARGE',
    );
    // As it comes back from a queue: a plain object, no class.
    expect(finalError({ name: 'StepwiseError', code: 'INVALID_ZIP', message: 'x' })?.code).toBe(
      'INVALID_ZIP',
    );
    let encoding: unknown;
    try {
      mongo.BSON.serialize({ 'a\u0000b': 1 });
    } catch (error) {
      encoding = error;
    }
    expect(finalError(encoding)?.code).toBe('INTERNAL');
    expect(finalError(new UnavailableError('mongo down'))).toBeNull();
    expect(finalError(new mongo.MongoNetworkError('reset'))).toBeNull();
    expect(finalError(new Error('anything else'))).toBeNull();
  });
});

describe('keys a workflow may hold', () => {
  const state = {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    $defs: { 'item.v1': { properties: { 'a.b': { type: 'string' } } } },
    'dotted.key': 1,
    $: { '.': [] },
  };

  it.each([
    ['inline', 1 << 20],
    ['in GridFS', 16],
  ])('$-prefixed and dotted keys are stored %s and read back exactly', async (_, limit) => {
    const job = await stageJson(
      workflowText(JSON.stringify(state)).replace('"final"', `"f${limit}"`),
    );
    const result = await handlerWith(createModuleCatalog(), limit)(job, context);
    if (!result.ok) throw new Error(JSON.stringify(result.error));
    const version = await db.models.versions
      .findOne({ workflow_version_id: result.version.workflow_version_id })
      .lean();
    if (!version) throw new Error('version not stored');
    expect(version.resolved_workflow_ref === null).toBe(limit > 16);
    const stored = await readResolvedWorkflow(db.mongo, version);
    expect(stored['initial_state']).toEqual(state);
  });
});
