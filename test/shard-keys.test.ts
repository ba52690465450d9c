import { describe, expect, it } from 'vitest';
import {
  gridFsBuckets,
  isSharded,
  scatterGatherQueries,
  shardCollectionCommands,
  shardPlans,
  uploadToBucket,
  type LoggedMongoCommand,
  type ShardPlan,
} from '@stepwise/shared/node';
import { useTestDatabases } from './support/databases.js';
import { judge } from './support/shard-key-check.js';

/**
 * The shard plans (shard-keys.ts) against the database the services build: every collection has
 * one, and every unique index of a sharded collection begins with its shard key, read from the
 * real server after `ensureIndexes` (and after GridFS made its own indexes), not from the schemas.
 */
const db = await useTestDatabases('shard_keys');

interface ListedIndex {
  name: string;
  key: Record<string, unknown>;
  unique?: boolean;
}

const plans = Object.entries(shardPlans) as [string, ShardPlan][];

async function collectionsWithIndexes(): Promise<Map<string, ListedIndex[]>> {
  const mongo = db.mongo.db;
  if (!mongo) throw new Error('not connected');
  // GridFS makes its collections and indexes with a bucket's first upload.
  for (const bucket of gridFsBuckets)
    await uploadToBucket(db.mongo, bucket, 'probe.txt', Buffer.from('probe'), {});
  const found = new Map<string, ListedIndex[]>();
  for (const { name } of await mongo.listCollections().toArray())
    found.set(name, (await mongo.collection(name).listIndexes().toArray()) as ListedIndex[]);
  return found;
}

describe('the shard plans and the indexes the services build', () => {
  it('declare every collection there is, and only those', async () => {
    const collections = await collectionsWithIndexes();
    expect([...collections.keys()].sort()).toEqual(plans.map(([name]) => name).sort());
  });

  it('have every unique index of a sharded collection begin with the whole shard key', async () => {
    const collections = await collectionsWithIndexes();
    const problems: string[] = [];
    let checked = 0;
    for (const [name, plan] of plans) {
      if (!isSharded(plan)) continue;
      const keyFields = Object.keys(plan.shardKey);
      for (const index of collections.get(name) ?? []) {
        // `_id`: an ObjectId the driver mints, unique by construction (idUniqueByConstruction);
        // MongoDB keeps that index unique per shard, which is all it needs to be.
        if (index.name === '_id_' || index.unique !== true) continue;
        checked += 1;
        const leading = Object.keys(index.key).slice(0, keyFields.length);
        if (leading.join(',') !== keyFields.join(','))
          problems.push(`${name}.${index.name} does not begin with ${keyFields.join(', ')}`);
      }
    }
    expect(problems).toEqual([]);
    expect(checked).toBeGreaterThanOrEqual(20);
  });

  it('name only sharded collections in scatter-gather queries, and shard each of them once', () => {
    for (const query of Object.values(scatterGatherQueries))
      expect(isSharded(shardPlans[query.collection])).toBe(true);
    const commands = shardCollectionCommands('stepwise');
    for (const [name, plan] of plans) {
      const lines = commands.filter((line) => line.includes(`"stepwise.${name}"`));
      expect(lines).toHaveLength(1);
      expect(lines[0]?.startsWith('sh.shardCollection(')).toBe(isSharded(plan));
    }
  });
});

describe('judging a logged command', () => {
  const line = (fields: Partial<LoggedMongoCommand>): LoggedMongoCommand => ({
    service: 'test',
    command: 'find',
    databaseName: 'stepwise',
    collection: 'workflow_runs',
    filter: {},
    ...fields,
  });

  it('passes queries that pin the shard key by equality, $in, or in every branch of an $or', () => {
    for (const filter of [
      { user_id: 'usr_1', status: 'running' },
      { user_id: { $in: ['usr_1', 'usr_2'] } },
      { user_id: { $eq: 'usr_1' } },
      { $and: [{ user_id: 'usr_1' }, { status: 'running' }] },
      { $or: [{ user_id: 'usr_1' }, { user_id: 'usr_2', status: 'error' }] },
    ])
      expect(judge(line({ filter })).kind).toBe('routed');
    expect(judge(line({ command: 'update', filter: [{ user_id: 'usr_1' }] })).kind).toBe('routed');
    expect(judge(line({ collection: 'artifacts.chunks', filter: { files_id: 'f' } })).kind).toBe(
      'routed',
    );
  });

  it('fails queries without it, and inserts without it', () => {
    for (const filter of [
      { workflow_run_id: 'run_1' },
      { user_id: { $ne: 'usr_1' } },
      { user_id: { $in: [] } },
      { $or: [{ user_id: 'usr_1' }, { status: 'error' }] },
    ])
      expect(judge(line({ filter })).kind).toBe('violation');
    expect(
      judge(line({ command: 'delete', filter: [{ user_id: 'usr_1' }, { status: 'x' }] })).kind,
    ).toBe('violation');
    expect(
      judge(line({ command: 'insert', filter: undefined, documents: [{ workflow_run_id: 'r' }] }))
        .kind,
    ).toBe('violation');
    expect(judge(line({ collection: 'brand_new', filter: { user_id: 'u' } })).kind).toBe(
      'violation',
    );
  });

  it('lets a declared sweep go to every shard, on its own collection only', () => {
    const sweep = line({ filter: { status: 'running' }, comment: 'sweep:stale-runs' });
    expect(judge(sweep).kind).toBe('scatter-gather');
    expect(judge({ ...sweep, collection: 'run_commands' }).kind).toBe('violation');
    expect(judge({ ...sweep, comment: 'sweep:made-up' }).kind).toBe('violation');
    expect(judge(line({ collection: 'users', filter: { email: 'a@b' } })).kind).toBe('unsharded');
  });
});
