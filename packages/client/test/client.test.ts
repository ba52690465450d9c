import { describe, expect, it } from 'vitest';
import { exampleBundle } from '../../../test/support/bundles.js';
import { useTestDatabases } from '../../../test/support/databases.js';
import {
  createTestUser,
  startTestGateway,
  startTestResolver,
} from '../../../test/support/gateway.js';
import { createStepwiseClient, serializeBody, withStatus } from '../src/index.js';

/**
 * The client at run time, against the real gateway: what it sends (bearer token, media types,
 * bytes as they are) and how withStatus reports answers. What it lets you write is proved at
 * compile time by src/usage-checks.ts.
 */

const db = await useTestDatabases('client');
const gateway = await startTestGateway(db);
await startTestResolver(db);
const { api_key: apiKey } = await createTestUser(gateway, 'client_user');

/** A client whose fetch records what it sent. */
function recordingClient(key = apiKey) {
  const sent: { contentType: string | null; authorization: string | null; size: number }[] = [];
  const client = createStepwiseClient({
    baseUrl: gateway.url,
    apiKey: key,
    fetch: async (request) => {
      const copy = request.clone();
      sent.push({
        contentType: copy.headers.get('content-type'),
        authorization: copy.headers.get('authorization'),
        size: (await copy.arrayBuffer()).byteLength,
      });
      return fetch(request);
    },
  });
  return { client, sent };
}

function workflowJson(workflowId: string) {
  return {
    workflow_id: workflowId,
    steps: [
      {
        step_id: 'only',
        modules: [
          {
            module_id: 'transform.set',
            name: 'set',
            inputs: { value: 1 },
            outputs_to_state: { value: 'x' },
          },
        ],
      },
    ],
  };
}

describe('the Stepwise client', () => {
  it('sends the API key as a bearer token', async () => {
    const { client, sent } = recordingClient();
    const outcome = withStatus(await client.GET('/v1/me'));
    expect(outcome.status).toBe(200);
    expect(outcome.body).toMatchObject({ user: { username: 'client_user' } });
    expect(sent[0]?.authorization).toBe(`Bearer ${apiKey}`);
  });

  it('uploads a zip from a Uint8Array as application/zip, and tells 201 from 200', async () => {
    const { client, sent } = recordingClient();
    const zip = new Uint8Array(await exampleBundle({ date: new Date(Date.UTC(2024, 0, 1)) }));
    const first = withStatus(await client.POST('/v1/workflows', { body: zip }));
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({ source_type: 'zip', created: true });
    expect(sent[0]).toMatchObject({ contentType: 'application/zip', size: zip.byteLength });

    const again = withStatus(await client.POST('/v1/workflows', { body: zip }));
    expect(again.status).toBe(200);
    expect(again.body).toEqual({ ...first.body, created: false });
  });

  it('sends a Blob with the Content-Type the caller names', async () => {
    const { client, sent } = recordingClient();
    const bytes = await exampleBundle({ folder: 'pet-clips' });
    const outcome = withStatus(
      await client.POST('/v1/workflows', {
        body: new Blob([new Uint8Array(bytes)]),
        headers: { 'content-type': 'application/x-zip-compressed' },
      }),
    );
    expect(outcome.status).toBeLessThan(300);
    expect(outcome.body).toMatchObject({ source_type: 'zip' });
    expect(sent[0]?.contentType).toBe('application/x-zip-compressed');
  });

  it('sends a JSON workflow as JSON, and answers 202 {job_id} when asked not to wait', async () => {
    const { client, sent } = recordingClient();
    const created = withStatus(
      await client.POST('/v1/workflows', { body: workflowJson('client_json') }),
    );
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ source_type: 'json', created: true });
    expect(sent[0]?.contentType).toBe('application/json');

    const pending = withStatus(
      await client.POST('/v1/workflows', {
        body: workflowJson('client_later'),
        params: { query: { wait: 'false' } },
      }),
    );
    expect(pending.status).toBe(202);
    expect(pending.body).toEqual({ job_id: expect.stringMatching(/^job_/) });
  });

  it('reports an error answer with its status and envelope', async () => {
    const { client } = recordingClient('sk_not_a_key');
    const outcome = withStatus(await client.GET('/v1/me'));
    expect(outcome.status).toBe(401);
    expect(outcome.body).toMatchObject({ error: { code: 'UNAUTHENTICATED' } });
  });

  it('answers no body for a 204', async () => {
    const { client } = recordingClient();
    const issued = await client.POST('/v1/me/keys');
    const keyId = issued.data?.key_id ?? '';
    const outcome = withStatus(
      await client.DELETE('/v1/me/keys/{key_id}', { params: { path: { key_id: keyId } } }),
    );
    expect(outcome).toMatchObject({ status: 204, body: undefined });
  });
});

describe('the body serializer', () => {
  it('keeps bytes as they are, typed by the header, the Blob, or application/zip', async () => {
    const bytes = new Uint8Array([0x50, 0x4b, 0x05, 0x06, 0xff, 0x00]);
    const plain = serializeBody(bytes);
    if (!(plain instanceof Blob)) throw new Error('bytes must leave the serializer as a Blob');
    expect(plain.type).toBe('application/zip');
    expect(new Uint8Array(await plain.arrayBuffer())).toEqual(bytes);

    const named = serializeBody(bytes, new Headers({ 'content-type': 'application/json' }));
    expect(named instanceof Blob && named.type).toBe('application/json');
    const own = serializeBody(new Blob([bytes], { type: 'application/x-zip-compressed' }));
    expect(own instanceof Blob && own.type).toBe('application/x-zip-compressed');
  });

  it('serializes anything else as JSON', () => {
    expect(serializeBody({ a: [1, 'b'] })).toBe('{"a":[1,"b"]}');
  });
});
