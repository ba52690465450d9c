import { mongo, type Connection } from 'mongoose';
import type { WorkflowVersionRecord } from '../records.js';
import { openBucket, type GridFsBucketName } from './index.js';

export async function uploadToBucket(
  connection: Connection,
  bucketName: GridFsBucketName,
  filename: string,
  bytes: Uint8Array,
  metadata: Record<string, unknown>,
): Promise<string> {
  const upload = openBucket(connection, bucketName).openUploadStream(filename, { metadata });
  await new Promise<void>((resolve, reject) => {
    upload.once('finish', () => resolve());
    upload.once('error', reject);
    upload.end(bytes);
  });
  return upload.id.toHexString();
}

export async function downloadFromBucket(
  connection: Connection,
  bucketName: GridFsBucketName,
  fileId: string,
): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of openBucket(connection, bucketName).openDownloadStream(
    new mongo.ObjectId(fileId),
  )) {
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** Deletes a GridFS file; a file that is already gone is not an error (deletes are retried). */
export async function deleteFromBucket(
  connection: Connection,
  bucketName: GridFsBucketName,
  fileId: string,
): Promise<void> {
  try {
    await openBucket(connection, bucketName).delete(new mongo.ObjectId(fileId));
  } catch (error) {
    if (error instanceof mongo.MongoRuntimeError && /not found/i.test(error.message)) return;
    if ((error as { code?: unknown }).code === 'ENOENT') return;
    throw error;
  }
}

/** A version's resolved workflow, whether it sits inline or in GridFS. */
export async function readResolvedWorkflow(
  connection: Connection,
  version: Pick<WorkflowVersionRecord, 'resolved_workflow' | 'resolved_workflow_ref'>,
): Promise<Record<string, unknown>> {
  if (version.resolved_workflow) return version.resolved_workflow;
  if (!version.resolved_workflow_ref)
    throw new Error('version has neither an inline nor a stored workflow');
  const bytes = await downloadFromBucket(
    connection,
    'resolved_workflows',
    version.resolved_workflow_ref,
  );
  return JSON.parse(bytes.toString('utf8')) as Record<string, unknown>;
}

/**
 * A GridFS file's bytes, chunk by chunk, fetching a few chunks at a time. The driver's own
 * download stream asks for 101 chunks (~25 MB) in its first batch; this keeps a download's memory
 * to `chunksPerBatch` chunks whatever the file's size, and a reader that stops pulling stops it.
 */
export async function* readBucketFile(
  connection: Connection,
  bucketName: GridFsBucketName,
  fileId: string,
  chunksPerBatch = 4,
): AsyncGenerator<Buffer> {
  const db = connection.db;
  if (!db) throw new Error('MongoDB connection is not open');
  const cursor = db
    .collection<{ n: number; data: mongo.Binary }>(`${bucketName}.chunks`)
    .find(
      { files_id: new mongo.ObjectId(fileId) },
      { batchSize: chunksPerBatch, projection: { n: 1, data: 1 } },
    )
    .sort({ n: 1 });
  try {
    let expected = 0;
    for await (const chunk of cursor) {
      if (chunk.n !== expected)
        throw new Error(`GridFS file ${fileId} is missing chunk ${expected}`);
      expected++;
      yield Buffer.from(chunk.data.buffer);
    }
  } finally {
    await cursor.close();
  }
}
