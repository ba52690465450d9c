import { randomBytes } from 'node:crypto';
import { afterAll, inject } from 'vitest';
import {
  connectMongo,
  connectRedis,
  createModels,
  ensureIndexes,
  type Models,
  type RedisClient,
} from '@stepwise/shared/node';
import type { Connection } from 'mongoose';

export interface TestDatabases {
  /** A MongoDB URL naming this file's own database. */
  mongoUrl: string;
  redisUrl: string;
  /** A queue prefix of this file's own, so files can run in parallel on one Redis. */
  queuePrefix: string;
  mongo: Connection;
  models: Models;
  redis: RedisClient;
}

/**
 * The keys matching a glob pattern on every node: KEYS on a single server, and on each master of
 * a Redis Cluster (where KEYS only sees the node it is sent to).
 */
export async function keysMatching(redis: RedisClient, pattern: string): Promise<string[]> {
  const nodes = 'nodes' in redis ? redis.nodes('master') : [redis];
  const lists = await Promise.all(nodes.map((node) => node.keys(pattern)));
  return lists.flat().sort();
}

function withDatabase(url: string, name: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${name}`;
  return parsed.toString();
}

/**
 * Gives the calling test file its own MongoDB database and queue prefix on the shared servers,
 * with every index built, and drops them after the file's tests.
 */
export async function useTestDatabases(
  label: string,
  options: { indexes?: boolean } = {},
): Promise<TestDatabases> {
  const suffix = randomBytes(4).toString('hex');
  const databaseName = `t_${label.replace(/[^a-z0-9]/gi, '_').slice(0, 40)}_${suffix}`;
  const mongoUrl = withDatabase(inject('mongoUrl'), databaseName);
  const redisUrl = inject('redisUrl');
  const mongo = await connectMongo(mongoUrl);
  const models = createModels(mongo);
  if (options.indexes !== false) await ensureIndexes(models);
  const redis = connectRedis(redisUrl, 'worker');
  afterAll(async () => {
    await mongo.dropDatabase().catch(() => undefined);
    await mongo.close();
    redis.disconnect();
  });
  return { mongoUrl, redisUrl, queuePrefix: `{t_${suffix}}`, mongo, models, redis };
}
