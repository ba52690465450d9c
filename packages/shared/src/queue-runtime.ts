import {
  Queue,
  QueueEvents,
  UnrecoverableError,
  Worker,
  type Job,
  type JobsOptions,
  type WorkerOptions,
} from 'bullmq';
import type { RedisClient } from './connections.js';
import type { z } from 'zod';
import { summarizeDetails, detailsFromZodError } from './errors.js';
import { jobCatalog, type JobKind, type JobPayload } from './queues.js';
import { queueKeyPrefix } from './redis-keys.js';
import type { Logger } from './logger.js';

/** A producer typed by the job catalog: payloads are validated before they reach Redis. */
export class JobQueue<K extends JobKind> {
  readonly queue: Queue;
  private readonly contract: (typeof jobCatalog)[K];

  /** `prefix` is QUEUE_PREFIX: the queue's keys get a hash tag of their own inside it. */
  constructor(kind: K, connection: RedisClient, prefix: string) {
    this.contract = jobCatalog[kind];
    this.queue = new Queue(this.contract.queue, {
      connection,
      prefix: queueKeyPrefix(prefix, this.contract.queue),
    });
  }

  async enqueue(payload: JobPayload<K>, options: JobsOptions = {}): Promise<Job> {
    const parsed = (this.contract.payload as z.ZodType).parse(payload);
    return this.queue.add(this.contract.jobName, parsed, {
      attempts: this.contract.attempts,
      backoff: { type: 'exponential', delay: this.contract.backoffMs },
      removeOnComplete: { age: 24 * 3600, count: 10_000 },
      removeOnFail: { age: 7 * 24 * 3600 },
      ...options,
    });
  }

  close(): Promise<void> {
    return this.queue.close();
  }
}

/**
 * The completion events of one catalog queue, read on a blocking connection of their own (give
 * it a connection nothing else uses).
 */
/**
 * `lastEventId` '0' reads the queue's event stream from its start: without it events are read from
 * the first blocking read on, which `waitUntilReady` does not wait for, so a job finished in
 * between is never heard of (a fresh queue in a test; long-lived listeners do not care).
 */
export function openQueueEvents(
  kind: JobKind,
  connection: RedisClient,
  prefix: string,
  options: { lastEventId?: string } = {},
) {
  const queue = jobCatalog[kind].queue;
  return new QueueEvents(queue, {
    connection,
    prefix: queueKeyPrefix(prefix, queue),
    ...(options.lastEventId ? { lastEventId: options.lastEventId } : {}),
  });
}

const ERROR_LOG_INTERVAL_MS = 10_000;

export interface JobContext {
  jobId: string;
  attemptsMade: number;
  /** True when a thrown error will not be retried: cleanup that waits for the outcome may run. */
  isFinalAttempt: boolean;
  logger: Logger;
  /** Shows how far a long job is (the queue dashboard displays it with the job). */
  reportProgress: (progress: Record<string, number>) => Promise<void>;
  /**
   * Replaces the job's payload in Redis, parsed with the job's own schema first (so a later
   * attempt still gets a valid payload), e.g. to drop bytes it no longer needs. Absent where a
   * handler is called outside a queue.
   */
  replacePayload?: (payload: unknown) => Promise<void>;
}

export type JobHandler<K extends JobKind> = (
  payload: JobPayload<K>,
  context: JobContext,
) => Promise<unknown>;

export interface StartWorkerOptions<K extends JobKind> {
  kind: K;
  connection: RedisClient;
  prefix: string;
  concurrency: number;
  logger: Logger;
  handler: JobHandler<K>;
  /** Lock and stalled-job settings (e.g. shorter locks so a killed worker's jobs return sooner). */
  workerOptions?: Pick<WorkerOptions, 'lockDuration' | 'stalledInterval' | 'maxStalledCount'>;
}

/**
 * A BullMQ worker over one catalog entry. The payload is parsed first; a malformed payload fails
 * the job for good (retrying cannot fix it). Every job gets one log line with its outcome.
 */
export function startWorker<K extends JobKind>(options: StartWorkerOptions<K>): Worker {
  const contract = jobCatalog[options.kind];
  const worker = new Worker(
    contract.queue,
    async (job: Job) => {
      // One line per job, carrying whatever ids its payload has (run, user, correlation).
      const data = (typeof job.data === 'object' && job.data !== null ? job.data : {}) as Record<
        string,
        unknown
      >;
      const ids = Object.fromEntries(
        (['workflow_run_id', 'user_id', 'correlation_id', 'command_id'] as const)
          .filter((key) => typeof data[key] === 'string')
          .map((key) => [key === 'workflow_run_id' ? 'run_id' : key, data[key]]),
      );
      const logger = options.logger.child({ job_id: job.id, queue: contract.queue, ...ids });
      const started = performance.now();
      const parsed = (contract.payload as z.ZodType).safeParse(job.data);
      if (!parsed.success) {
        const message = `invalid ${contract.jobName} payload: ${summarizeDetails(detailsFromZodError(parsed.error))}`;
        logger.warn({ outcome: 'rejected' }, message);
        throw new UnrecoverableError(message);
      }
      try {
        const result = await options.handler(parsed.data as JobPayload<K>, {
          jobId: job.id ?? '',
          attemptsMade: job.attemptsMade,
          isFinalAttempt: job.attemptsMade + 1 >= (job.opts.attempts ?? 1),
          logger,
          reportProgress: (progress) => job.updateProgress(progress),
          replacePayload: (payload) =>
            job.updateData((contract.payload as z.ZodType).parse(payload)),
        });
        logger.info({ outcome: 'completed', duration_ms: performance.now() - started }, 'job done');
        return result;
      } catch (error) {
        logger.warn(
          { outcome: 'failed', err: error, duration_ms: performance.now() - started },
          'job failed',
        );
        throw error;
      }
    },
    {
      connection: options.connection,
      prefix: queueKeyPrefix(options.prefix, contract.queue),
      concurrency: options.concurrency,
      ...options.workerOptions,
    },
  );
  // While Redis is down BullMQ reports every reconnect attempt; one line per interval is enough.
  let lastReported = 0;
  let suppressed = 0;
  worker.on('error', (error) => {
    const now = Date.now();
    if (now - lastReported < ERROR_LOG_INTERVAL_MS) {
      suppressed++;
      return;
    }
    options.logger.error({ err: error, suppressed }, 'worker error');
    lastReported = now;
    suppressed = 0;
  });
  return worker;
}
