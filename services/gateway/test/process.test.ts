import { request } from 'node:http';
import { connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { useTestDatabases } from '../../../test/support/databases.js';
import { logRecord, startServiceProcess } from '../../../test/support/processes.js';

const db = await useTestDatabases('gateway_process');
const adminToken = 'process-test-admin-token';

const baseEnv = () => ({
  MONGO_URL: db.mongoUrl,
  REDIS_URL: db.redisUrl,
  QUEUE_PREFIX: db.queuePrefix,
  ADMIN_TOKEN: adminToken,
  HOST: '127.0.0.1',
  PORT: '0',
  LOG_LEVEL: 'info',
});

async function startGatewayProcess() {
  const gateway = startServiceProcess('gateway', baseEnv());
  const listening = logRecord(
    await gateway.waitForLine((line) => line.includes('gateway listening')),
  );
  return { gateway, port: Number(listening?.['port']) };
}

/** Opens a raw connection, writes `data`, and resolves with all it reads until the server closes it. */
function trickle(port: number, data: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(data));
    let received = '';
    socket.on('data', (chunk: Buffer) => (received += chunk.toString('latin1')));
    socket.on('close', () => resolve(received));
    socket.on('error', reject);
  });
}

describe('the gateway process', () => {
  it('drops a client that sends its headers or its body too slowly, with 408', async () => {
    const gateway = startServiceProcess('gateway', {
      ...baseEnv(),
      HTTP_HEADERS_TIMEOUT_MS: '1000',
      HTTP_REQUEST_TIMEOUT_MS: '2000',
    });
    const listening = logRecord(
      await gateway.waitForLine((line) => line.includes('gateway listening')),
    );
    const port = Number(listening?.['port']);
    // Headers begun and never finished: the server closes the socket itself (else this hangs).
    const slowHeaders = await trickle(port, 'GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: 1');
    expect(slowHeaders).toMatch(/^HTTP\/1\.1 408 /);
    // Headers complete, body promised and never sent.
    const slowBody = await trickle(
      port,
      'POST /v1/admin/users HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{',
    );
    expect(slowBody).toMatch(/HTTP\/1\.1 408 /);
    // A prompt client is unaffected.
    expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
    gateway.child.kill('SIGTERM');
    expect(await gateway.exited).toBe(0);
  });

  it('refuses to start with a bad variable and names it', async () => {
    const gateway = startServiceProcess('gateway', { ...baseEnv(), PORT: 'http', ADMIN_TOKEN: '' });
    expect(await gateway.exited).toBe(1);
    const output = gateway.lines.join('\n');
    expect(output).toContain('PORT');
    expect(output).toContain('ADMIN_TOKEN: is required but not set');
  });

  it('serves, logs one line per request without secrets, and exits 0 on SIGTERM', async () => {
    const { gateway, port } = await startGatewayProcess();
    const ready = await fetch(`http://127.0.0.1:${port}/readyz`);
    expect(ready.status).toBe(200);
    const me = await fetch(`http://127.0.0.1:${port}/v1/me`, {
      headers: { authorization: 'Bearer sk_secret_value' },
    });
    expect(me.status).toBe(401);
    const line = await gateway.waitForLine((l) => logRecord(l)?.['status'] === 401);
    expect(logRecord(line)).toMatchObject({
      msg: 'request',
      method: 'GET',
      path: '/v1/me',
      request_id: me.headers.get('x-request-id'),
    });
    gateway.child.kill('SIGTERM');
    expect(await gateway.exited).toBe(0);
    expect(gateway.lines.join('\n')).not.toContain('sk_secret_value');
    expect(gateway.lines.some((l) => logRecord(l)?.['msg'] === 'stopped')).toBe(true);
  });

  it('on SIGTERM finishes a request in flight, then stops accepting', async () => {
    const { gateway, port } = await startGatewayProcess();
    const body = JSON.stringify({ username: 'draining', email: 'draining@example.com' });
    // Send the headers and half the body, signal, then the rest: the request is in flight.
    const answer = new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port,
          method: 'POST',
          path: '/v1/admin/users',
          headers: {
            authorization: `Bearer ${adminToken}`,
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(body),
          },
        },
        (res) => {
          let text = '';
          res.on('data', (chunk: Buffer) => (text += chunk.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
        },
      );
      req.on('error', reject);
      req.write(body.slice(0, 10));
      setTimeout(() => {
        gateway.child.kill('SIGTERM');
        setTimeout(() => req.end(body.slice(10)), 300);
      }, 200);
    });
    const result = await answer;
    expect(result.status).toBe(201);
    expect(JSON.parse(result.text)).toMatchObject({ user: { username: 'draining' } });
    expect(await gateway.exited).toBe(0);
    await expect(fetch(`http://127.0.0.1:${port}/healthz`)).rejects.toThrow();
    expect(await db.models.users.countDocuments({ username: 'draining' })).toBe(1);
  });
});
