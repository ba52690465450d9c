import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import type { Queue } from 'bullmq';
import express, { type NextFunction, type Request, type Response } from 'express';
import { secretsEqual } from '../accounts/keys.js';

export const DASHBOARD_PATH = '/admin/queues';

/** HTTP Basic for the browser: any user name, the admin token as password. */
function basicAuth(adminToken: string) {
  return (req: Request, res: Response, next: NextFunction) => {
    const header = req.get('authorization') ?? '';
    const match = /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(header);
    const decoded = match?.[1] ? Buffer.from(match[1], 'base64').toString('utf8') : '';
    const password = decoded.slice(decoded.indexOf(':') + 1);
    if (match && decoded.includes(':') && secretsEqual(password, adminToken)) return next();
    res.setHeader('WWW-Authenticate', 'Basic realm="Stepwise queues", charset="UTF-8"');
    res.status(401).json({
      error: {
        code: 'UNAUTHENTICATED',
        message: 'the queue dashboard needs HTTP Basic with the admin token as password',
      },
    });
  };
}

/**
 * The bull-board dashboard over every queue, as a separate express app: it is a browser UI with
 * assets of its own, not part of the JSON API (and not in the OpenAPI document).
 */
export function createQueueDashboard(
  queues: readonly Queue[],
  adminToken: string,
): express.Express {
  const serverAdapter = new ExpressAdapter();
  serverAdapter.setBasePath(DASHBOARD_PATH);
  createBullBoard({
    queues: queues.map((queue) => new BullMQAdapter(queue, { readOnlyMode: false })),
    serverAdapter,
    options: { uiConfig: { boardTitle: 'Stepwise queues' } },
  });
  const dashboard = express();
  dashboard.disable('x-powered-by');
  dashboard.use(basicAuth(adminToken), serverAdapter.getRouter() as express.Router);
  return dashboard;
}
