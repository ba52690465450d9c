import { mongo, type Connection } from 'mongoose';
import { createAccountModels } from './accounts.js';
import { createDeletionModels } from './deletions.js';
import { createHistoryModels } from './history.js';
import { createLookupModels } from './lookups.js';
import { createMigrationModels } from './migrations.js';
import { createOutputModels } from './outputs.js';
import { createPeopleModels } from './people.js';
import { createRunModels } from './runs.js';
import { createSecretModels } from './secrets.js';
import { createWorkflowModels } from './workflows.js';
import { createWebhookModels } from './webhooks.js';

/** All of Stepwise's models, bound to one connection (one database). */
export function createModels(connection: Connection) {
  return {
    ...createAccountModels(connection),
    ...createPeopleModels(connection),
    ...createWorkflowModels(connection),
    ...createRunModels(connection),
    ...createHistoryModels(connection),
    ...createOutputModels(connection),
    ...createMigrationModels(connection),
    ...createWebhookModels(connection),
    ...createLookupModels(connection),
    ...createDeletionModels(connection),
    ...createSecretModels(connection),
  };
}

export type Models = ReturnType<typeof createModels>;

/** Builds every declared index; services call it at start so unique constraints hold from the first write. */
export async function ensureIndexes(models: Models): Promise<void> {
  await Promise.all(Object.values(models).map((model) => model.createIndexes()));
}

/**
 * GridFS buckets: raw workflow uploads, resolved workflows too large to inline, run artifacts, and
 * image previews (a cache keyed by the original's sha256: see docs/media.md).
 */
export const gridFsBuckets = [
  'submissions',
  'resolved_workflows',
  'artifacts',
  'previews',
] as const;
export type GridFsBucketName = (typeof gridFsBuckets)[number];

const openBuckets = new WeakMap<object, Map<GridFsBucketName, mongo.GridFSBucket>>();

/**
 * The connection's bucket of this name. One bucket object per connection and name: a new one
 * checks its indexes with an extra query on its first upload, which would be every upload.
 */
export function openBucket(connection: Connection, bucketName: GridFsBucketName) {
  const db = connection.db;
  if (!db) throw new Error('MongoDB connection is not open');
  let buckets = openBuckets.get(db);
  if (!buckets) {
    buckets = new Map();
    openBuckets.set(db, buckets);
  }
  let bucket = buckets.get(bucketName);
  if (!bucket) {
    bucket = new mongo.GridFSBucket(db, { bucketName });
    buckets.set(bucketName, bucket);
  }
  return bucket;
}
