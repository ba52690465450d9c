import { describe, expect, it } from 'vitest';
import { errorEnvelopeSchema } from '@stepwise/shared';
import { useTestDatabases } from '../../../test/support/databases.js';
import { TEST_ADMIN_TOKEN, startTestGateway } from '../../../test/support/gateway.js';

const db = await useTestDatabases('envelope');
const gateway = await startTestGateway(db);

async function expectEnvelope(response: Response, status: number, code: string) {
  expect(response.status).toBe(status);
  expect(response.headers.get('content-type')).toMatch(/^application\/json/);
  const body = errorEnvelopeSchema.parse(await response.json());
  expect(body.error.code).toBe(code);
  return body;
}

const adminPost = (body: string, contentType = 'application/json') =>
  gateway.request('/v1/admin/users', {
    method: 'POST',
    token: TEST_ADMIN_TOKEN,
    headers: { 'content-type': contentType },
    body,
  });

describe('every failure answers in the error envelope', () => {
  it('malformed JSON is 400 BAD_REQUEST', async () => {
    await expectEnvelope(await adminPost('{"username": "a",'), 400, 'BAD_REQUEST');
  });

  it('a body over the limit is 413 PAYLOAD_TOO_LARGE', async () => {
    const huge = JSON.stringify({
      username: 'a',
      email: 'a@example.com',
      pad: 'x'.repeat(100 * 1024),
    });
    await expectEnvelope(await adminPost(huge), 413, 'PAYLOAD_TOO_LARGE');
  });

  it('a body that is not JSON is 415 UNSUPPORTED_MEDIA_TYPE', async () => {
    await expectEnvelope(
      await adminPost('username=a', 'application/x-www-form-urlencoded'),
      415,
      'UNSUPPORTED_MEDIA_TYPE',
    );
    await expectEnvelope(await adminPost('{}', 'text/plain'), 415, 'UNSUPPORTED_MEDIA_TYPE');
  });

  it('an unsupported charset is 415', async () => {
    await expectEnvelope(
      await adminPost('{}', 'application/json; charset=latin-9000'),
      415,
      'UNSUPPORTED_MEDIA_TYPE',
    );
  });

  it('unknown paths are 404 NOT_FOUND; a known path with another method is 405 with Allow', async () => {
    await expectEnvelope(await gateway.request('/v1/nothing-here'), 404, 'NOT_FOUND');
    await expectEnvelope(await gateway.request('/'), 404, 'NOT_FOUND');
    const wrongMethod = await gateway.request('/healthz', { method: 'DELETE' });
    expect(wrongMethod.headers.get('allow')).toBe('GET, HEAD');
    await expectEnvelope(wrongMethod, 405, 'METHOD_NOT_ALLOWED');
    const runs = await gateway.request('/v1/runs', { method: 'PUT' });
    expect(runs.headers.get('allow')).toBe('POST, GET, HEAD');
    await expectEnvelope(runs, 405, 'METHOD_NOT_ALLOWED');
    // Before authentication: the answer depends on the path alone, so it reveals nothing.
    const key = await gateway.request('/v1/me/keys/key_000000000000000000000000', {
      method: 'GET',
    });
    expect(key.headers.get('allow')).toBe('DELETE');
    await expectEnvelope(key, 405, 'METHOD_NOT_ALLOWED');
    // A path without parameters is itself even where a parameter's path would match it: GET
    // /v1/runs/import is the import's 405, not a request for a run whose id is "import".
    for (const method of ['GET', 'DELETE']) {
      const imports = await gateway.request('/v1/runs/import', { method });
      expect(imports.headers.get('allow')).toBe('POST');
      await expectEnvelope(imports, 405, 'METHOD_NOT_ALLOWED');
    }
  });

  it('unknown query parameters are 400', async () => {
    await expectEnvelope(await gateway.request('/healthz?verbose=1'), 400, 'BAD_REQUEST');
  });

  it('integers in a query are plain decimal digits; 1e1, 0x10, 1.0 are refused', async () => {
    const user = await gateway.request('/v1/admin/users', {
      method: 'POST',
      token: TEST_ADMIN_TOKEN,
      json: { username: 'integers', email: 'integers@example.com' },
    });
    const { api_key: key } = (await user.json()) as { api_key: string };
    expect((await gateway.request('/v1/runs?limit=10', { token: key })).status).toBe(200);
    for (const limit of ['1e1', '0x10', '1.0', '%207', '-1', '', '10abc', '0', '101']) {
      const body = await expectEnvelope(
        await gateway.request(`/v1/runs?limit=${limit}`, { token: key }),
        400,
        'BAD_REQUEST',
      );
      expect(body.error.details, limit).toEqual([expect.objectContaining({ path: 'query.limit' })]);
    }
  });

  it('a path parameter that cannot be decoded is a params error, not a body one', async () => {
    const body = await expectEnvelope(
      await gateway.request('/v1/runs/%E0%A4%A', { token: TEST_ADMIN_TOKEN }),
      400,
      'BAD_REQUEST',
    );
    expect(body.error.details).toEqual([expect.objectContaining({ path: 'params' })]);
  });
});

describe('request ids', () => {
  it('every response carries X-Request-Id, errors included', async () => {
    const ok = await gateway.request('/healthz');
    const failed = await gateway.request('/v1/me');
    expect(ok.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    expect(failed.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    expect(ok.headers.get('x-request-id')).not.toBe(failed.headers.get('x-request-id'));
  });

  it("keeps a client's well-formed id and replaces a hostile one", async () => {
    const kept = await gateway.request('/healthz', {
      headers: { 'x-request-id': 'client-abc.123' },
    });
    expect(kept.headers.get('x-request-id')).toBe('client-abc.123');
    const replaced = await gateway.request('/healthz', {
      headers: { 'x-request-id': 'a b <script>' },
    });
    expect(replaced.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('does not advertise the framework', async () => {
    expect((await gateway.request('/healthz')).headers.get('x-powered-by')).toBeNull();
  });
});
