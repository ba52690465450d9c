import { setTimeout as sleep } from 'node:timers/promises';
import { Redis, type RedisOptions } from 'ioredis';
import mongoose, { type Connection } from 'mongoose';
import type { Logger } from './logger.js';

export interface MongoConnectOptions {
  /** Keep retrying the first connection this long (a database starting next to us). */
  retryForMs?: number;
  serverSelectionTimeoutMs?: number;
  logger?: Logger;
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
    });
    try {
      await connection.asPromise();
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

export function connectRedis(url: string, role: RedisRole, logger?: Logger): Redis {
  const options: RedisOptions =
    role === 'worker'
      ? { maxRetriesPerRequest: null, enableReadyCheck: true }
      : { maxRetriesPerRequest: 1, enableOfflineQueue: false, connectTimeout: 2_000 };
  const redis = new Redis(url, {
    ...options,
    lazyConnect: false,
    retryStrategy: (times) => Math.min(times * 200, 2_000),
  });
  // Without a listener ioredis prints every reconnect failure to stderr; route them to our log.
  redis.on('error', (error: Error) =>
    logger?.debug({ err: error, role }, 'redis connection error'),
  );
  return redis;
}

/** Answers when Redis does; while the client is not connected, says so plainly instead of waiting. */
export async function pingRedis(redis: Redis): Promise<void> {
  if (redis.status !== 'ready') throw new Error(`Redis connection is ${redis.status}`);
  await redis.ping();
}
