import { setTimeout as sleep } from 'node:timers/promises';
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import mongoose, { type Connection } from 'mongoose';
import type { Logger } from './logger.js';
import { logMongoCommands, type MongoCommandLogOptions } from './mongo-command-log.js';

export interface MongoConnectOptions {
  /** Keep retrying the first connection this long (a database starting next to us). */
  retryForMs?: number;
  serverSelectionTimeoutMs?: number;
  logger?: Logger;
  /** MONGO_COMMAND_LOG: append every command sent to this file (tests only; see mongo-command-log). */
  commandLog?: MongoCommandLogOptions | undefined;
}

/**
 * Opens a dedicated mongoose connection. Commands are not buffered while disconnected: a request
 * during an outage fails fast (503) instead of hanging until the client gives up.
 */
export async function connectMongo(
  url: string,
  options: MongoConnectOptions = {},
): Promise<Connection> {
  const deadline = Date.now() + (options.retryForMs ?? 0);
  for (let attempt = 1; ; attempt++) {
    const connection = mongoose.createConnection(url, {
      bufferCommands: false,
      serverSelectionTimeoutMS: options.serverSelectionTimeoutMs ?? 5_000,
      autoIndex: false,
      autoCreate: false,
      monitorCommands: options.commandLog !== undefined,
    });
    try {
      await connection.asPromise();
      if (options.commandLog) logMongoCommands(connection, options.commandLog);
      return connection;
    } catch (error) {
      await connection.close().catch(() => undefined);
      if (Date.now() >= deadline) throw error;
      options.logger?.warn({ err: error, attempt }, 'MongoDB not reachable yet; retrying');
      await sleep(Math.min(2_000, 200 * attempt));
    }
  }
}

export async function pingMongo(connection: Connection): Promise<void> {
  const db = connection.db;
  if (!db || connection.readyState !== mongoose.ConnectionStates.connected) {
    throw new Error('MongoDB connection is not open');
  }
  await db.command({ ping: 1 });
}

export type RedisRole =
  /** Commands issued on behalf of a request: fail at once while Redis is down. */
  | 'client'
  /** BullMQ workers and blocking readers: wait for Redis to come back, never give up. */
  | 'worker';

/** A connection to a single Redis server or to a Redis Cluster; both speak the same commands. */
export type RedisClient = Redis | Cluster;

export interface RedisConnectOptions {
  /**
   * Connect to a Redis Cluster (REDIS_CLUSTER). A REDIS_URL naming several nodes always means a
   * cluster: a single server has one address.
   */
  cluster?: boolean;
  logger?: Logger;
  /**
   * ioredis's auto-pipelining: the commands issued in one turn of the event loop go out in one
   * write (one per node on a cluster). For connections of many small independent reads (the
   * gateway's per-request checks); not for BullMQ's, whose users report trouble with it.
   */
  autoPipelining?: boolean;
}

/** The nodes a REDIS_URL names: one `redis://` URL, or several separated by commas. */
export function redisNodeUrls(url: string): string[] {
  return url
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part.length > 0);
}

export function isRedisCluster(url: string, cluster = false): boolean {
  return cluster || redisNodeUrls(url).length > 1;
}

function roleOptions(role: RedisRole): RedisOptions {
  return role === 'worker'
    ? { maxRetriesPerRequest: null, enableReadyCheck: true }
    : { maxRetriesPerRequest: 1, enableOfflineQueue: false, connectTimeout: 2_000 };
}

/** Credentials, database and TLS from a node URL; every node of a cluster shares them. */
function serverOptions(url: string): RedisOptions {
  const parsed = new URL(url);
  return {
    ...(parsed.username ? { username: decodeURIComponent(parsed.username) } : {}),
    ...(parsed.password ? { password: decodeURIComponent(parsed.password) } : {}),
    ...(parsed.protocol === 'rediss:' ? { tls: {} } : {}),
  };
}

export function connectRedis(
  url: string,
  role: RedisRole,
  { cluster = false, logger, autoPipelining = false }: RedisConnectOptions = {},
): RedisClient {
  const pipelining = autoPipelining ? { enableAutoPipelining: true } : {};
  const retryStrategy = (times: number) => Math.min(times * 200, 2_000);
  let redis: RedisClient;
  if (isRedisCluster(url, cluster)) {
    const nodes = redisNodeUrls(url).map((node) => {
      const parsed = new URL(node);
      return { host: parsed.hostname, port: Number(parsed.port || 6379) };
    });
    const { enableOfflineQueue, ...perNode } = roleOptions(role);
    const clusterOptions: ClusterOptions = {
      redisOptions: { ...perNode, ...serverOptions(redisNodeUrls(url)[0] ?? url) },
      clusterRetryStrategy: retryStrategy,
      // A failover moves slots within seconds; commands wait for the new master meanwhile
      // (a client's single retry is still bounded by these delays, so requests fail fast).
      retryDelayOnFailover: 200,
      retryDelayOnClusterDown: 200,
      retryDelayOnTryAgain: 200,
      slotsRefreshTimeout: 2_000,
      ...(enableOfflineQueue === false ? { enableOfflineQueue: false } : {}),
      ...pipelining,
    };
    redis = new Cluster(nodes, clusterOptions);
  } else {
    redis = new Redis(url, {
      ...roleOptions(role),
      lazyConnect: false,
      retryStrategy,
      ...pipelining,
    });
  }
  // Without a listener ioredis prints every reconnect failure to stderr; route them to our log.
  redis.on('error', (error: Error) =>
    logger?.debug({ err: error, role }, 'redis connection error'),
  );
  return redis;
}

/** Answers when Redis does; while the client is not connected, says so plainly instead of waiting. */
export async function pingRedis(redis: RedisClient): Promise<void> {
  if (redis.status !== 'ready') throw new Error(`Redis connection is ${redis.status}`);
  await redis.ping();
}
