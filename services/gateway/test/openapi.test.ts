import { readFileSync } from 'node:fs';
import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
import { useTestDatabases } from '../../../test/support/databases.js';
import { startTestGateway } from '../../../test/support/gateway.js';
import { createGatewayApp } from '../src/app.js';

const db = await useTestDatabases('openapi');
const gateway = await startTestGateway(db);

interface OpenApi {
  openapi: string;
  components: Record<string, unknown>;
  paths: Record<
    string,
    Record<
      string,
      {
        requestBody?: { content: Record<string, { schema: unknown }> };
        parameters: { name: string; in: string }[];
        security: unknown[];
      }
    >
  >;
}

async function document(): Promise<OpenApi> {
  const response = await gateway.request('/openapi.json');
  expect(response.status).toBe(200);
  return (await response.json()) as OpenApi;
}

/** Every (method, path) the express app answers, read off its router. */
function servedRoutes(): string[] {
  const app = createGatewayApp(gateway.deps) as unknown as {
    router: {
      stack: {
        route?: { path: string; methods: Record<string, boolean> };
        handle?: { stack?: { route?: { path: string; methods: Record<string, boolean> } }[] };
      }[];
    };
  };
  const served: string[] = [];
  for (const layer of app.router.stack) {
    for (const inner of layer.handle?.stack ?? (layer.route ? [layer] : [])) {
      if (!inner.route) continue;
      // `_all`: the 405 answer of a known path called with another method, not an operation.
      for (const method of Object.keys(inner.route.methods).filter((m) => m !== '_all'))
        served.push(`${method} ${inner.route.path.replace(/:([A-Za-z0-9_]+)/g, '{$1}')}`);
    }
  }
  return served.sort();
}

describe('the OpenAPI document', () => {
  it('lists every route the gateway serves, and nothing else', async () => {
    const doc = await document();
    expect(doc.openapi).toBe('3.1.0');
    const documented = Object.entries(doc.paths)
      .flatMap(([path, operations]) => Object.keys(operations).map((method) => `${method} ${path}`))
      .sort();
    expect(documented).toEqual(servedRoutes());
    expect(documented).toContain('post /v1/runs/{id}/interactions/{interaction_id}');
  });

  it('describes parameters and bodies from the validating schemas', async () => {
    const doc = await document();
    const interaction = doc.paths['/v1/runs/{id}/interactions/{interaction_id}']?.['post'];
    expect(interaction?.parameters.map((p) => `${p.in}:${p.name}`)).toEqual([
      'path:id',
      'path:interaction_id',
      'query:wait_ms',
      'header:Idempotency-Key',
    ]);
    expect(interaction?.security).toEqual([{ apiKey: [] }]);
    expect(doc.paths['/healthz']?.['get']?.security).toEqual([]);
    expect(doc.paths['/v1/admin/users']?.['post']?.security).toEqual([{ adminToken: [] }]);
    expect(Object.keys(doc.paths['/v1/workflows']?.['post']?.requestBody?.content ?? {})).toEqual([
      'application/zip',
      'application/x-zip-compressed',
      'application/json',
    ]);
  });

  it('accepts the request bodies the README shows', async () => {
    const doc = await document();
    const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8').replace(
      /\\\n\s*/g,
      ' ',
    );
    const ajv = new Ajv({ strict: false, allErrors: true });
    const examples = [
      ...readme.matchAll(
        /curl [^\n]*?-X (POST|PUT|PATCH) localhost:8080(\/[^\s]+) [^\n]*?-d '([^']+)'/g,
      ),
    ];
    expect(examples.length).toBeGreaterThanOrEqual(3);
    for (const [, method, rawPath, body] of examples) {
      const path = (rawPath ?? '').replace(/run_…/g, '{id}').replace(/int_…/g, '{interaction_id}');
      const operation = doc.paths[path]?.[(method ?? '').toLowerCase()];
      expect(operation, `${method} ${path} is documented`).toBeDefined();
      const schema = operation?.requestBody?.content['application/json']?.schema;
      // Named schemas are referenced as #/components/schemas/…: resolve them against the document.
      const validate = ajv.compile({ ...(schema as object), components: doc.components });
      expect(
        validate(JSON.parse(body ?? '')),
        `${method} ${path}: ${ajv.errorsText(validate.errors)}`,
      ).toBe(true);
    }
  });
});
