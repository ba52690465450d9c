import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { jobCatalog } from '@stepwise/shared';
import { JobQueue, connectRedis, openQueueEvents } from '@stepwise/shared/node';
import { useTestDatabases } from './support/databases.js';
import { logRecord, startServiceProcess } from './support/processes.js';

const db = await useTestDatabases('worker_services');

describe.each([
  { service: 'resolver', kind: 'resolve' },
  { service: 'runner', kind: 'runCommand' },
] as const)('the $service process', ({ service, kind }) => {
  const env = () => ({
    MONGO_URL: db.mongoUrl,
    REDIS_URL: db.redisUrl,
    QUEUE_PREFIX: db.queuePrefix,
    LOG_LEVEL: 'info',
  });

  it('refuses to start with a bad variable and names it', async () => {
    const worker = startServiceProcess(service, { ...env(), REDIS_URL: 'http://nope' });
    expect(await worker.exited).toBe(1);
    expect(worker.lines.join('\n')).toContain('REDIS_URL: must be a redis://');
  });

  it('connects, consumes its queue under the configured prefix, and stops cleanly on SIGTERM', async () => {
    const heartbeat = join(mkdtempSync(join(tmpdir(), 'heartbeat-')), 'beat');
    const worker = startServiceProcess(service, { ...env(), HEARTBEAT_FILE: heartbeat });
    const ready = logRecord(await worker.waitForLine((line) => line.includes(`${service} ready`)));
    expect(ready).toMatchObject({ service, queue: jobCatalog[kind].queue, prefix: db.queuePrefix });
    await vi.waitFor(() => expect(existsSync(heartbeat)).toBe(true));

    // A payload no producer of ours would send: the worker must take it off the queue and fail
    // it for good after one attempt, proving it reads this queue and parses payloads first.
    const producer = new JobQueue(kind, connectRedis(db.redisUrl, 'client'), db.queuePrefix);
    // From the stream's start: the job may finish before the listener's first read.
    const events = openQueueEvents(kind, connectRedis(db.redisUrl, 'worker'), db.queuePrefix, {
      lastEventId: '0',
    });
    await events.waitUntilReady();
    const job = await producer.queue.add(
      jobCatalog[kind].jobName,
      { bogus: true },
      { attempts: 3 },
    );
    await expect(job.waitUntilFinished(events, 15_000)).rejects.toThrow(/invalid .* payload/);
    const failed = await producer.queue.getJob(job.id ?? '');
    expect(failed?.attemptsMade).toBe(1);
    const jobLine = logRecord(
      await worker.waitForLine((line) => logRecord(line)?.['job_id'] === job.id),
    );
    expect(jobLine).toMatchObject({ outcome: 'rejected', queue: jobCatalog[kind].queue });

    worker.child.kill('SIGTERM');
    expect(await worker.exited).toBe(0);
    expect(worker.lines.some((line) => logRecord(line)?.['msg'] === 'stopped')).toBe(true);
    await Promise.all([events.close(), producer.close()]);
  });
});
