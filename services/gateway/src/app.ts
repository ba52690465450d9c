import express, { type NextFunction, type Request, type Response } from 'express';
import { StepwiseError } from '@stepwise/shared';
import type { Logger, Models } from '@stepwise/shared/node';
import { mapError } from './http/error-mapping.js';
import { createAuthenticator } from './http/authentication.js';
import { requestContextMiddleware, requestContextOf } from './http/request-context.js';
import { mountRoutes, type RouteDefinition } from './http/route-builder.js';
import { accountRoutes } from './routes/accounts.js';
import { healthRoutes, type ReadinessProbe } from './routes/health.js';

export interface GatewayDependencies {
  models: Models;
  logger: Logger;
  adminToken: string;
  maxJsonBodyBytes: number;
  probes: readonly ReadinessProbe[];
  isDraining: () => boolean;
}

export function gatewayRoutes(deps: GatewayDependencies): RouteDefinition[] {
  return [
    ...healthRoutes({ probes: deps.probes, isDraining: deps.isDraining }),
    ...accountRoutes(deps.models),
  ];
}

/** The HTTP API as an express app, over connections the caller owns (and closes). */
export function createGatewayApp(deps: GatewayDependencies): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');
  app.use(requestContextMiddleware(deps.logger));
  app.use(express.json({ limit: deps.maxJsonBodyBytes, type: 'application/json', strict: true }));

  const router = express.Router();
  mountRoutes(router, gatewayRoutes(deps), createAuthenticator(deps.models, deps.adminToken));
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
    if (res.headersSent) {
      res.end();
      return;
    }
    res.status(mapped.status).json(mapped.envelope);
  });
  return app;
}
