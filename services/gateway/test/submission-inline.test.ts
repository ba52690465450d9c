import { randomBytes } from 'node:crypto';
import { Job } from 'bullmq';
import { afterAll, describe, expect, it } from 'vitest';
import { INLINE_SUBMISSION_MAX_BYTES, resolveJobSchema } from '@stepwise/shared';
import { JobQueue, downloadFromBucket } from '@stepwise/shared/node';
import { exampleBundle } from '../../../test/support/bundles.js';
import { useTestDatabases } from '../../../test/support/databases.js';
import {
  createTestUser,
  startTestGateway,
  startTestResolver,
} from '../../../test/support/gateway.js';

/**
 * Where a submission's bytes wait for the resolver (docs/workflows.md, "The path of a
 * submission"): up to 256 KiB inside the job, durable with the queue; above that in GridFS.
 */

const db = await useTestDatabases('submission_inline');
const gateway = await startTestGateway(db);
const alice = await createTestUser(gateway, 'alice');
const resolveQueue = new JobQueue('resolve', db.redis, db.queuePrefix);
afterAll(() => resolveQueue.close());

/** Submits without waiting: no resolver runs yet, so the job stays as the gateway left it. */
async function submitLater(bytes: Buffer) {
  const response = await gateway.request('/v1/workflows?wait=false', {
    method: 'POST',
    token: alice.api_key,
    headers: { 'content-type': 'application/zip' },
    body: bytes,
  });
  expect(response.status).toBe(202);
  const { job_id } = (await response.json()) as { job_id: string };
  const job = await Job.fromId(resolveQueue.queue, job_id);
  if (!job) throw new Error(`job ${job_id} is not in the queue`);
  return { jobId: job_id, payload: resolveJobSchema.parse(job.data) };
}

const submissionFileCount = () =>
  db.mongo.db?.collection('submissions.files').countDocuments({}) ?? Promise.resolve(-1);

describe('where a submission waits for the resolver', () => {
  it('a bundle over the inline limit is stored in GridFS and the job names the file', async () => {
    const large = await exampleBundle({
      extra: { 'noise.bin': randomBytes(INLINE_SUBMISSION_MAX_BYTES + 1024) },
    });
    const { payload } = await submitLater(large);
    expect(payload.inline_bytes).toBeUndefined();
    expect(await downloadFromBucket(db.mongo, 'submissions', payload.submission_file_id)).toEqual(
      large,
    );
  });

  it('a small bundle travels in the job: nothing in GridFS until it makes a version, and it resolves after the gateway is gone', async () => {
    const before = await submissionFileCount();
    const small = await exampleBundle();
    const { jobId, payload } = await submitLater(small);
    expect(Buffer.from(payload.inline_bytes ?? '', 'base64')).toEqual(small);
    expect(await submissionFileCount()).toBe(before);

    // The gateway that accepted it goes away before any resolver has seen the job.
    await gateway.close();
    await startTestResolver(db);
    let job = await Job.fromId(resolveQueue.queue, jobId);
    for (let i = 0; i < 200 && !(await job?.isCompleted()); i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      job = await Job.fromId(resolveQueue.queue, jobId);
    }
    expect(job?.returnvalue).toMatchObject({ ok: true, version: { created: true } });
    const version = await db.models.versions
      .findOne({ user_id: alice.user.user_id, source_file_id: payload.submission_file_id })
      .lean();
    expect(version).not.toBeNull();
    // The audit copy is in GridFS now, and the completed job no longer holds the bytes in Redis.
    expect(await downloadFromBucket(db.mongo, 'submissions', payload.submission_file_id)).toEqual(
      small,
    );
    expect(resolveJobSchema.parse(job?.data).inline_bytes).toBeUndefined();
  });
});
