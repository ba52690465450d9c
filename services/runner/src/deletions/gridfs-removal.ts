import { mongo, type Connection } from 'mongoose';
import type { GridFsBucketName } from '@stepwise/shared/node';
import type { DeletionTally } from './deletion-tally.js';

/**
 * Removes GridFS files in bulk: their chunks first, then their file documents. A crash between the
 * two leaves file documents that the next attempt finds again (by id or metadata) and removes; a
 * file already gone is nothing to do.
 */
export async function removeBucketFiles(
  connection: Connection,
  bucket: GridFsBucketName,
  fileIds: readonly (string | mongo.ObjectId)[],
  tally: DeletionTally,
): Promise<void> {
  const ids = objectIdsOf(fileIds);
  if (ids.length === 0) return;
  const db = databaseOf(connection);
  // Chunks are sharded by files_id (shard-keys.ts): the `$in` routes the delete.
  await db.collection(`${bucket}.chunks`).deleteMany({ files_id: { $in: ids } });
  const removed = await db.collection(`${bucket}.files`).deleteMany({ _id: { $in: ids } });
  tally.add(`files:${bucket}`, removed.deletedCount);
}

/** The ids of a bucket's files whose metadata matches (`.files` is unsharded: any filter routes). */
export async function findBucketFiles(
  connection: Connection,
  bucket: GridFsBucketName,
  metadataFilter: Record<string, unknown>,
): Promise<mongo.ObjectId[]> {
  const filter = Object.fromEntries(
    Object.entries(metadataFilter).map(([field, value]) => [`metadata.${field}`, value]),
  );
  const files = await databaseOf(connection)
    .collection<{ _id: mongo.ObjectId }>(`${bucket}.files`)
    .find(filter, { projection: { _id: 1 } })
    .toArray();
  return files.map((file) => file._id);
}

function objectIdsOf(fileIds: readonly (string | mongo.ObjectId)[]): mongo.ObjectId[] {
  const unique = new Map<string, mongo.ObjectId>();
  for (const id of fileIds) {
    if (typeof id !== 'string') unique.set(id.toHexString(), id);
    // Only ObjectIds name GridFS files; anything else names nothing that could be removed.
    else if (mongo.ObjectId.isValid(id) && id.length === 24) unique.set(id, new mongo.ObjectId(id));
  }
  return [...unique.values()];
}

function databaseOf(connection: Connection) {
  const db = connection.db;
  if (!db) throw new Error('MongoDB connection is not open');
  return db;
}
