import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { createModuleCatalog, newId, type ResolveJob } from '@stepwise/shared';
import {
  connectMongo,
  createModels,
  deleteFromBucket,
  downloadFromBucket,
  sha256Hex,
  uploadToBucket,
  type JobContext,
} from '@stepwise/shared/node';
import { createResolveHandler } from '../src/resolve-submission.js';
import { exampleBundle } from '../../../test/support/bundles.js';
import { useTestDatabases } from '../../../test/support/databases.js';

const db = await useTestDatabases('resolve_submission');
const limits = {
  maxEntries: 100,
  maxUncompressedBytes: 10 * 1024 * 1024,
  maxCompressionRatio: 100,
};
const handler = createResolveHandler({
  mongo: db.mongo,
  models: db.models,
  catalog: createModuleCatalog(),
  inlineLimitBytes: 1024 * 1024,
  limits,
});
const context = (isFinalAttempt = false): JobContext => ({
  jobId: 'j',
  attemptsMade: 0,
  isFinalAttempt,
  logger: pino({ level: 'silent' }),
  reportProgress: async () => {},
});
const userId = newId('user');

async function stageSubmission(
  bytes: Buffer,
  sourceType: 'zip' | 'json' = 'zip',
): Promise<ResolveJob> {
  const fileId = await uploadToBucket(db.mongo, 'submissions', 'submission', bytes, {
    user_id: userId,
  });
  return {
    user_id: userId,
    submission_file_id: fileId,
    source_type: sourceType,
    raw_sha256: sha256Hex(bytes),
    size: bytes.length,
    correlation_id: newId('correlation'),
  };
}

const submissionFiles = (fileId: string) =>
  db.mongo.db
    ?.collection('submissions.files')
    .countDocuments({ _id: new db.mongo.base.mongo.ObjectId(fileId) });

describe('the resolve job', () => {
  it('delivered twice, stores one version and reports it created both times', async () => {
    const job = await stageSubmission(await exampleBundle());
    const first = await handler(job, context());
    const second = await handler(job, context());
    expect(first).toMatchObject({ ok: true, version: { created: true } });
    expect(second).toEqual(first);
    expect(
      await db.models.versions.countDocuments({
        content_hash: first.ok ? first.version.content_hash : '',
      }),
    ).toBe(1);
    expect(await submissionFiles(job.submission_file_id)).toBe(1);
  });

  it('finds the existing version for the same content and deletes the duplicate bytes', async () => {
    const job = await stageSubmission(await exampleBundle({ reverse: true }));
    const result = await handler(job, context());
    expect(result).toMatchObject({ ok: true, version: { created: false } });
    expect(await submissionFiles(job.submission_file_id)).toBe(0);
  });

  it('completes a refused submission with its error and deletes its bytes', async () => {
    const job = await stageSubmission(Buffer.from('{"workflow_id": 1}'), 'json');
    const result = await handler(job, context());
    expect(result).toMatchObject({ ok: false, error: { code: 'WORKFLOW_INVALID' } });
    expect(await submissionFiles(job.submission_file_id)).toBe(0);
  });

  it('throws on a database failure so the queue retries, and cleans up on the last attempt', async () => {
    const lost = await connectMongo(db.mongoUrl);
    await lost.close();
    const failing = createResolveHandler({
      mongo: db.mongo,
      models: createModels(lost),
      catalog: createModuleCatalog(),
      inlineLimitBytes: 1024 * 1024,
      limits,
    });
    const job = await stageSubmission(
      Buffer.from(
        JSON.stringify({
          workflow_id: 'x',
          steps: [
            {
              step_id: 's',
              modules: [{ module_id: 'user.confirm', name: 'c', inputs: { message: 'ok?' } }],
            },
          ],
        }),
      ),
      'json',
    );
    await expect(failing(job, context(false))).rejects.toThrow();
    expect(await submissionFiles(job.submission_file_id)).toBe(1);
    await expect(failing(job, context(true))).rejects.toThrow();
    expect(await submissionFiles(job.submission_file_id)).toBe(0);
  });
});

/** A job carrying its bytes, as the gateway makes it for an upload of at most 256 KiB. */
function inlineJob(bytes: Buffer): ResolveJob {
  return {
    user_id: userId,
    submission_file_id: new db.mongo.base.mongo.ObjectId().toHexString(),
    inline_bytes: bytes.toString('base64'),
    source_type: 'zip',
    raw_sha256: sha256Hex(bytes),
    size: bytes.length,
    correlation_id: newId('correlation'),
  };
}

/** A context whose `replacePayload` records what the job was left holding. */
function recordingContext() {
  const replaced: unknown[] = [];
  const recording: JobContext = {
    ...context(),
    replacePayload: async (payload) => {
      replaced.push(payload);
    },
  };
  return { context: recording, replaced };
}

async function storedSubmission(fileId: string): Promise<Buffer | null> {
  return (await submissionFiles(fileId))
    ? downloadFromBucket(db.mongo, 'submissions', fileId)
    : null;
}

describe('a resolve job carrying its bytes', () => {
  it('creates the version, keeps the bytes in GridFS under the job’s file id, and drops them from the job', async () => {
    const bytes = await exampleBundle({ extra: { 'inline-1.txt': 'a' } });
    const job = inlineJob(bytes);
    const { context: ctx, replaced } = recordingContext();
    const result = await handler(job, ctx);
    expect(result).toMatchObject({ ok: true, version: { created: true } });
    const version = await db.models.versions
      .findOne({ workflow_version_id: result.ok ? result.version.workflow_version_id : '' })
      .lean();
    expect(version?.source_file_id).toBe(job.submission_file_id);
    expect(await storedSubmission(job.submission_file_id)).toEqual(bytes);
    const { inline_bytes: _bytes, ...withoutBytes } = job;
    expect(replaced).toEqual([withoutBytes]);
  });

  it('gives the existing version for the same content, writing nothing to GridFS', async () => {
    const bytes = await exampleBundle({ extra: { 'inline-2.txt': 'b' } });
    const first = await handler(inlineJob(bytes), context());
    const again = inlineJob(await exampleBundle({ extra: { 'inline-2.txt': 'b' }, reverse: true }));
    const { context: ctx, replaced } = recordingContext();
    const second = await handler(again, ctx);
    expect(first.ok && second.ok).toBe(true);
    if (!first.ok || !second.ok) return;
    expect(second.version).toEqual({ ...first.version, created: false });
    expect(await submissionFiles(again.submission_file_id)).toBe(0);
    expect(replaced).toHaveLength(1);
  });

  it('delivered again after its audit copy was lost, rewrites it and reports the version created', async () => {
    const bytes = await exampleBundle({ extra: { 'inline-3.txt': 'c' } });
    const job = inlineJob(bytes);
    const first = await handler(job, context());
    // As if the first delivery died between inserting the version and writing the file.
    await deleteFromBucket(db.mongo, 'submissions', job.submission_file_id);
    const second = await handler(job, context());
    expect(second).toEqual(first);
    expect(await storedSubmission(job.submission_file_id)).toEqual(bytes);
  });

  it('delivered again without its bytes (dropped by the first delivery), resolves from GridFS', async () => {
    const bytes = await exampleBundle({ extra: { 'inline-4.txt': 'd' } });
    const job = inlineJob(bytes);
    const { context: ctx, replaced } = recordingContext();
    const first = await handler(job, ctx);
    const second = await handler(replaced[0] as ResolveJob, context());
    expect(second).toEqual(first);
    expect(await storedSubmission(job.submission_file_id)).toEqual(bytes);
  });
});
