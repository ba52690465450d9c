import express, { type NextFunction, type Request, type Response } from 'express';
import type { QueueEvents } from 'bullmq';
import type { Connection } from 'mongoose';
import { MAX_UPLOAD_BYTES, StepwiseError, type RetentionPolicy } from '@stepwise/shared';
import {
  FairShare,
  authFailureDefaults,
  type JobQueue,
  type Logger,
  type Models,
  type SecretStore,
} from '@stepwise/shared/node';
import { mapError } from './http/error-mapping.js';
import { createAuthenticator } from './http/authentication.js';
import { requestContextMiddleware, requestContextOf } from './http/request-context.js';
import type { RedisClient } from '@stepwise/shared/node';
import { buildOpenApiDocument } from './http/openapi.js';
import { createMetrics, type GatewayMetrics } from './http/metrics.js';
import { createQueueDashboard, DASHBOARD_PATH } from './http/queue-dashboard.js';
import { WEB_APP_PATH, webAppRouter } from './http/web-app.js';
import {
  createAuthFailureLimiter,
  createRateLimiter,
  RateLimitedError,
  type AuthFailureLimiter,
  type AuthFailureLimitSettings,
  type RateLimitSettings,
} from './http/rate-limit.js';
import { apiSecurityHeaders } from './http/security-headers.js';
import { defineRoute, mountRoutes, type RouteDefinition } from './http/route-builder.js';
import { json, raw } from './http/responses.js';
import { z } from 'zod';
import { AuthEpochs } from './accounts/key-cache.js';
import { accountRoutes } from './routes/accounts.js';
import { inboxRoutes } from './routes/inbox.js';
import { migrationRoutes } from './routes/migrations.js';
import { peopleRoutes } from './routes/people.js';
import { SessionStore } from './people/sessions.js';
import { healthRoutes, type ReadinessProbe } from './routes/health.js';
import { runRoutes } from './routes/runs.js';
import { deletionRoutes } from './routes/deletions.js';
import { keepEverything } from './deletions/retention-policies.js';
import { DEFAULT_MAX_RUN_IMPORT_BYTES, runArchiveRoutes } from './routes/run-archives.js';
import { secretRoutes } from './routes/secrets.js';
import { webhookRoutes } from './routes/webhooks.js';
import { workflowRoutes } from './routes/workflows.js';
import type { RunNotifications } from './runs/run-notifications.js';

export interface GatewayQueues {
  resolve: JobQueue<'resolve'>;
  runCommand: JobQueue<'runCommand'>;
  maintenance: JobQueue<'maintenance'>;
  migration: JobQueue<'migration'>;
  webhookDelivery: JobQueue<'webhookDelivery'>;
  deletion: JobQueue<'deletion'>;
}

export interface GatewaySettings {
  adminToken: string;
  rateLimit: RateLimitSettings;
  /** Failed authentications per client address or key prefix; AUTH_FAILURES_* when absent. */
  authFailureLimit?: AuthFailureLimitSettings;
  maxJsonBodyBytes: number;
  maxUploadBytes: number;
  /** RETENTION_*: the retention policy of users without their own; keep everything when absent. */
  retentionDefaults?: RetentionPolicy;
  /** MAX_RUN_IMPORT_BYTES: the largest run archive an import takes; its default when absent. */
  maxRunImportBytes?: number;
  /** MAX_FILE_UPLOAD_BYTES; without it, only each user.file_input question's own limit. */
  maxFileUploadBytes?: number;
  sseHeartbeatMs: number;
  /** The built web app (apps/web/dist) served at /app; not served when absent. */
  webAppDir?: string;
  /** PUBLIC_URL: where people reach the app; links that leave the server need it. */
  publicUrl?: string;
  /** INVITATION_TTL_MS, SESSION_IDLE_MS, SESSION_MAX_MS; their defaults when absent. */
  people?: { invitationTtlMs: number; sessionIdleMs: number; sessionMaxMs: number };
  /** OUTBOUND_ALLOWED_HOSTS: webhook URLs follow api.fetch's outbound rules; none when absent. */
  outboundAllowedHosts?: readonly string[];
}

const peopleDefaults = {
  invitationTtlMs: 72 * 3_600_000,
  sessionIdleMs: 12 * 3_600_000,
  sessionMaxMs: 14 * 24 * 3_600_000,
};

/** What the routes share with the authenticator: sessions, and the failed-sign-in counter. */
interface SharedAuthentication {
  sessions: SessionStore;
  authFailures: AuthFailureLimiter;
  epochs: AuthEpochs;
}

export interface GatewayDependencies {
  mongo: Connection;
  /** A non-blocking Redis connection for the gateway's own commands (rate limits, metrics). */
  redis: RedisClient;
  /**
   * The connection of the checks every request makes (authentication, rate limits, sessions),
   * when it should be another: the gateway's main passes one with auto-pipelining, so that the
   * reads of concurrent requests share writes. `redis` when absent.
   */
  requestRedis?: RedisClient;
  queuePrefix: string;
  models: Models;
  logger: Logger;
  queues: GatewayQueues;
  resolveEvents: QueueEvents;
  runEvents: QueueEvents;
  notifications: RunNotifications;
  settings: GatewaySettings;
  /** Aborted when the gateway begins to shut down (ends open event streams). */
  shutdown: AbortSignal;
  probes: readonly ReadinessProbe[];
  isDraining: () => boolean;
  /** Users' secrets; null or absent without SECRETS_MASTER_KEY (the secret routes then refuse). */
  secrets?: SecretStore | null;
}

export function gatewayRoutes(
  deps: GatewayDependencies,
  metrics: GatewayMetrics,
  authentication: SharedAuthentication,
): RouteDefinition[] {
  const people = deps.settings.people ?? peopleDefaults;
  const routes: RouteDefinition[] = [
    ...healthRoutes({ probes: deps.probes, isDraining: deps.isDraining }),
    defineRoute(
      {
        method: 'get',
        path: '/metrics',
        summary: 'Prometheus metrics: HTTP latency, queue depth, job durations, events, runs',
        auth: 'none',
        responses: {
          200: raw('text/plain', { type: 'string' }, 'Prometheus text exposition format 0.0.4'),
        },
        errors: ['UNAVAILABLE'],
      },
      async ({ res }) => {
        const text = await metrics.registry.metrics();
        res.status(200).type(metrics.registry.contentType).send(text);
        return { status: 200, sent: true };
      },
    ),
    ...accountRoutes(deps.models, authentication.epochs),
    ...peopleRoutes({
      models: deps.models,
      sessions: authentication.sessions,
      authFailures: authentication.authFailures,
      publicUrl: deps.settings.publicUrl,
      invitationTtlMs: people.invitationTtlMs,
      sessionMaxMs: people.sessionMaxMs,
    }),
    ...inboxRoutes(deps),
    ...workflowRoutes({
      mongo: deps.mongo,
      models: deps.models,
      resolveQueue: deps.queues.resolve,
      resolveEvents: deps.resolveEvents,
      jobQueues: [deps.queues.resolve.queue],
      maxUploadBytes: deps.settings.maxUploadBytes,
    }),
    ...migrationRoutes({
      mongo: deps.mongo,
      models: deps.models,
      migrationQueue: deps.queues.migration,
    }),
    ...secretRoutes({ models: deps.models, secrets: deps.secrets ?? null }),
    ...webhookRoutes({
      models: deps.models,
      destinations: { allowedHosts: deps.settings.outboundAllowedHosts ?? [] },
    }),
    ...runArchiveRoutes({
      mongo: deps.mongo,
      models: deps.models,
      maxImportBytes: deps.settings.maxRunImportBytes ?? DEFAULT_MAX_RUN_IMPORT_BYTES,
    }),
    ...deletionRoutes({
      models: deps.models,
      deletionQueue: deps.queues.deletion,
      epochs: authentication.epochs,
      sessions: authentication.sessions,
      retentionDefaults: deps.settings.retentionDefaults ?? keepEverything,
    }),
    ...runRoutes({
      fairShare: new FairShare(deps.redis, deps.queuePrefix),
      mongo: deps.mongo,
      models: deps.models,
      logger: deps.logger,
      runQueue: deps.queues.runCommand,
      runEvents: deps.runEvents,
      notifications: deps.notifications,
      sseHeartbeatMs: deps.settings.sseHeartbeatMs,
      shutdown: deps.shutdown,
      resolveQueue: deps.queues.resolve,
      resolveEvents: deps.resolveEvents,
      maxUploadBytes: deps.settings.maxUploadBytes,
      maxFileUploadBytes: deps.settings.maxFileUploadBytes ?? MAX_UPLOAD_BYTES,
    }),
  ];
  // The document describes every route, itself included: built on first request, once all exist.
  let document: ReturnType<typeof buildOpenApiDocument> | undefined;
  routes.push(
    defineRoute(
      {
        method: 'get',
        path: '/openapi.json',
        summary: 'This API as an OpenAPI 3.1 document',
        auth: 'none',
        responses: {
          200: json(
            z.looseObject({ openapi: z.string(), paths: z.record(z.string(), z.unknown()) }),
            'The OpenAPI 3.1 document',
          ),
        },
      },
      async () => ({
        status: 200,
        body: (document ??= buildOpenApiDocument(routes, API_VERSION)),
      }),
    ),
  );
  return routes;
}

const API_VERSION = '1.0.0';

/** The HTTP API as an express app, over connections the caller owns (and closes). */
export function createGatewayApp(deps: GatewayDependencies): express.Express {
  const app = express();
  app.disable('x-powered-by');
  // No automatic weak ETags on JSON answers: they would make express answer 304 to a client that
  // sends If-None-Match, a status the routes do not declare (and a run read with wait=true must
  // never be "not modified"). Artifact bytes set their own strong ETag and declare their 304.
  app.set('etag', false);
  app.set('query parser', 'simple');
  const metrics = createMetrics({
    models: deps.models,
    redis: deps.redis,
    queuePrefix: deps.queuePrefix,
    queues: [
      deps.queues.resolve.queue,
      deps.queues.runCommand.queue,
      deps.queues.maintenance.queue,
      deps.queues.migration.queue,
      deps.queues.webhookDelivery.queue,
      deps.queues.deletion.queue,
    ],
    queueEvents: [
      { queue: deps.queues.resolve.queue, events: deps.resolveEvents },
      { queue: deps.queues.runCommand.queue, events: deps.runEvents },
    ],
  });
  app.use(requestContextMiddleware(deps.logger, metrics.observeRequest));
  app.use(apiSecurityHeaders());

  const requestRedis = deps.requestRedis ?? deps.redis;
  const authFailures = createAuthFailureLimiter(
    requestRedis,
    deps.queuePrefix,
    deps.settings.authFailureLimit ?? {
      limit: authFailureDefaults.limit,
      windowMs: authFailureDefaults.windowMs,
    },
    deps.logger,
  );
  app.use(
    DASHBOARD_PATH,
    createQueueDashboard(
      [
        deps.queues.resolve.queue,
        deps.queues.runCommand.queue,
        deps.queues.maintenance.queue,
        deps.queues.migration.queue,
        deps.queues.webhookDelivery.queue,
        deps.queues.deletion.queue,
      ],
      deps.settings.adminToken,
      authFailures,
    ),
  );

  if (deps.settings.webAppDir) app.use(WEB_APP_PATH, webAppRouter(deps.settings.webAppDir));

  const people = deps.settings.people ?? peopleDefaults;
  const sessions = new SessionStore(requestRedis, deps.queuePrefix, {
    idleMs: people.sessionIdleMs,
    maxMs: people.sessionMaxMs,
  });
  const router = express.Router();
  const epochs = new AuthEpochs(requestRedis, deps.queuePrefix);
  mountRoutes(router, gatewayRoutes(deps, metrics, { sessions, authFailures, epochs }), {
    authenticate: createAuthenticator({
      models: deps.models,
      adminToken: deps.settings.adminToken,
      epochs,
      gate: createRateLimiter(requestRedis, deps.queuePrefix, deps.settings.rateLimit, deps.logger),
      failures: authFailures,
      sessions: { store: sessions, publicUrl: deps.settings.publicUrl },
    }),
    maxJsonBodyBytes: deps.settings.maxJsonBodyBytes,
  });
  app.use(router);

  app.use((req: Request, _res: Response, next: NextFunction) => {
    next(new StepwiseError('NOT_FOUND', `no route for ${req.method} ${req.path}`));
  });

  // Express recognises an error handler by its four parameters.
  app.use((error: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const context = requestContextOf(res);
    const mapped = mapError(error);
    if (mapped.unexpected) context.logger.error({ err: error }, 'unhandled error');
    if (mapped.status === 401) res.setHeader('WWW-Authenticate', 'Bearer');
    if (error instanceof RateLimitedError)
      res.setHeader('Retry-After', String(error.retryAfterSeconds));
    if (res.headersSent) {
      res.end();
      return;
    }
    res.status(mapped.status).json(mapped.envelope);
  });
  return app;
}
