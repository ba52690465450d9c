import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { errorEnvelopeSchema } from '@stepwise/shared';
import {
  connectMongo,
  connectRedis,
  createModels,
  pingMongo,
  pingRedis,
} from '@stepwise/shared/node';
import { useTestDatabases } from '../../../test/support/databases.js';
import { startDisposableRedis } from '../../../test/support/disposable-redis.js';
import { startTestGateway } from '../../../test/support/gateway.js';

const db = await useTestDatabases('readiness');

describe('health and readiness', () => {
  it('/healthz answers while the process is up', async () => {
    const gateway = await startTestGateway(db);
    const response = await gateway.request('/healthz');
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: 'ok' });
  });

  it('/readyz is 200 with both stores up and 503 in the envelope once Redis stops', async () => {
    const redisServer = await startDisposableRedis();
    const redis = connectRedis(redisServer.url, 'client');
    await once(redis, 'ready');
    const gateway = await startTestGateway(db, {
      probes: [
        { name: 'mongo', check: () => pingMongo(db.mongo) },
        { name: 'redis', check: () => pingRedis(redis) },
      ],
    });
    const ready = await gateway.request('/readyz');
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready', checks: { mongo: 'ok', redis: 'ok' } });

    await redisServer.stop();
    await sleep(100);
    const down = await gateway.request('/readyz');
    expect(down.status).toBe(503);
    const body = errorEnvelopeSchema.parse(await down.json());
    expect(body.error.code).toBe('UNAVAILABLE');
    expect(body.error.details).toEqual([{ path: 'redis', message: expect.any(String) }]);
    redis.disconnect();
  });

  it('/readyz is 503 naming mongo when MongoDB cannot be reached', async () => {
    // A connection that was open and lost its server behaves like this one: commands fail fast.
    const lost = await connectMongo(db.mongoUrl);
    await lost.close();
    const gateway = await startTestGateway(db, {
      probes: [
        { name: 'mongo', check: () => pingMongo(lost) },
        { name: 'redis', check: () => pingRedis(db.redis) },
      ],
    });
    const down = await gateway.request('/readyz');
    expect(down.status).toBe(503);
    const body = errorEnvelopeSchema.parse(await down.json());
    expect(body.error.details).toEqual([{ path: 'mongo', message: expect.any(String) }]);
  });

  it('/readyz is 503 while the gateway drains', async () => {
    const gateway = await startTestGateway(db, { isDraining: () => true });
    const response = await gateway.request('/readyz');
    expect(response.status).toBe(503);
    expect(errorEnvelopeSchema.parse(await response.json()).error.code).toBe('UNAVAILABLE');
  });

  it('a request that needs MongoDB while it is unreachable is 503 UNAVAILABLE, not 500', async () => {
    const lost = await connectMongo(db.mongoUrl);
    await lost.close();
    const gateway = await startTestGateway(db, { models: createModels(lost) });
    const response = await gateway.request('/v1/me', { token: 'sk_anything' });
    expect(response.status).toBe(503);
    expect(errorEnvelopeSchema.parse(await response.json()).error.code).toBe('UNAVAILABLE');
  });
});
