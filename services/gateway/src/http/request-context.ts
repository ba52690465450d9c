import { randomUUID } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import type { UserRecord } from '@stepwise/shared';
import type { Logger } from '@stepwise/shared/node';

/**
 * Who is calling. A user comes with an API key (programs) or a signed-in session (people); the
 * session's public id is not its cookie's secret.
 */
export type UserCaller = {
  kind: 'user';
  user: UserRecord;
  keyId: string | null;
  sessionId: string | null;
};
export type Caller = UserCaller | { kind: 'admin' };

/** What the gateway knows about the request in flight; kept in `res.locals`. */
export interface RequestContext {
  requestId: string;
  correlationId: string | null;
  caller: Caller | null;
  logger: Logger;
  /** When the request arrived (ms since the epoch): `wait_ms` counts from here. */
  receivedAt: number;
  /** The declared route that took the request (null until one matches, or none does). */
  operation: { method: string; path: string } | null;
}

const clientIdPattern = /^[A-Za-z0-9._:-]{1,128}$/;

export function requestContextOf(res: Response): RequestContext {
  return res.locals['stepwise'] as RequestContext;
}

/**
 * Assigns the request id (the client's `X-Request-Id` when well-formed), echoes it, and writes one
 * log line per request when the response ends.
 */
export function requestContextMiddleware(
  logger: Logger,
  observe: (method: string, route: string, status: number, seconds: number) => void = () =>
    undefined,
) {
  return (req: Request, res: Response, next: NextFunction) => {
    const offered = req.get('x-request-id');
    const requestId = offered && clientIdPattern.test(offered) ? offered : randomUUID();
    const correlation = req.get('x-correlation-id');
    const context: RequestContext = {
      requestId,
      correlationId: correlation && clientIdPattern.test(correlation) ? correlation : null,
      caller: null,
      logger: logger.child({ request_id: requestId }),
      receivedAt: Date.now(),
      operation: null,
    };
    res.locals['stepwise'] = context;
    res.setHeader('X-Request-Id', requestId);
    const started = performance.now();
    res.on('finish', () => {
      const caller = context.caller;
      const route = (req.route as { path?: string } | undefined)?.path ?? 'unmatched';
      observe(req.method, route, res.statusCode, (performance.now() - started) / 1000);
      context.logger.info(
        {
          method: req.method,
          path: req.path,
          route: (req.route as { path?: string } | undefined)?.path ?? null,
          status: res.statusCode,
          duration_ms: Math.round((performance.now() - started) * 100) / 100,
          user_id: caller?.kind === 'user' ? caller.user.user_id : null,
          correlation_id: context.correlationId,
        },
        'request',
      );
    });
    next();
  };
}
