import { z } from 'zod';
import {
  errorCatalog,
  errorEnvelopeSchema,
  jsonSchemaOverrides,
  jsonValueJsonSchema,
  type ErrorCode,
} from '@stepwise/shared';
import { idempotencyKeySchema, type RouteDefinition } from './route-builder.js';
import { impliedErrorCodes, responseHeaders, type ResponseSpec } from './responses.js';
import { linksOf } from './openapi-links.js';

type JsonSchema = Record<string, unknown>;
type RouteSpec = RouteDefinition['spec'];

/**
 * Named schemas (zod `.meta({id})`) become `components.schemas` entries, shared by every operation
 * that uses them, so a generated client has one `Run` type rather than a copy per route.
 */
class SchemaComponents {
  private readonly output: Record<string, JsonSchema> = {};
  private readonly input: Record<string, JsonSchema> = {};

  convert(schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
    const converted = z.toJSONSchema(schema, {
      io,
      unrepresentable: 'any',
      target: 'draft-2020-12',
      // Rules zod cannot express in JSON Schema, stated where the schema was declared.
      override: ({ zodSchema, jsonSchema }) => jsonSchemaOverrides.get(zodSchema)?.(jsonSchema),
    }) as JsonSchema;
    delete converted['$schema'];
    return this.hoist(converted, io);
  }

  /** Moves `$defs` into the components and points their references there. */
  private hoist(converted: JsonSchema, io: 'input' | 'output'): JsonSchema {
    const defs = (converted['$defs'] ?? {}) as Record<string, JsonSchema>;
    delete converted['$defs'];
    // Input references are placeholders until `schemas()` knows whether the input form of a
    // named schema differs from its output form (defaults make fields optional on the way in).
    const target = io === 'input' ? `${INPUT_REF}` : '#/components/schemas/';
    const rewrite = (value: unknown): unknown => {
      if (Array.isArray(value)) return value.map(rewrite);
      if (typeof value !== 'object' || value === null) return value;
      return Object.fromEntries(
        Object.entries(value).map(([key, inner]) =>
          key === '$ref' && typeof inner === 'string' && inner.startsWith('#/$defs/')
            ? [key, `${target}${inner.slice('#/$defs/'.length)}`]
            : [key, rewrite(inner)],
        ),
      );
    };
    for (const [name, def] of Object.entries(defs)) {
      const { id: _id, ...rest } = rewrite(def) as JsonSchema;
      (io === 'input' ? this.input : this.output)[name] = rest;
    }
    return rewrite(converted) as JsonSchema;
  }

  /** The final component names of input schemas: their own, or `<name>Input` when they differ. */
  private inputNames(): Map<string, string> {
    const names = new Map<string, string>();
    for (const [name, schema] of Object.entries(this.input)) {
      const output = this.output[name];
      const same =
        output === undefined ||
        JSON.stringify(output) ===
          JSON.stringify(schema).replaceAll(INPUT_REF, '#/components/schemas/');
      names.set(name, same ? name : `${name}Input`);
    }
    return names;
  }

  /** Replaces input placeholders in `value` (a document or a part of one) with final references. */
  resolve<T>(value: T): T {
    const names = this.inputNames();
    // INPUT_REF holds no character special to a regular expression.
    const pattern = new RegExp(`"${INPUT_REF}([^"]+)"`, 'g');
    return JSON.parse(
      JSON.stringify(value).replace(
        pattern,
        (_m, name: string) => `"#/components/schemas/${names.get(name) ?? name}"`,
      ),
    ) as T;
  }

  schemas(): Record<string, JsonSchema> {
    const names = this.inputNames();
    const all: Record<string, JsonSchema> = { ...this.output };
    for (const [name, schema] of Object.entries(this.input)) all[names.get(name) ?? name] = schema;
    return this.resolve(all);
  }
}

const INPUT_REF = '#/components/schemas/~input~/';

/** `/v1/runs/:id` → `/v1/runs/{id}` */
export function openApiPath(expressPath: string): string {
  return expressPath.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
}

export function operationIdOf(spec: Pick<RouteSpec, 'method' | 'path'>): string {
  const path = openApiPath(spec.path);
  return `${spec.method}${path.replace(/[{}]/g, '').replace(/[^A-Za-z0-9]+(.)?/g, (_m, c: string | undefined) => (c ?? '').toUpperCase())}`;
}

function parameters(
  components: SchemaComponents,
  schema: z.ZodType | undefined,
  location: 'path' | 'query',
) {
  if (!schema) return [];
  const converted = components.convert(schema, 'input') as {
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

/**
 * Headers on every answer: the request id, and `Cache-Control` (`no-store`, unless the route sets
 * its own). helmet's security headers (CSP, X-Frame-Options, …) are on every answer too; being the
 * same everywhere and meaningless to a client, they are named in the document's description.
 */
const everyAnswer = ['X-Request-Id', 'Cache-Control'] as const;

function headerRefs(extra: readonly string[]) {
  const names = [...new Set([...everyAnswer, ...extra])];
  return Object.fromEntries(
    names.map((name) => [name, { $ref: `#/components/headers/${name.replace(/-/g, '')}` }]),
  );
}

function successResponse(components: SchemaComponents, response: ResponseSpec) {
  const headers = headerRefs(response.headers ?? []);
  switch (response.kind) {
    case 'empty':
      return { description: response.description, headers };
    case 'raw':
      return {
        description: response.description,
        headers,
        content: { [response.mediaType]: { schema: response.schema } },
      };
    case 'json':
      return {
        description: response.description,
        headers,
        content: {
          'application/json': {
            schema: components.convert(response.body, 'output'),
            ...(response.example === undefined ? {} : { example: response.example }),
          },
        },
      };
  }
}

/** The error answers of a route, one per status, each naming the codes it can carry. */
function errorResponses(spec: RouteSpec) {
  const codes = new Set<ErrorCode>([
    ...impliedErrorCodes(spec.auth, spec.method),
    ...(spec.errors ?? []),
  ]);
  if (spec.upload) codes.add('UNSUPPORTED_MEDIA_TYPE');
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of codes) {
    const status = errorCatalog[code].status;
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  return Object.fromEntries(
    [...byStatus.entries()]
      .sort(([a], [b]) => a - b)
      .map(([status, statusCodes]) => [
        String(status),
        {
          description: statusCodes
            .map((code) => `\`${code}\`: ${errorCatalog[code].meaning}`)
            .join('; '),
          headers: headerRefs([
            ...(status === 401 ? ['WWW-Authenticate'] : []),
            ...(status === 429 ? ['Retry-After'] : []),
            ...(status === 416 ? ['Content-Range'] : []),
          ]),
          content: {
            'application/json': { schema: { $ref: '#/components/schemas/ErrorEnvelope' } },
          },
        },
      ]),
  );
}

function requestBody(components: SchemaComponents, spec: RouteSpec) {
  if (spec.upload) {
    const { upload } = spec;
    return {
      required: !upload.optional,
      content: Object.fromEntries(
        upload.mediaTypes.map((type) => [
          type,
          {
            schema:
              type === 'application/json' && upload.jsonSchema
                ? components.convert(upload.jsonSchema, 'input')
                : { type: 'string', format: 'binary', contentMediaType: type },
            ...(type === 'application/json' && spec.bodyExample !== undefined
              ? { example: spec.bodyExample }
              : {}),
          },
        ]),
      ),
    };
  }
  if (!spec.body) return undefined;
  return {
    required: true,
    content: {
      'application/json': {
        schema: components.convert(spec.body, 'input'),
        ...(spec.bodyExample === undefined ? {} : { example: spec.bodyExample }),
      },
    },
  };
}

function operationOf(components: SchemaComponents, spec: RouteSpec, routes: readonly RouteSpec[]) {
  const body = requestBody(components, spec);
  const responses = Object.fromEntries(
    Object.entries(spec.responses).map(([status, response]) => {
      const described: Record<string, unknown> = successResponse(components, response);
      const links = response.kind === 'json' ? linksOf(response.body, routes, operationIdOf) : {};
      if (Object.keys(links).length > 0) described['links'] = links;
      return [status, described];
    }),
  );
  return {
    operationId: operationIdOf(spec),
    summary: spec.summary,
    parameters: [
      ...parameters(components, spec.params, 'path'),
      ...parameters(components, spec.query, 'query'),
      ...(spec.headers ?? []).map((header) => ({
        name: header.name,
        in: 'header',
        required: false,
        description: header.description,
        schema: components.convert(header.schema, 'input'),
      })),
      ...(spec.idempotent
        ? [
            {
              name: 'Idempotency-Key',
              in: 'header',
              required: false,
              schema: components.convert(idempotencyKeySchema, 'input'),
              description: idempotencyKeySchema.description,
            },
          ]
        : []),
    ],
    ...(spec.auth === 'none'
      ? { security: [] }
      : { security: [{ [spec.auth === 'admin' ? 'adminToken' : 'apiKey']: [] }] }),
    ...(body ? { requestBody: body } : {}),
    responses: { ...responses, ...errorResponses(spec) },
  };
}

/**
 * The OpenAPI 3.1 document of the routes the gateway serves, generated from the same declarations
 * that validate their requests and send their answers, so the two cannot drift apart.
 */
export function buildOpenApiDocument(routes: readonly RouteDefinition[], version: string) {
  const components = new SchemaComponents();
  const specs = routes.map((route) => route.spec);
  const paths: Record<string, Record<string, unknown>> = {};
  for (const spec of specs) {
    (paths[openApiPath(spec.path)] ??= {})[spec.method] = operationOf(components, spec, specs);
  }
  return components.resolve({
    openapi: '3.1.0',
    info: {
      title: 'Stepwise',
      version,
      description:
        'Multi-tenant server for human-in-the-loop workflows. Every error answers the envelope in components.schemas.ErrorEnvelope; a known path called with a method it does not serve answers 405 METHOD_NOT_ALLOWED with an Allow header. Every answer also carries security headers (Content-Security-Policy, X-Content-Type-Options, X-Frame-Options, Referrer-Policy, Cross-Origin-Resource-Policy, Cross-Origin-Opener-Policy, Strict-Transport-Security) that are the same everywhere.',
    },
    servers: [{ url: '/' }],
    paths,
    components: {
      securitySchemes: {
        apiKey: { type: 'http', scheme: 'bearer', description: 'A user API key (sk_…)' },
        adminToken: { type: 'http', scheme: 'bearer', description: 'The ADMIN_TOKEN' },
      },
      schemas: {
        ...components.schemas(),
        JsonValue: jsonValueJsonSchema,
        ErrorEnvelope: components.convert(errorEnvelopeSchema, 'output'),
      },
      headers: Object.fromEntries(
        Object.entries(responseHeaders).map(([name, description]) => [
          name.replace(/-/g, ''),
          { description, schema: { type: 'string' } },
        ]),
      ),
    },
  });
}
