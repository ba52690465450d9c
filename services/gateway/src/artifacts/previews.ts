import type { Request, Response } from 'express';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { mongo, type Connection } from 'mongoose';
import sharp from 'sharp';
import { StepwiseError, type ArtifactRecord } from '@stepwise/shared';
import { deleteFromBucket, openBucket, readBucketFile } from '@stepwise/shared/node';
import { etagMatches, streamTo } from './http-bytes.js';

/**
 * Image previews (media.md, "Seeing media"): a WebP of at most 512 px on the long side, made with
 * sharp from the original's GridFS stream the first time it is asked for, then kept in the
 * `previews` bucket under the original's sha256. Artifacts never change, so neither does a
 * preview: it is cached by the browser for a year, and the same bytes uploaded twice share one.
 */

export const PREVIEW_LONG_SIDE = 512;

/** What sharp (libvips, as shipped) reads. SVG is left out: it is a document, not a picture. */
const previewableTypes = new Set([
  'image/png',
  'image/jpeg',
  'image/webp',
  'image/gif',
  'image/avif',
  'image/tiff',
]);

export function hasPreview(contentType: string): boolean {
  return previewableTypes.has(contentType.toLowerCase());
}

/** The cache key: the original's bytes and the preview's recipe (a new recipe, a new name). */
const previewName = (sha256: string) => `${sha256}.${PREVIEW_LONG_SIDE}.webp`;

interface StoredPreview {
  fileId: string;
  length: number;
}

/** The oldest preview stored under `name` (two first requests at once may both have made one). */
async function findPreview(connection: Connection, name: string): Promise<StoredPreview | null> {
  const db = connection.db;
  if (!db) throw new Error('MongoDB connection is not open');
  const file = await db
    .collection<{ _id: mongo.ObjectId; length: number }>('previews.files')
    .findOne({ filename: name }, { sort: { _id: 1 }, projection: { length: 1 } });
  return file ? { fileId: file._id.toHexString(), length: file.length } : null;
}

function notPreviewable(artifact: ArtifactRecord, why: string): StepwiseError {
  return new StepwiseError(
    'NOT_FOUND',
    `artifact '${artifact.artifact_id}' has no preview: ${why}`,
  );
}

/**
 * Makes and stores the preview. The original streams in from GridFS and the WebP streams out to
 * it; sharp holds the decoded image (bounded by its pixel limit), never the file twice. A file
 * sharp cannot decode leaves nothing behind.
 */
async function makePreview(
  connection: Connection,
  artifact: ArtifactRecord,
  name: string,
): Promise<StoredPreview> {
  const upload = openBucket(connection, 'previews').openUploadStream(name, {
    metadata: { sha256: artifact.sha256, content_type: 'image/webp' },
  });
  const resize = sharp({ sequentialRead: true })
    // Upright as the camera meant it (EXIF orientation), then no larger than the long side.
    .rotate()
    .resize(PREVIEW_LONG_SIDE, PREVIEW_LONG_SIDE, { fit: 'inside', withoutEnlargement: true })
    .webp({ quality: 80 });
  try {
    await pipeline(
      Readable.from(readBucketFile(connection, 'artifacts', artifact.file_id)),
      resize,
      upload,
    );
  } catch (error) {
    await deleteFromBucket(connection, 'previews', upload.id.toHexString()).catch(() => undefined);
    // sharp's refusals (not an image, truncated, over its pixel limit) are the artifact's, not ours.
    if (error instanceof Error && !(error instanceof mongo.MongoError)) {
      throw notPreviewable(
        artifact,
        `its bytes could not be decoded as ${artifact.content_type} (${error.message})`,
      );
    }
    throw error;
  }
  const oldest = await findPreview(connection, name);
  if (oldest && oldest.fileId !== upload.id.toHexString()) {
    // Another request stored the same preview first: keep one.
    await deleteFromBucket(connection, 'previews', upload.id.toHexString());
    return oldest;
  }
  return { fileId: upload.id.toHexString(), length: upload.length };
}

/**
 * Answers an image artifact's preview: 304 when the client's ETag matches, else the WebP bytes
 * (made first if need be). Anything but a readable image is 404, with the reason.
 */
export async function sendPreview(
  connection: Connection,
  artifact: ArtifactRecord,
  req: Request,
  res: Response,
): Promise<200 | 304> {
  if (!hasPreview(artifact.content_type)) {
    throw notPreviewable(
      artifact,
      `it is ${artifact.content_type}, and previews are made of images (${[...previewableTypes].join(', ')})`,
    );
  }
  const name = previewName(artifact.sha256);
  const etag = `"${name}"`;
  if (etagMatches(req.get('if-none-match'), etag)) {
    res.setHeader('ETag', etag);
    res.setHeader('Cache-Control', 'private, max-age=31536000, immutable');
    res.status(304).end();
    return 304;
  }
  const preview =
    (await findPreview(connection, name)) ?? (await makePreview(connection, artifact, name));
  res.status(200);
  res.setHeader('ETag', etag);
  res.setHeader('Cache-Control', 'private, max-age=31536000, immutable');
  res.setHeader('Content-Type', 'image/webp');
  res.setHeader('Content-Length', String(preview.length));
  res.setHeader('X-Content-Type-Options', 'nosniff');
  await streamTo(readBucketFile(connection, 'previews', preview.fileId), res);
  return 200;
}
