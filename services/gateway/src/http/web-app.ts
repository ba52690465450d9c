import { existsSync } from 'node:fs';
import { join } from 'node:path';
import express, { type Router } from 'express';
import { StepwiseError } from '@stepwise/shared';
import { webAppContentSecurityPolicy } from './security-headers.js';

export const WEB_APP_PATH = '/app';

/**
 * Serves the built web app (apps/web, `npm run build`) at /app. Vite names every asset by its
 * content hash, so assets are cached for ever; index.html is never cached, so a new build is
 * picked up at the next load. Any other path under /app is a page of the app (client-side
 * routes): it gets index.html too.
 */
export function webAppRouter(directory: string): Router {
  const router = express.Router();
  router.use(webAppContentSecurityPolicy());
  // The API's `no-store` (set for every answer before routing) must not reach the app's files:
  // serve-static leaves a Cache-Control it finds in place, which would make the hashed assets
  // uncacheable.
  router.use((_req, res, next) => {
    res.removeHeader('Cache-Control');
    next();
  });
  const index = join(directory, 'index.html');
  router.use(
    '/assets',
    express.static(join(directory, 'assets'), {
      immutable: true,
      maxAge: '365d',
      index: false,
    }),
  );
  // A missing asset is a 404, never the index page (a script tag must not get HTML).
  router.use('/assets', (req, _res, next) => {
    next(new StepwiseError('NOT_FOUND', `no asset ${req.path}`));
  });
  router.use(express.static(directory, { index: false, maxAge: 0 }));
  router.get(/.*/, (_req, res, next) => {
    if (!existsSync(index)) {
      next(
        new StepwiseError(
          'NOT_FOUND',
          `the web app is not built (no ${index}); run npm run build, or set WEB_APP_DIR`,
        ),
      );
      return;
    }
    res.setHeader('Cache-Control', 'no-cache');
    res.sendFile(index);
  });
  return router;
}
