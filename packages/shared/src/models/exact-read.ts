import type { Document, Filter } from 'mongodb';
import type { Connection } from 'mongoose';

/**
 * One document by an exact key (a unique index's fields, shard key included), read as a single
 * `find` command answered in one batch. The same command goes on the wire as the driver's
 * `findOne`, which also opens a cursor for it (set-up, bookkeeping, close) behind mongoose's
 * collection wrapper: on the most frequent read of all, `GET /v1/runs/{id}`, that machinery cost
 * the gateway more CPU than the command itself (docs/performance.md, "Gateway reads").
 */
export async function readOneExact<T>(
  model: { db: Connection; collection: { collectionName: string } },
  filter: Filter<Document>,
  projection: Readonly<Record<string, 0 | 1>>,
): Promise<T | null> {
  const db = model.db.db;
  if (!db) throw new Error('the MongoDB connection is not open');
  const reply = await db.command({
    find: model.collection.collectionName,
    filter,
    projection,
    limit: 1,
    singleBatch: true,
  });
  const batch = (reply as { cursor?: { firstBatch?: unknown[] } }).cursor?.firstBatch;
  return (batch?.[0] as T | undefined) ?? null;
}
