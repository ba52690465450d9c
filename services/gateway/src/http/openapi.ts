import { z } from 'zod';
import { errorCatalog, errorEnvelopeSchema } from '@stepwise/shared';
import { idempotencyKeySchema, type RouteDefinition } from './route-builder.js';

type JsonSchema = Record<string, unknown>;

function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
  const converted = z.toJSONSchema(schema, {
    io,
    unrepresentable: 'any',
    target: 'draft-2020-12',
  }) as JsonSchema;
  delete converted['$schema'];
  return converted;
}

/** `/v1/runs/:id` → `/v1/runs/{id}` */
export function openApiPath(expressPath: string): string {
  return expressPath.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
}

function parameters(schema: z.ZodType | undefined, location: 'path' | 'query') {
  if (!schema) return [];
  const converted = jsonSchema(schema, 'input') as {
    properties?: Record<string, JsonSchema>;
    required?: string[];
  };
  return Object.entries(converted.properties ?? {}).map(([name, property]) => ({
    name,
    in: location,
    required: location === 'path' || (converted.required ?? []).includes(name),
    schema: property,
    ...(typeof property['description'] === 'string'
      ? { description: property['description'] }
      : {}),
  }));
}

const errorStatuses = [...new Set(Object.values(errorCatalog).map((entry) => entry.status))].sort();

/**
 * The OpenAPI 3.1 document of the routes the gateway serves, generated from the same zod schemas
 * that validate their requests, so the two cannot drift apart.
 */
export function buildOpenApiDocument(routes: readonly RouteDefinition[], version: string) {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const { spec } of routes) {
    const path = openApiPath(spec.path);
    const operation: Record<string, unknown> = {
      operationId: `${spec.method}${path.replace(/[{}]/g, '').replace(/[^A-Za-z0-9]+(.)?/g, (_m, c: string | undefined) => (c ?? '').toUpperCase())}`,
      summary: spec.summary,
      parameters: [
        ...parameters(spec.params, 'path'),
        ...parameters(spec.query, 'query'),
        ...(spec.idempotent
          ? [
              {
                name: 'Idempotency-Key',
                in: 'header',
                required: false,
                schema: jsonSchema(idempotencyKeySchema, 'input'),
                description: idempotencyKeySchema.description,
              },
            ]
          : []),
      ],
      ...(spec.auth === 'none'
        ? { security: [] }
        : { security: [{ [spec.auth === 'admin' ? 'adminToken' : 'apiKey']: [] }] }),
      responses: {
        [String(spec.success.status)]: spec.success.body
          ? {
              description: 'Success',
              content: { 'application/json': { schema: jsonSchema(spec.success.body, 'output') } },
            }
          : { description: 'Success' },
        ...Object.fromEntries(
          errorStatuses.map((status) => [String(status), { $ref: '#/components/responses/Error' }]),
        ),
      },
    };
    if (spec.upload) {
      operation['requestBody'] = {
        required: !spec.upload.optional,
        content: Object.fromEntries(
          spec.upload.mediaTypes.map((type) => [
            type,
            {
              schema:
                type === 'application/json'
                  ? { type: 'object' }
                  : { type: 'string', format: 'binary' },
            },
          ]),
        ),
      };
    } else if (spec.body) {
      operation['requestBody'] = {
        required: true,
        content: { 'application/json': { schema: jsonSchema(spec.body, 'input') } },
      };
    }
    (paths[path] ??= {})[spec.method] = operation;
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Stepwise',
      version,
      description:
        'Multi-tenant server for human-in-the-loop workflows. Every error answers the envelope in components.schemas.ErrorEnvelope.',
    },
    servers: [{ url: '/' }],
    paths,
    components: {
      securitySchemes: {
        apiKey: { type: 'http', scheme: 'bearer', description: 'A user API key (sk_…)' },
        adminToken: { type: 'http', scheme: 'bearer', description: 'The ADMIN_TOKEN' },
      },
      schemas: { ErrorEnvelope: jsonSchema(errorEnvelopeSchema, 'output') },
      responses: {
        Error: {
          description: 'An error, with a stable code',
          content: {
            'application/json': { schema: { $ref: '#/components/schemas/ErrorEnvelope' } },
          },
        },
      },
    },
  };
}
