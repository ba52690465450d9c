import { Job, type Queue, type QueueEvents } from 'bullmq';
import type { RedisClient } from '@stepwise/shared/node';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import {
  eventsAppendedKey,
  webhookDeliveriesKey,
  webhookDeliveryOutcomes,
  webhookLatencyBuckets,
  webhookLatencyKey,
  webhookStatusSchema,
} from '@stepwise/shared';
import { scatterGather, type Models } from '@stepwise/shared/node';

export interface MetricsSources {
  models: Models;
  redis: RedisClient;
  queuePrefix: string;
  queues: readonly Queue[];
  queueEvents: readonly { queue: Queue; events: QueueEvents }[];
}

const jobStates = ['waiting', 'active', 'delayed', 'prioritized', 'failed', 'completed'] as const;

/**
 * The gateway's Prometheus metrics. Request timings are its own; queue depths, run counts and
 * events appended are read from Redis and MongoDB when scraped, so they are the whole system's,
 * not one process's. Job durations come from the queues' completion events.
 */
export function createMetrics(sources: MetricsSources) {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });

  const httpDuration = new Histogram({
    name: 'stepwise_http_request_duration_seconds',
    help: 'HTTP request duration by route and status',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });

  new Gauge({
    name: 'stepwise_queue_jobs',
    help: 'Jobs per queue and state',
    labelNames: ['queue', 'state'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      for (const queue of sources.queues) {
        const counts = await queue.getJobCounts(...jobStates);
        for (const state of jobStates) this.set({ queue: queue.name, state }, counts[state] ?? 0);
      }
    },
  });

  const jobDuration = new Histogram({
    name: 'stepwise_job_duration_seconds',
    help: 'Time from a job being taken to its end, by queue and outcome',
    labelNames: ['queue', 'outcome'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 120],
    registers: [registry],
  });
  for (const { queue, events } of sources.queueEvents) {
    const observe =
      (outcome: 'completed' | 'failed') =>
      async ({ jobId }: { jobId: string }) => {
        const job = await Job.fromId(queue, jobId).catch(() => undefined);
        if (job?.processedOn && job.finishedOn)
          jobDuration.observe(
            { queue: queue.name, outcome },
            (job.finishedOn - job.processedOn) / 1000,
          );
      };
    events.on('completed', (args) => void observe('completed')(args));
    events.on('failed', (args) => void observe('failed')(args));
  }

  new Counter({
    name: 'stepwise_events_appended_total',
    help: 'Events appended to run logs, by every runner',
    registers: [registry],
    async collect() {
      const total = Number((await sources.redis.get(eventsAppendedKey(sources.queuePrefix))) ?? 0);
      this.reset();
      this.inc(total);
    },
  });

  new Gauge({
    name: 'stepwise_runs',
    help: 'Runs by status',
    labelNames: ['status'] as const,
    registers: [registry],
    async collect() {
      const rows = await sources.models.runs
        .aggregate<{ _id: string; count: number }>([
          { $group: { _id: '$status', count: { $sum: 1 } } },
        ])
        .option({ comment: scatterGather('metrics:runs-by-status') });
      this.reset();
      for (const status of ['running', 'awaiting_input', 'completed', 'error', 'cancelled']) {
        this.set({ status }, rows.find((row) => row._id === status)?.count ?? 0);
      }
    },
  });

  registerWebhookMetrics(registry, sources);

  return {
    registry,
    observeRequest(method: string, route: string, status: number, seconds: number) {
      httpDuration.observe({ method, route, status: String(status) }, seconds);
    },
  };
}

/**
 * Webhook deliveries, counted in Redis by every runner's dispatcher, and subscriptions by status.
 * The latency is a cumulative histogram the runners keep in a Redis hash; prom-client cannot
 * expose a histogram it did not observe, so its `_bucket`, `_sum` and `_count` series are three
 * metrics here, which PromQL (`histogram_quantile`) reads as one histogram all the same.
 */
function registerWebhookMetrics(registry: Registry, sources: MetricsSources): void {
  const latencyName = 'stepwise_webhook_delivery_latency_seconds';
  const readLatency = () => sources.redis.hgetall(webhookLatencyKey(sources.queuePrefix));

  new Counter({
    name: 'stepwise_webhook_deliveries_total',
    help: 'Webhook delivery attempts by outcome (delivered, failed and retried, given up)',
    labelNames: ['outcome'] as const,
    registers: [registry],
    async collect() {
      const counts = await sources.redis.hgetall(webhookDeliveriesKey(sources.queuePrefix));
      this.reset();
      for (const outcome of webhookDeliveryOutcomes)
        this.inc({ outcome }, Number(counts[outcome] ?? 0));
    },
  });

  new Counter({
    name: `${latencyName}_bucket`,
    help: 'Deliveries that succeeded within le seconds of their event (cumulative histogram buckets)',
    labelNames: ['le'] as const,
    registers: [registry],
    async collect() {
      const fields = await readLatency();
      this.reset();
      for (const le of [...webhookLatencyBuckets.map(String), '+Inf']) {
        this.inc({ le }, Number(fields[`le:${le}`] ?? 0));
      }
    },
  });

  new Counter({
    name: `${latencyName}_sum`,
    help: 'Seconds from events to the success of their deliveries, summed',
    registers: [registry],
    async collect() {
      const fields = await readLatency();
      this.reset();
      this.inc(Number(fields['sum'] ?? 0));
    },
  });

  new Counter({
    name: `${latencyName}_count`,
    help: 'Deliveries that succeeded, as counted by the latency histogram',
    registers: [registry],
    async collect() {
      const fields = await readLatency();
      this.reset();
      this.inc(Number(fields['count'] ?? 0));
    },
  });

  new Gauge({
    name: 'stepwise_webhook_subscriptions',
    help: 'Webhook subscriptions by status',
    labelNames: ['status'] as const,
    registers: [registry],
    async collect() {
      const rows = await sources.models.webhookSubscriptions.aggregate<{
        _id: string;
        count: number;
      }>([{ $group: { _id: '$status', count: { $sum: 1 } } }]);
      this.reset();
      for (const status of webhookStatusSchema.options) {
        this.set({ status }, rows.find((row) => row._id === status)?.count ?? 0);
      }
    },
  });
}

export type GatewayMetrics = ReturnType<typeof createMetrics>;
