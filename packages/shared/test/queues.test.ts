import type { Job } from 'bullmq';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { newId } from '../src/ids.js';
import { jobCatalog, type ResolveJob } from '../src/queues.js';
import { JobQueue, openQueueEvents, startWorker } from '../src/queue-runtime.js';
import { redisNamespace } from '../src/redis-keys.js';
import { connectRedis } from '../src/connections.js';
import { keysMatching, useTestDatabases } from '../../../test/support/databases.js';

const db = await useTestDatabases('queues');
const logger = pino({ level: 'silent' });

const validResolveJob = (): ResolveJob => ({
  user_id: newId('user'),
  submission_file_id: 'file-1',
  source_type: 'json',
  raw_sha256: 'a'.repeat(64),
  size: 12,
  correlation_id: newId('correlation'),
});

describe('queues on the real Redis', () => {
  it('carries a job from producer to worker and back, under the hash-tagged prefix', async () => {
    const producer = new JobQueue('resolve', connectRedis(db.redisUrl, 'client'), db.queuePrefix);
    const received: ResolveJob[] = [];
    const worker = startWorker({
      kind: 'resolve',
      connection: db.redis,
      prefix: db.queuePrefix,
      concurrency: 1,
      logger,
      handler: async (payload) => {
        received.push(payload);
        return { echoed: payload.submission_file_id };
      },
    });
    // From the stream's start: the job may finish before the listener's first read.
    const events = openQueueEvents('resolve', connectRedis(db.redisUrl, 'worker'), db.queuePrefix, {
      lastEventId: '0',
    });
    await events.waitUntilReady();
    const payload = validResolveJob();
    const job = await producer.enqueue(payload);
    expect(await job.waitUntilFinished(events, 10_000)).toEqual({ echoed: 'file-1' });
    expect(received).toEqual([payload]);

    const keys = await keysMatching(db.redis, `*${redisNamespace(db.queuePrefix)}*`);
    expect(keys.length).toBeGreaterThan(0);
    // Every key of the queue shares one hash tag of its own, so a Redis Cluster keeps them in one
    // slot (its scripts work) while other queues may live on other nodes.
    const tag = `{${redisNamespace(db.queuePrefix)}:resolve}`;
    expect(keys.filter((key) => !key.startsWith(`${tag}:resolve:`))).toEqual([]);
    await Promise.all([worker.close(), events.close(), producer.close()]);
  });

  it('refuses a malformed payload at the producer', async () => {
    const producer = new JobQueue('resolve', connectRedis(db.redisUrl, 'client'), db.queuePrefix);
    await expect(
      producer.enqueue({ ...validResolveJob(), source_type: 'tar' } as unknown as ResolveJob),
    ).rejects.toThrow();
    expect(await producer.queue.count()).toBe(0);
    await producer.close();
  });

  it('fails a malformed job for good at the worker instead of retrying it', async () => {
    const prefix = `{${newId('correlation')}}`;
    const rawProducer = new JobQueue('runCommand', connectRedis(db.redisUrl, 'client'), prefix);
    let handled = 0;
    const worker = startWorker({
      kind: 'runCommand',
      connection: db.redis,
      prefix,
      concurrency: 1,
      logger,
      handler: async () => {
        handled++;
      },
    });
    const failed = new Promise<Job>((resolve) => worker.on('failed', (job) => job && resolve(job)));
    // Bypass the typed producer to simulate a foreign or outdated producer.
    await rawProducer.queue.add(jobCatalog.runCommand.jobName, { type: 'start' }, { attempts: 5 });
    const job = await failed;
    expect(job.failedReason).toMatch(/invalid run payload/);
    expect(job.attemptsMade).toBe(1);
    expect(handled).toBe(0);
    await Promise.all([worker.close(), rawProducer.close()]);
  });
});
