import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import type { Queue } from 'bullmq';
import express, { type NextFunction, type Request, type Response } from 'express';
import { secretsEqual } from '../accounts/keys.js';
import { authAttemptOf, noAuthFailureLimit } from './authentication.js';
import { refuseDeclaredOversize } from './body-limits.js';
import type { AuthFailureLimiter } from './rate-limit.js';
import { dashboardContentSecurityPolicy } from './security-headers.js';

export const DASHBOARD_PATH = '/admin/queues';

function basicPassword(req: Request): string | null {
  const header = req.get('authorization') ?? '';
  const match = /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(header);
  if (!match?.[1]) return null;
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon < 0 ? null : decoded.slice(colon + 1);
}

/**
 * HTTP Basic for the browser: any user name, the admin token as password. A wrong password counts
 * as a failed authentication, like a wrong bearer token: the dashboard is another door to the
 * admin token, and must not be a faster one to guess at.
 */
function basicAuth(adminToken: string, failures: AuthFailureLimiter) {
  const challenge = (res: Response) => {
    res.setHeader('WWW-Authenticate', 'Basic realm="Stepwise queues", charset="UTF-8"');
    res.status(401).json({
      error: {
        code: 'UNAUTHENTICATED',
        message: 'the queue dashboard needs HTTP Basic with the admin token as password',
      },
    });
  };
  return (req: Request, res: Response, next: NextFunction) => {
    const password = basicPassword(req);
    // The browser's first request carries no credentials and expects the challenge.
    if (password === null) return challenge(res);
    const attempt = authAttemptOf(req, password);
    failures
      .check(attempt)
      .then(async () => {
        if (secretsEqual(password, adminToken)) return next();
        await failures.recordFailure(attempt);
        challenge(res);
      })
      .catch(next);
  };
}

/** bull-board parses its own JSON bodies with express.json's default limit. */
const DASHBOARD_BODY_LIMIT_BYTES = 100 * 1024;

/**
 * The bull-board dashboard over every queue, as a separate express app: it is a browser UI with
 * assets of its own, not part of the JSON API (and not in the OpenAPI document). Its errors go on
 * to the gateway's error handler, so they answer in the API's envelope.
 */
export function createQueueDashboard(
  queues: readonly Queue[],
  adminToken: string,
  failures: AuthFailureLimiter = noAuthFailureLimit,
): express.Express {
  const serverAdapter = new ExpressAdapter();
  serverAdapter.setBasePath(DASHBOARD_PATH);
  createBullBoard({
    queues: queues.map((queue) => new BullMQAdapter(queue, { readOnlyMode: false })),
    serverAdapter,
    options: { uiConfig: { boardTitle: 'Stepwise queues' } },
  });
  // The adapter's "router" is an express app of its own, which would announce itself again.
  const board = serverAdapter.getRouter() as express.Express;
  board.disable('x-powered-by');
  const dashboard = express();
  dashboard.disable('x-powered-by');
  dashboard.use(
    dashboardContentSecurityPolicy(),
    basicAuth(adminToken, failures),
    refuseDeclaredOversize(DASHBOARD_BODY_LIMIT_BYTES),
    board,
  );
  return dashboard;
}
