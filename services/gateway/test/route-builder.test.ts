import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import express, { type NextFunction, type Request, type Response } from 'express';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineRoute, mountRoutes, type RouteDefinition } from '../src/http/route-builder.js';
import { buildOpenApiDocument } from '../src/http/openapi.js';
import { mapError } from '../src/http/error-mapping.js';
import { requestContextMiddleware } from '../src/http/request-context.js';
import { empty, json } from '../src/http/responses.js';

/**
 * The route builder sends only what a route declares: a handler that answers an undeclared status
 * (here forced past the type checker, as a bug would get there) is a 500, never a silent
 * contract break; the document lists exactly the declared answers.
 */

const reply = z.object({ ok: z.boolean() });
const routes: RouteDefinition[] = [
  defineRoute(
    {
      method: 'get',
      path: '/declared',
      summary: 'answers 200 or 202 as asked',
      auth: 'none',
      query: z.strictObject({ accepted: z.enum(['yes', 'no']).optional() }),
      responses: { 200: json(reply, 'done'), 202: json(reply, 'accepted') },
      errors: ['NOT_FOUND'],
    },
    async ({ query }) =>
      query.accepted === 'yes'
        ? { status: 202, body: { ok: false } }
        : { status: 200, body: { ok: true } },
  ),
  defineRoute(
    {
      method: 'delete',
      path: '/declared',
      summary: 'answers a status it does not declare',
      auth: 'none',
      responses: { 204: empty('gone') },
    },
    // The cast stands for a bug: the types would refuse `201` here.
    async () => ({ status: 201 }) as unknown as { status: 204 },
  ),
];

const app = express();
app.use(requestContextMiddleware(pino({ level: 'silent' })));
const router = express.Router();
mountRoutes(router, routes, {
  authenticate: async () => ({ kind: 'admin' }),
  maxJsonBodyBytes: 1024,
});
app.use(router);
app.use((error: unknown, _req: Request, res: Response, _next: NextFunction) => {
  const mapped = mapError(error);
  res.status(mapped.status).json(mapped.envelope);
});
const server = app.listen(0, '127.0.0.1');
await once(server, 'listening');
const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

describe('the route builder', () => {
  it('sends each declared status with its body', async () => {
    const done = await fetch(`${base}/declared`);
    expect([done.status, await done.json()]).toEqual([200, { ok: true }]);
    const accepted = await fetch(`${base}/declared?accepted=yes`);
    expect([accepted.status, await accepted.json()]).toEqual([202, { ok: false }]);
  });

  it('refuses, as a 500, a status the route does not declare', async () => {
    const answer = await fetch(`${base}/declared`, { method: 'DELETE' });
    expect(answer.status).toBe(500);
    expect(((await answer.json()) as { error: { code: string } }).error.code).toBe('INTERNAL');
  });

  it('answers 405 with Allow for a declared path and another method', async () => {
    const answer = await fetch(`${base}/declared`, { method: 'PUT' });
    expect(answer.status).toBe(405);
    expect(answer.headers.get('allow')).toBe('GET, HEAD, DELETE');
  });

  it('documents exactly the declared answers and the implied errors', () => {
    const document = buildOpenApiDocument(routes, 'test');
    const get = document.paths['/declared']?.['get'] as { responses: Record<string, unknown> };
    expect(Object.keys(get.responses).sort()).toEqual(['200', '202', '400', '404', '413', '415']);
    // The headers every answer carries are declared on every answer, errors included.
    for (const status of ['200', '404']) {
      const answer = get.responses[status] as { headers: Record<string, unknown> };
      expect(Object.keys(answer.headers)).toEqual(['X-Request-Id', 'Cache-Control']);
    }
    const remove = document.paths['/declared']?.['delete'] as {
      responses: Record<string, unknown>;
    };
    expect(Object.keys(remove.responses).sort()).toEqual(['204', '400', '413', '415']);
  });
});
