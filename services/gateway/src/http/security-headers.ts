import type { NextFunction, Request, Response } from 'express';
import helmet, { type HelmetOptions } from 'helmet';

/**
 * Headers for a JSON API that no browser should render, frame, sniff or cache. They go on every
 * response, errors and 404s included, because they are set before any route runs.
 */
const apiHelmetOptions: HelmetOptions = {
  // Nothing the API sends is a document: no script, style, image or frame may load from it,
  // which also defuses an HTML artifact opened straight from /v1/artifacts/…/content.
  contentSecurityPolicy: {
    useDefaults: false,
    directives: { 'default-src': ["'none'"], 'frame-ancestors': ["'none'"] },
  },
  xFrameOptions: { action: 'deny' },
  referrerPolicy: { policy: 'no-referrer' },
  crossOriginResourcePolicy: { policy: 'same-origin' },
  crossOriginOpenerPolicy: { policy: 'same-origin' },
  // Browsers only honour it over HTTPS (i.e. behind a TLS proxy); subdomains are not ours to pin.
  strictTransportSecurity: { maxAge: 31_536_000, includeSubDomains: false },
};

/**
 * The bull-board dashboard is a React app served from its own static files: it may run its own
 * scripts and nothing else. Its styles include inline `style` attributes and a `<style>` block,
 * hence 'unsafe-inline' for styles only (no script can be injected through it), and it loads the
 * IBM Plex fonts from Google Fonts, which are allowed so that it looks as designed. Everything
 * else the API's policy says holds here too.
 */
const dashboardDirectives = {
  'default-src': ["'self'"],
  'script-src': ["'self'"],
  'style-src': ["'self'", "'unsafe-inline'", 'https://fonts.googleapis.com'],
  'font-src': ["'self'", 'data:', 'https://fonts.gstatic.com'],
  'img-src': ["'self'", 'data:'],
  'connect-src': ["'self'"],
  'object-src': ["'none'"],
  'base-uri': ["'self'"],
  'form-action': ["'self'"],
  'frame-ancestors': ["'none'"],
};

export type Middleware = (req: Request, res: Response, next: NextFunction) => void;

/**
 * Security headers for every response, plus `Cache-Control: no-store`. That goes on everything,
 * not only on authenticated answers: a cached /healthz or /readyz would report a past state, a
 * cached /metrics stale numbers, and a cached error a failure that has gone; none of them is worth
 * caching. A route that wants revalidation (artifact content, with its ETag) or streams (SSE) sets
 * its own Cache-Control, which replaces this one.
 */
export function apiSecurityHeaders(): Middleware {
  const headers = helmet(apiHelmetOptions);
  return (req, res, next) => {
    res.setHeader('Cache-Control', 'no-store');
    headers(req, res, next);
  };
}

/** Replaces the API's Content-Security-Policy with one under which the dashboard can run. */
export function dashboardContentSecurityPolicy(): Middleware {
  return helmet.contentSecurityPolicy({ useDefaults: false, directives: dashboardDirectives });
}

/**
 * The web app (`/app`): its own scripts and styles only, no inline script (people.md). Images
 * and media may come from anywhere over http(s): a select option's `image` or a `display` item
 * is a URL the workflow chose. It talks to nothing but this server.
 */
const webAppDirectives = {
  'default-src': ["'self'"],
  'script-src': ["'self'"],
  'style-src': ["'self'"],
  'img-src': ["'self'", 'data:', 'blob:', 'https:', 'http:'],
  'media-src': ["'self'", 'blob:', 'https:', 'http:'],
  'font-src': ["'self'"],
  'connect-src': ["'self'"],
  'object-src': ["'none'"],
  'base-uri': ["'self'"],
  'form-action': ["'self'"],
  'frame-ancestors': ["'none'"],
};

/** Replaces the API's Content-Security-Policy with the web app's. */
export function webAppContentSecurityPolicy(): Middleware {
  return helmet.contentSecurityPolicy({ useDefaults: false, directives: webAppDirectives });
}
