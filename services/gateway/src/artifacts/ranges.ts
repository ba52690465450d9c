import { mongo, type Connection } from 'mongoose';
import type { GridFsBucketName } from '@stepwise/shared/node';

/**
 * HTTP range requests (RFC 9110, section 14) over GridFS files, so that browsers can seek in audio
 * and video (media.md, "Seeing media"). One range is served as 206; several are answered with the
 * whole representation (200), which the RFC allows and which spares us multipart/byteranges.
 */

export type RangeRequest =
  | { kind: 'whole' }
  /** `start` and `end` inclusive, both within the bytes. */
  | { kind: 'partial'; start: number; end: number }
  | { kind: 'unsatisfiable' };

const WHOLE: RangeRequest = { kind: 'whole' };
/** `first-last`, `first-` or `-suffix` (positions are decimal digits). */
const rangeSpec = /^(\d*)\s*-\s*(\d*)$/;

/**
 * What a `Range` header asks of `size` bytes. A header we do not understand (another unit, bad
 * syntax, a last position before the first) is ignored, as the RFC says a server may; so are
 * several ranges. A single range starting at or past the end (or a zero-length suffix) cannot be
 * satisfied: 416.
 */
export function parseRange(header: string | undefined, size: number): RangeRequest {
  if (header === undefined) return WHOLE;
  const match = /^\s*bytes\s*=\s*(.*)$/i.exec(header);
  if (!match) return WHOLE;
  const specs = (match[1] ?? '')
    .split(',')
    .map((spec) => spec.trim())
    .filter((spec) => spec !== '');
  if (specs.length !== 1) return WHOLE;
  const positions = rangeSpec.exec(specs[0] ?? '');
  if (!positions) return WHOLE;
  const first = positions[1] ?? '';
  const last = positions[2] ?? '';
  if (first === '') {
    // A suffix: the last `last` bytes.
    if (last === '') return WHOLE;
    const length = Number(last);
    if (length === 0) return { kind: 'unsatisfiable' };
    if (size === 0) return WHOLE;
    return { kind: 'partial', start: Math.max(0, size - length), end: size - 1 };
  }
  const start = Number(first);
  const end = last === '' ? Number.POSITIVE_INFINITY : Number(last);
  if (end < start) return WHOLE;
  if (start >= size) return { kind: 'unsatisfiable' };
  return { kind: 'partial', start, end: Math.min(end, size - 1) };
}

/**
 * Whether `If-Range` lets the `Range` apply: absent, or naming the current strong ETag. A date
 * never matches (the routes send no Last-Modified), nor does a weak tag: the whole bytes then.
 */
export function ifRangeAllows(header: string | undefined, etag: string): boolean {
  return header === undefined || header.trim() === etag;
}

/**
 * The bytes `start`..`end` (inclusive) of a GridFS file, chunk by chunk, reading only the chunks
 * that hold them, a few at a time (as `readBucketFile` does for whole files).
 */
export async function* readBucketRange(
  connection: Connection,
  bucketName: GridFsBucketName,
  fileId: string,
  start: number,
  end: number,
  chunksPerBatch = 4,
): AsyncGenerator<Buffer> {
  const db = connection.db;
  if (!db) throw new Error('MongoDB connection is not open');
  const id = new mongo.ObjectId(fileId);
  const file = await db
    .collection<{ chunkSize: number }>(`${bucketName}.files`)
    .findOne({ _id: id }, { projection: { chunkSize: 1 } });
  if (!file) throw new Error(`GridFS file ${fileId} is missing`);
  const chunkSize = file.chunkSize;
  const firstChunk = Math.floor(start / chunkSize);
  const lastChunk = Math.floor(end / chunkSize);
  const cursor = db
    .collection<{ n: number; data: mongo.Binary }>(`${bucketName}.chunks`)
    .find(
      { files_id: id, n: { $gte: firstChunk, $lte: lastChunk } },
      { batchSize: chunksPerBatch, projection: { n: 1, data: 1 } },
    )
    .sort({ n: 1 });
  try {
    let expected = firstChunk;
    for await (const chunk of cursor) {
      if (chunk.n !== expected)
        throw new Error(`GridFS file ${fileId} is missing chunk ${expected}`);
      const offset = chunk.n * chunkSize;
      const bytes = Buffer.from(chunk.data.buffer);
      const from = Math.max(0, start - offset);
      const to = Math.min(bytes.length, end - offset + 1);
      expected++;
      yield bytes.subarray(from, to);
    }
    if (expected !== lastChunk + 1)
      throw new Error(`GridFS file ${fileId} is missing chunk ${expected}`);
  } finally {
    await cursor.close();
  }
}
