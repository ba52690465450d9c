// The whole Stepwise stack in one process for benchmarks: a gateway on a loopback port, a resolver
// and (optionally) a runner, over a database and queue prefix of their own. Built code only
// (npm run build first).
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import { createModuleCatalog } from '@stepwise/shared';
import {
  JobQueue,
  connectMongo,
  connectRedis,
  createModels,
  ensureIndexes,
  openQueueEvents,
  startWorker,
} from '@stepwise/shared/node';
import { createGatewayApp } from '../../services/gateway/dist/app.js';
import { RunNotifications } from '../../services/gateway/dist/runs/run-notifications.js';
import { createResolveHandler } from '../../services/resolver/dist/resolve-submission.js';
import { createRunJobHandler } from '../../services/runner/dist/run-jobs.js';
import { createRunnerDependencies } from '../../services/runner/dist/runner.js';
import { jsonCaller } from './json-caller.mjs';

export async function startBenchStack({ label, withRunner = true, resolverConcurrency = 1 }) {
  const { MONGO_URL, REDIS_URL } = process.env;
  if (!MONGO_URL || !REDIS_URL) throw new Error('set MONGO_URL and REDIS_URL');
  const silent = pino({ level: 'silent' });
  const url = new URL(MONGO_URL);
  url.pathname = `/bench_${label}_${randomBytes(3).toString('hex')}`;
  const mongo = await connectMongo(url.toString());
  const models = createModels(mongo);
  await ensureIndexes(models);
  const prefix = `{bench_${randomBytes(3).toString('hex')}}`;
  const client = connectRedis(REDIS_URL, 'client');
  const closers = [];

  const resolver = startWorker({
    kind: 'resolve',
    connection: connectRedis(REDIS_URL, 'worker'),
    prefix,
    concurrency: resolverConcurrency,
    logger: silent,
    handler: createResolveHandler({
      mongo,
      models,
      catalog: createModuleCatalog(),
      inlineLimitBytes: 4 * 2 ** 20,
      limits: { maxEntries: 1000, maxUncompressedBytes: 100 * 2 ** 20, maxCompressionRatio: 100 },
    }),
  });
  closers.push(() => resolver.close());
  if (withRunner) {
    const { deps, runQueue, fairShare } = createRunnerDependencies({
      mongo,
      models,
      redis: connectRedis(REDIS_URL, 'worker'),
      queuePrefix: prefix,
      plugins: [],
      moduleTimeoutMs: 10_000,
      fetch: { policy: { allowedHosts: [] }, maxResponseBytes: 1024, defaultTimeoutMs: 1000 },
      llm: { baseUrl: undefined, apiKey: undefined, prices: {}, timeoutMs: 1000 },
      maxArtifactBytes: 1024,
      leaseMs: 30_000,
    });
    const runner = startWorker({
      kind: 'runCommand',
      connection: connectRedis(REDIS_URL, 'worker'),
      prefix,
      concurrency: 4,
      logger: silent,
      handler: createRunJobHandler(models, deps, fairShare),
    });
    closers.push(
      () => runner.close(),
      () => runQueue.close(),
    );
  }
  const resolveEvents = openQueueEvents('resolve', connectRedis(REDIS_URL, 'worker'), prefix);
  const runEvents = openQueueEvents('runCommand', connectRedis(REDIS_URL, 'worker'), prefix);
  await Promise.all([resolveEvents.waitUntilReady(), runEvents.waitUntilReady()]);
  const queues = {
    resolve: new JobQueue('resolve', client, prefix),
    runCommand: new JobQueue('runCommand', client, prefix),
    maintenance: new JobQueue('maintenance', client, prefix),
    migration: new JobQueue('migration', client, prefix),
    webhookDelivery: new JobQueue('webhookDelivery', client, prefix),
    deletion: new JobQueue('deletion', client, prefix),
  };
  closers.push(
    () => resolveEvents.close(),
    () => runEvents.close(),
    () => queues.resolve.close(),
    () => queues.runCommand.close(),
    () => queues.maintenance.close(),
    () => queues.migration.close(),
    () => queues.webhookDelivery.close(),
    () => queues.deletion.close(),
  );
  const adminToken = randomBytes(16).toString('hex');
  const server = createGatewayApp({
    mongo,
    redis: client,
    queuePrefix: prefix,
    models,
    logger: silent,
    queues,
    resolveEvents,
    runEvents,
    notifications: new RunNotifications(connectRedis(REDIS_URL, 'worker'), prefix),
    shutdown: new AbortController().signal,
    settings: {
      adminToken,
      maxJsonBodyBytes: 2 ** 20,
      maxUploadBytes: 50 * 2 ** 20,
      sseHeartbeatMs: 15_000,
      rateLimit: { limit: 0, windowMs: 60_000 },
    },
    probes: [],
    isDraining: () => false,
  }).listen(0, '127.0.0.1');
  await once(server, 'listening');
  const base = `http://127.0.0.1:${server.address().port}`;

  const user = await (
    await fetch(`${base}/v1/admin/users`, {
      method: 'POST',
      headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'bench', email: 'bench@example.com' }),
    })
  ).json();

  return {
    base,
    models,
    apiKey: user.api_key,
    /** A JSON call as the bench user; throws on an error status. */
    call: jsonCaller(base, user.api_key),
    async close() {
      server.closeAllConnections();
      server.close();
      for (const close of closers) await close();
      await mongo.dropDatabase();
      await mongo.close();
    },
  };
}

export function medianOf(values) {
  return [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
}
