import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { setTimeout as delay } from 'node:timers/promises';
import type { AddressInfo } from 'node:net';
import {
  ConfigError,
  JobQueue,
  openQueueEvents,
  connectMongo,
  connectRedis,
  createLogger,
  createModels,
  ensureIndexes,
  exitOnSignals,
  gatewayEnvSchema,
  openConfiguredSecrets,
  parseEnv,
  pingMongo,
  pingRedis,
  startHeartbeat,
} from '@stepwise/shared/node';
import { createGatewayApp } from './app.js';
import { createHttpServer } from './http/server.js';
import { RunNotifications } from './runs/run-notifications.js';

function loadConfig() {
  try {
    return parseEnv(gatewayEnvSchema, process.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`gateway: ${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
}

const config = loadConfig();
const logger = createLogger({ service: 'gateway', level: config.LOG_LEVEL });

const mongo = await connectMongo(config.MONGO_URL, {
  retryForMs: 60_000,
  logger,
  commandLog: config.MONGO_COMMAND_LOG
    ? { file: config.MONGO_COMMAND_LOG, service: 'gateway' }
    : undefined,
});
const models = createModels(mongo);
await ensureIndexes(models);
// Before serving: a master key that is not the database's stops the gateway here (or rotates).
const secrets = await openConfiguredSecrets('gateway', models, config, logger);
const redisOptions = { cluster: config.REDIS_CLUSTER, logger };
const redis = connectRedis(config.REDIS_URL, 'client', redisOptions);
// The checks every request makes, auto-pipelined: concurrent requests' reads share writes.
const requestRedis = connectRedis(config.REDIS_URL, 'client', {
  ...redisOptions,
  autoPipelining: true,
});
const queues = {
  resolve: new JobQueue('resolve', redis, config.QUEUE_PREFIX),
  runCommand: new JobQueue('runCommand', redis, config.QUEUE_PREFIX),
  maintenance: new JobQueue('maintenance', redis, config.QUEUE_PREFIX),
  migration: new JobQueue('migration', redis, config.QUEUE_PREFIX),
  webhookDelivery: new JobQueue('webhookDelivery', redis, config.QUEUE_PREFIX),
  deletion: new JobQueue('deletion', redis, config.QUEUE_PREFIX),
};
// Job completions and run announcements arrive on blocking connections of their own.
const resolveEvents = openQueueEvents(
  'resolve',
  connectRedis(config.REDIS_URL, 'worker', redisOptions),
  config.QUEUE_PREFIX,
);
const runEvents = openQueueEvents(
  'runCommand',
  connectRedis(config.REDIS_URL, 'worker', redisOptions),
  config.QUEUE_PREFIX,
);
const subscriber = connectRedis(config.REDIS_URL, 'worker', redisOptions);
const notifications = new RunNotifications(subscriber, config.QUEUE_PREFIX);
const shutdown = new AbortController();

let draining = false;
const app = createGatewayApp({
  mongo,
  redis,
  requestRedis,
  queuePrefix: config.QUEUE_PREFIX,
  models,
  logger,
  queues,
  resolveEvents,
  runEvents,
  notifications,
  shutdown: shutdown.signal,
  settings: {
    adminToken: config.ADMIN_TOKEN,
    ...(config.PUBLIC_URL === undefined ? {} : { publicUrl: config.PUBLIC_URL }),
    webAppDir:
      config.WEB_APP_DIR ?? fileURLToPath(new URL('../../../apps/web/dist', import.meta.url)),
    people: {
      invitationTtlMs: config.INVITATION_TTL_MS,
      sessionIdleMs: config.SESSION_IDLE_MS,
      sessionMaxMs: config.SESSION_MAX_MS,
    },
    rateLimit: { limit: config.RATE_LIMIT_PER_WINDOW, windowMs: config.RATE_LIMIT_WINDOW_MS },
    authFailureLimit: {
      limit: config.AUTH_FAILURES_PER_WINDOW,
      windowMs: config.AUTH_FAILURE_WINDOW_MS,
      exemptAddresses: config.AUTH_FAILURES_EXEMPT_ADDRESSES,
    },
    outboundAllowedHosts: config.OUTBOUND_ALLOWED_HOSTS,
    maxJsonBodyBytes: config.MAX_JSON_BODY_BYTES,
    maxUploadBytes: config.MAX_UPLOAD_BYTES,
    maxRunImportBytes: config.MAX_RUN_IMPORT_BYTES,
    maxFileUploadBytes: config.MAX_FILE_UPLOAD_BYTES,
    sseHeartbeatMs: config.SSE_HEARTBEAT_MS,
    retentionDefaults: {
      delete_finished_runs_after_days: config.RETENTION_DELETE_FINISHED_RUNS_AFTER_DAYS ?? null,
      export_before_delete: config.RETENTION_EXPORT_BEFORE_DELETE,
      delete_artifacts_after_days: config.RETENTION_DELETE_ARTIFACTS_AFTER_DAYS ?? null,
    },
  },
  isDraining: () => draining,
  secrets,
  probes: [
    { name: 'mongo', check: () => pingMongo(mongo) },
    {
      name: 'redis',
      check: async () => {
        await Promise.all([pingRedis(redis), pingRedis(requestRedis)]);
      },
    },
  ],
});

// Listen once Redis answers (or after a minute without it, when /readyz says why): a gateway that
// announces itself before its Redis client is connected would refuse its first requests with 503.
const unready = [redis, requestRedis].filter((client) => client.status !== 'ready');
if (unready.length > 0) {
  const timeout = new AbortController();
  await Promise.race([
    Promise.all(
      unready.map((client) =>
        once(client, 'ready', { signal: timeout.signal }).catch(() => undefined),
      ),
    ),
    delay(60_000, undefined, { signal: timeout.signal }).catch(() => undefined),
  ]);
  timeout.abort();
}

const server = createHttpServer(app, {
  headersMs: config.HTTP_HEADERS_TIMEOUT_MS,
  requestMs: config.HTTP_REQUEST_TIMEOUT_MS,
  keepAliveMs: config.HTTP_KEEP_ALIVE_TIMEOUT_MS,
}).listen(config.PORT, config.HOST);
await once(server, 'listening');
const address = server.address() as AddressInfo;
logger.info({ host: address.address, port: address.port }, 'gateway listening');

const stopHeartbeat = config.HEARTBEAT_FILE
  ? startHeartbeat(config.HEARTBEAT_FILE, () => !draining && server.listening)
  : () => undefined;

exitOnSignals({
  logger,
  timeoutMs: config.SHUTDOWN_TIMEOUT_MS,
  async stop() {
    draining = true;
    shutdown.abort();
    stopHeartbeat();
    // Stop accepting; idle keep-alive sockets are closed, requests in flight finish first.
    const closed = new Promise<void>((resolve, reject) =>
      server.close((error) => (error ? reject(error) : resolve())),
    );
    // A keep-alive socket turns idle once its last response is sent; close those as they appear.
    const reaper = setInterval(() => server.closeIdleConnections(), 100);
    server.closeIdleConnections();
    await closed.finally(() => clearInterval(reaper));
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
    requestRedis.disconnect();
    await mongo.close();
  },
});
