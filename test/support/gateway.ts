import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { afterAll } from 'vitest';
import { pino } from 'pino';
import { pingMongo, pingRedis } from '@stepwise/shared/node';
import { createGatewayApp, type GatewayDependencies } from '../../services/gateway/src/app.js';
import type { TestDatabases } from './databases.js';

export const TEST_ADMIN_TOKEN = 'test-admin-token-0123456789';

export interface TestGateway {
  url: string;
  /** `fetch` against the gateway, with a bearer token when one is given. */
  request: (
    path: string,
    init?: RequestInit & { token?: string; json?: unknown },
  ) => Promise<Response>;
  close: () => Promise<void>;
}

/** Serves the real gateway app over real HTTP on a free loopback port. */
export async function startTestGateway(
  databases: TestDatabases,
  overrides: Partial<GatewayDependencies> = {},
): Promise<TestGateway> {
  const app = createGatewayApp({
    models: databases.models,
    logger: pino({ level: 'silent' }),
    adminToken: TEST_ADMIN_TOKEN,
    maxJsonBodyBytes: 64 * 1024,
    isDraining: () => false,
    probes: [
      { name: 'mongo', check: () => pingMongo(databases.mongo) },
      { name: 'redis', check: () => pingRedis(databases.redis) },
    ],
    ...overrides,
  });
  const server = app.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  const close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  afterAll(close);
  return {
    url,
    close,
    request: (path, init = {}) => {
      const { token, json, ...rest } = init;
      const headers = new Headers(rest.headers);
      if (token !== undefined) headers.set('authorization', `Bearer ${token}`);
      if (json !== undefined) headers.set('content-type', 'application/json');
      return fetch(`${url}${path}`, {
        ...rest,
        headers,
        ...(json === undefined ? {} : { body: JSON.stringify(json) }),
      });
    },
  };
}
