import { createHash } from 'node:crypto';
import type { Connection } from 'mongoose';
import { openBucket, type GridFsBucketName } from './index.js';
import { deleteFromBucket } from './workflow-storage.js';

/**
 * Files that arrive as a stream (a person's upload, an outside job's result) go into GridFS as
 * they come: never whole in memory, hashed on the way, cut off at a limit, and gone without a trace
 * when refused. Callers read the first bytes first (`readHead`) to tell the file's type from them
 * before a byte is stored.
 */

/** The next chunk of a body, or null at its end. */
export type ChunkReader = () => Promise<Buffer | null>;

export interface FileHead {
  chunks: Buffer[];
  size: number;
  /** The body ended within the head. */
  ended: boolean;
}

/** Reads until `wanted` bytes are in hand (or the body ends); past `limit`, `tooLarge()` is thrown. */
export async function readHead(
  read: ChunkReader,
  wanted: number,
  limit: number,
  tooLarge: () => Error,
): Promise<FileHead> {
  const chunks: Buffer[] = [];
  let size = 0;
  while (size < wanted) {
    const chunk = await read();
    if (chunk === null) return { chunks, size, ended: true };
    chunks.push(chunk);
    size += chunk.length;
    if (size > limit) throw tooLarge();
  }
  return { chunks, size, ended: false };
}

export interface StreamedFile {
  fileId: string;
  size: number;
  sha256: string;
}

/**
 * Writes the head, then the rest of the body, into a GridFS file, one chunk at a time, each
 * awaited until GridFS has it (memory stays at a chunk or two, and a refusal leaves no insert in
 * flight to outlive the cleanup). Past `limit` or on any error, what was written is deleted and
 * the error thrown.
 */
export async function streamIntoBucket(options: {
  connection: Connection;
  bucket: GridFsBucketName;
  name: string;
  metadata: Record<string, unknown>;
  head: FileHead;
  read: ChunkReader;
  limit: number;
  tooLarge: () => Error;
}): Promise<StreamedFile> {
  const { connection, bucket, head, read, limit, tooLarge } = options;
  const upload = openBucket(connection, bucket).openUploadStream(options.name, {
    metadata: options.metadata,
  });
  const fileId = upload.id.toHexString();
  const hash = createHash('sha256');
  let size = 0;
  const write = async (chunk: Buffer) => {
    size += chunk.length;
    if (size > limit) throw tooLarge();
    hash.update(chunk);
    await new Promise<void>((resolve, reject) =>
      upload.write(chunk, (error) => (error ? reject(error) : resolve())),
    );
  };
  try {
    for (const chunk of head.chunks) await write(chunk);
    for (let chunk = head.ended ? null : await read(); chunk !== null; chunk = await read())
      await write(chunk);
    await new Promise<void>((resolve, reject) =>
      upload.end((error?: Error | null) => (error ? reject(error) : resolve())),
    );
    return { fileId, size, sha256: hash.digest('hex') };
  } catch (error) {
    // Nothing of a refused file stays: the chunks written so far (abort), and a files document
    // if the refusal came after it was written.
    await upload.abort().catch(() => undefined);
    await deleteFromBucket(connection, bucket, fileId).catch(() => undefined);
    throw error;
  }
}
