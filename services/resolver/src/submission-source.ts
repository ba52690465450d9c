import type { ResolveJob } from '@stepwise/shared';
import { openBucket, sha256Hex } from '@stepwise/shared/node';
import { mongo, type Connection } from 'mongoose';

/**
 * The upload's bytes when the job carries them (small uploads), checked against the sha256 the
 * gateway took of what it received; null when they are in the GridFS file the job names.
 */
export function inlineBytesOf(job: ResolveJob): Buffer | null {
  if (job.inline_bytes === undefined) return null;
  const bytes = Buffer.from(job.inline_bytes, 'base64');
  if (sha256Hex(bytes) !== job.raw_sha256)
    throw new Error('the inline bytes of the job do not match its raw_sha256');
  return bytes;
}

/** The job's payload without its bytes: what a later attempt reads once GridFS holds them. */
export function withoutInlineBytes(job: ResolveJob): ResolveJob {
  const { inline_bytes: _dropped, ...rest } = job;
  return rest;
}

async function upload(
  bucket: mongo.GridFSBucket,
  id: mongo.ObjectId,
  job: ResolveJob,
  bytes: Buffer,
) {
  const stream = bucket.openUploadStreamWithId(id, `submission.${job.source_type}`, {
    metadata: { user_id: job.user_id, source_type: job.source_type, raw_sha256: job.raw_sha256 },
  });
  await new Promise<void>((resolve, reject) => {
    stream.once('finish', () => resolve());
    stream.once('error', reject);
    stream.end(bytes);
  });
}

/**
 * Writes the audit copy of an inline submission that created a version, under the id its version
 * names (`source_file_id`). `again` is a later delivery of a job whose version exists already: an
 * earlier attempt may have written the file, or only part of it before it died, so a complete file
 * is kept and anything else is replaced.
 */
export async function keepSubmissionBytes(
  connection: Connection,
  job: ResolveJob,
  bytes: Buffer,
  again: boolean,
): Promise<void> {
  const bucket = openBucket(connection, 'submissions');
  const id = new mongo.ObjectId(job.submission_file_id);
  if (again) {
    const [existing] = await bucket.find({ _id: id }).limit(1).toArray();
    if (existing?.length === bytes.length) return;
    await bucket.delete(id).catch((error: unknown) => {
      if (!(error instanceof mongo.MongoRuntimeError && /not found/i.test(error.message)))
        throw error;
    });
  }
  await upload(bucket, id, job, bytes);
}
