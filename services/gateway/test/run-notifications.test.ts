import { once } from 'node:events';
import { describe, expect, it, vi } from 'vitest';
import { encodeRunAnnouncement, newId, runChannel, type RunAnnouncement } from '@stepwise/shared';
import { connectRedis, type RedisClient } from '@stepwise/shared/node';
import { RunNotifications } from '../src/runs/run-notifications.js';
import { useTestDatabases } from '../../../test/support/databases.js';

/**
 * The gateway's fan-out of run announcements, over a real subscriber connection (a single Redis or
 * a cluster, whichever the suite runs on).
 */
const db = await useTestDatabases('run_notifications', { indexes: false });

async function ready(client: RedisClient): Promise<void> {
  if (client.status !== 'ready') await once(client, 'ready');
}

describe('run notifications', () => {
  it('a subscription Redis refused is made again by the next reader of the channel', async () => {
    const subscriber = connectRedis(db.redisUrl, 'worker');
    await ready(subscriber);
    const notifications = new RunNotifications(subscriber, db.queuePrefix);
    const runId = newId('run');
    const announce = () =>
      db.redis.publish(runChannel(db.queuePrefix, runId), encodeRunAnnouncement(7));
    try {
      // Closed: the SUBSCRIBE fails. The first reader stays, reading the log on its own schedule.
      subscriber.disconnect();
      const stranded: RunAnnouncement[] = [];
      notifications.subscribe(runId, (announcement) => stranded.push(announcement));
      await notifications.subscribed(runId);

      // Back again: a reader that comes now must not join the subscription that never was.
      subscriber.connect().catch(() => undefined);
      await ready(subscriber);
      const heard: RunAnnouncement[] = [];
      notifications.subscribe(runId, (announcement) => heard.push(announcement));
      await notifications.subscribed(runId);
      await vi.waitFor(
        async () => {
          await announce();
          expect(heard.length).toBeGreaterThan(0);
        },
        { timeout: 3_000, interval: 100 },
      );
      expect(heard[0]).toEqual({ lastSeq: 7, events: null });
    } finally {
      subscriber.disconnect();
    }
  });
});
