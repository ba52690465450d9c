import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import {
  fairShareKey,
  jobCatalog,
  queueKeyPrefix,
  rateLimitKey,
  sessionKey,
  userSessionsKey,
  type JobKind,
} from '@stepwise/shared';
import { JobQueue, connectRedis, startWorker, type RedisClient } from '@stepwise/shared/node';
import { keysMatching } from './support/databases.js';
import { startDisposableCluster, type ClusterNode } from './support/redis-cluster.js';

// The key layout on a real Redis Cluster (docs/scaling.md, "Redis key layout"): each queue on a
// hash tag of its own, so the queues spread over the masters instead of sharing one slot; a
// user's keys on one tag, so the MULTIs that span them stay legal.
const cluster = await startDisposableCluster();
const redis = connectRedis(cluster.url, 'worker');
const masters = (await cluster.nodes()).filter((node) => node.role === 'master');

function masterOf(slot: number, nodes: ClusterNode[]): number {
  const owner = nodes.find((node) => node.slots.some(([from, to]) => slot >= from && slot <= to));
  if (!owner) throw new Error(`no master serves slot ${slot}`);
  return owner.port;
}

async function slotOf(client: RedisClient, key: string): Promise<number> {
  return Number(await client.call('CLUSTER', 'KEYSLOT', key));
}

describe('the Redis key layout on a Redis Cluster', () => {
  it('has three masters serving every slot', () => {
    expect(masters).toHaveLength(3);
    const served = masters.flatMap((node) => node.slots).reduce((n, [a, b]) => n + b - a + 1, 0);
    expect(served).toBe(16_384);
  });

  it('puts the default deployment’s queues on at least two different masters', async () => {
    const kinds = Object.keys(jobCatalog) as JobKind[];
    const owners = new Map<string, number>();
    for (const kind of kinds) {
      const queue = jobCatalog[kind].queue;
      owners.set(
        queue,
        masterOf(
          await slotOf(redis, `${queueKeyPrefix('{stepwise}', queue)}:${queue}:wait`),
          masters,
        ),
      );
    }
    expect(owners.size).toBe(kinds.length);
    expect(new Set(owners.values()).size).toBeGreaterThanOrEqual(2);
  });

  it('keeps every key of one queue on one master while queues use several', async () => {
    // A namespace of its own, with real jobs through BullMQ's scripts on the cluster.
    const namespace = `t_cluster_${Date.now().toString(36)}`;
    const logger = pino({ level: 'silent' });
    const kinds = ['runCommand', 'resolve', 'webhookDelivery', 'maintenance', 'migration'] as const;
    const handled: string[] = [];
    for (const kind of kinds) {
      const producer = new JobQueue(kind, connectRedis(cluster.url, 'worker'), namespace);
      // A payload the worker refuses for good: enough to run BullMQ's add/move/fail scripts.
      await producer.queue.add(jobCatalog[kind].jobName, { bogus: true }, { attempts: 1 });
      const worker = startWorker({
        kind,
        connection: connectRedis(cluster.url, 'worker'),
        prefix: namespace,
        concurrency: 1,
        logger,
        handler: async () => undefined,
      });
      await new Promise<void>((resolve) => worker.once('failed', () => resolve()));
      handled.push(kind);
      await Promise.all([worker.close(), producer.close()]);
    }
    expect(handled).toEqual([...kinds]);

    const keysByMaster = new Map<number, string[]>();
    for (const node of masters) {
      const client = connectRedis(`redis://127.0.0.1:${node.port}`, 'worker');
      await client.ping();
      // KEYS on one node sees only that node's keys: where each queue really lives.
      keysByMaster.set(node.port, (await client.keys(`*${namespace}*`)).sort());
      client.disconnect();
    }
    const all = [...keysByMaster.values()].flat();
    expect(all.sort()).toEqual(await keysMatching(redis, `*${namespace}*`));
    for (const kind of kinds) {
      const tag = queueKeyPrefix(namespace, jobCatalog[kind].queue);
      const holders = [...keysByMaster].filter(([, keys]) => keys.some((k) => k.startsWith(tag)));
      expect(holders, `${kind}'s keys`).toHaveLength(1);
      expect(all.filter((key) => key.startsWith(tag)).length).toBeGreaterThan(1);
    }
    const mastersWithQueues = [...keysByMaster.values()].filter((keys) => keys.length > 0);
    expect(mastersWithQueues.length).toBeGreaterThanOrEqual(2);
  }, 60_000);

  it('keeps a user’s rate limit, fair share and sessions in one slot, and users apart', async () => {
    const slotsOf = (userId: string) =>
      Promise.all(
        [
          rateLimitKey('{stepwise}', userId, 1),
          fairShareKey('{stepwise}', userId),
          sessionKey('{stepwise}', userId, 'a'.repeat(64)),
          userSessionsKey('{stepwise}', userId),
        ].map((key) => slotOf(redis, key)),
      );
    const users = Array.from({ length: 20 }, (_, i) => `usr_${i.toString(16).padStart(32, '0')}`);
    const perUser = await Promise.all(users.map(slotsOf));
    for (const slots of perUser) expect(new Set(slots).size).toBe(1);
    expect(new Set(perUser.map((slots) => slots[0])).size).toBeGreaterThan(10);
    // And the MULTI a sign-in sends really runs on the cluster (a cross-slot one would fail).
    const userId = users[0] ?? '';
    const replies = await redis
      .multi()
      .set(sessionKey('{stepwise}', userId, 'b'.repeat(64)), '{}', 'PX', 10_000)
      .sadd(userSessionsKey('{stepwise}', userId), 'b'.repeat(64))
      .exec();
    expect(replies?.map(([error]) => error)).toEqual([null, null]);
  });
});
