import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Worker } from 'bullmq';
import { afterAll } from 'vitest';
import { pino } from 'pino';
import { createModuleCatalog } from '@stepwise/shared';
import {
  JobQueue,
  connectRedis,
  declarationsOf,
  loadPluginModules,
  openQueueEvents,
  pingMongo,
  pingRedis,
  startWorker,
} from '@stepwise/shared/node';
import { recordContractStatuses } from './contract-statuses.js';
import { createGatewayApp, type GatewayDependencies } from '../../services/gateway/src/app.js';
import { RunNotifications } from '../../services/gateway/src/runs/run-notifications.js';
import {
  createResolveHandler,
  type ResolverDependencies,
} from '../../services/resolver/src/resolve-submission.js';
import type { TestDatabases } from './databases.js';
import { testSecretStore } from './secrets.js';

export const TEST_ADMIN_TOKEN = 'test-admin-token-0123456789';

export interface TestGateway {
  url: string;
  /** `fetch` against the gateway, with a bearer token when one is given. */
  request: (
    path: string,
    init?: RequestInit & { token?: string; json?: unknown },
  ) => Promise<Response>;
  close: () => Promise<void>;
  deps: GatewayDependencies;
}

const silent = pino({ level: 'silent' });

/** Serves the real gateway app over real HTTP on a free loopback port, on the file's databases. */
export async function startTestGateway(
  databases: TestDatabases,
  overrides: Partial<Omit<GatewayDependencies, 'settings'>> & {
    settings?: Partial<GatewayDependencies['settings']>;
  } = {},
): Promise<TestGateway> {
  const redis = connectRedis(databases.redisUrl, 'client');
  const queues = {
    resolve: new JobQueue('resolve', redis, databases.queuePrefix),
    runCommand: new JobQueue('runCommand', redis, databases.queuePrefix),
    maintenance: new JobQueue('maintenance', redis, databases.queuePrefix),
    migration: new JobQueue('migration', redis, databases.queuePrefix),
    webhookDelivery: new JobQueue('webhookDelivery', redis, databases.queuePrefix),
    deletion: new JobQueue('deletion', redis, databases.queuePrefix),
  };
  const resolveEvents = openQueueEvents(
    'resolve',
    connectRedis(databases.redisUrl, 'worker'),
    databases.queuePrefix,
  );
  const runEvents = openQueueEvents(
    'runCommand',
    connectRedis(databases.redisUrl, 'worker'),
    databases.queuePrefix,
  );
  const subscriber = connectRedis(databases.redisUrl, 'worker');
  const shutdown = new AbortController();
  await Promise.all([resolveEvents.waitUntilReady(), runEvents.waitUntilReady()]);
  const { settings, ...rest } = overrides;
  const deps: GatewayDependencies = {
    mongo: databases.mongo,
    redis,
    queuePrefix: databases.queuePrefix,
    models: databases.models,
    logger: silent,
    queues,
    resolveEvents,
    runEvents,
    notifications: new RunNotifications(subscriber, databases.queuePrefix),
    shutdown: shutdown.signal,
    settings: {
      adminToken: TEST_ADMIN_TOKEN,
      rateLimit: { limit: 0, windowMs: 60_000 },
      maxJsonBodyBytes: 64 * 1024,
      maxUploadBytes: 20 * 1024 * 1024,
      sseHeartbeatMs: 1_000,
      ...settings,
    },
    isDraining: () => false,
    probes: [
      { name: 'mongo', check: () => pingMongo(databases.mongo) },
      { name: 'redis', check: () => pingRedis(databases.redis) },
    ],
    // Under the test master key unless a test passes its own store (or null: no secrets).
    secrets: 'secrets' in rest ? null : await testSecretStore(databases.models),
    ...rest,
  };
  // Listening first, so that PUBLIC_URL can default to the address the gateway really has.
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  if (!('publicUrl' in (settings ?? {}))) deps.settings.publicUrl = url;
  server.on('request', createGatewayApp(deps));
  recordContractStatuses(server);
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    shutdown.abort();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await Promise.all([
      queues.resolve.close(),
      queues.runCommand.close(),
      queues.maintenance.close(),
      queues.webhookDelivery.close(),
      queues.deletion.close(),
      resolveEvents.close(),
      runEvents.close(),
    ]);
    subscriber.disconnect();
    redis.disconnect();
  };
  afterAll(close);
  return {
    url,
    close,
    deps,
    request: requestTo(url),
  };
}

/** `TestGateway.request` for a gateway at `url` (in this process or another). */
export function requestTo(url: string): TestGateway['request'] {
  return (path, init = {}) => {
    const { token, json, ...requestInit } = init;
    const headers = new Headers(requestInit.headers);
    if (token !== undefined) headers.set('authorization', `Bearer ${token}`);
    if (json !== undefined) headers.set('content-type', 'application/json');
    return fetch(`${url}${path}`, {
      ...requestInit,
      headers,
      ...(json === undefined ? {} : { body: JSON.stringify(json) }),
    });
  };
}

export const testBundleLimits = {
  maxEntries: 200,
  maxUncompressedBytes: 30 * 1024 * 1024,
  maxCompressionRatio: 100,
};

export const testPluginPath = new URL('../fixtures/test-plugin.mjs', import.meta.url).pathname;

/** A resolver worker in this process, on the file's databases and queue prefix. */
export async function startTestResolver(
  databases: TestDatabases,
  overrides: Partial<Omit<ResolverDependencies, 'mongo' | 'models'>> = {},
): Promise<Worker> {
  const plugins = await loadPluginModules([testPluginPath]);
  const worker = startWorker({
    kind: 'resolve',
    connection: connectRedis(databases.redisUrl, 'worker'),
    prefix: databases.queuePrefix,
    concurrency: 4,
    logger: silent,
    handler: createResolveHandler({
      mongo: databases.mongo,
      models: databases.models,
      catalog: createModuleCatalog(declarationsOf(plugins)),
      inlineLimitBytes: 4 * 1024 * 1024,
      limits: testBundleLimits,
      ...overrides,
    }),
  });
  afterAll(() => worker.close());
  return worker;
}

/** Creates a user through the admin route and returns its key. */
export async function createTestUser(gateway: TestGateway, username: string) {
  const response = await gateway.request('/v1/admin/users', {
    method: 'POST',
    token: TEST_ADMIN_TOKEN,
    json: { username, email: `${username}@example.com` },
  });
  if (response.status !== 201)
    throw new Error(`creating ${username}: ${response.status} ${await response.text()}`);
  return (await response.json()) as { user: { user_id: string }; key_id: string; api_key: string };
}
