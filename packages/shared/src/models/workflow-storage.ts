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
