import { Agent, request, type IncomingHttpHeaders } from 'node:http';
import { z } from 'zod';
import { errorEnvelopeSchema, httpStatusOf, type ErrorEnvelope } from '@stepwise/shared';

/**
 * The operations a running gateway documents at GET /openapi.json, in a shape tests can iterate.
 * Tests that must cover "every route" enumerate these instead of a hand-written list, so that a
 * route added later is covered (or makes them fail) without anyone remembering to add it.
 */

export type RouteAuth = 'none' | 'user' | 'admin';
export type HttpMethod = 'get' | 'post' | 'put' | 'patch' | 'delete';

/** A JSON Schema as the document carries it (zod's draft 2020-12 output); only what tests read. */
export interface JsonSchema {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: boolean | JsonSchema;
  items?: JsonSchema;
  enum?: unknown[];
  const?: unknown;
  pattern?: string;
  format?: string;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  default?: unknown;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
}

const jsonSchemaSchema: z.ZodType<JsonSchema> = z.lazy(() =>
  z.looseObject({
    type: z.union([z.string(), z.array(z.string())]).optional(),
    properties: z.record(z.string(), jsonSchemaSchema).optional(),
    required: z.array(z.string()).optional(),
    additionalProperties: z.union([z.boolean(), jsonSchemaSchema]).optional(),
    items: jsonSchemaSchema.optional(),
    enum: z.array(z.unknown()).optional(),
    const: z.unknown().optional(),
    pattern: z.string().optional(),
    format: z.string().optional(),
    minLength: z.number().optional(),
    maxLength: z.number().optional(),
    minimum: z.number().optional(),
    maximum: z.number().optional(),
    default: z.unknown().optional(),
    anyOf: z.array(jsonSchemaSchema).optional(),
    oneOf: z.array(jsonSchemaSchema).optional(),
  }),
);

const parameterSchema = z.object({
  name: z.string(),
  in: z.enum(['path', 'query', 'header', 'cookie']),
  required: z.boolean().optional(),
  schema: jsonSchemaSchema,
});

const operationSchema = z.object({
  operationId: z.string(),
  parameters: z.array(parameterSchema).default([]),
  security: z.array(z.record(z.string(), z.array(z.string()))),
  requestBody: z
    .object({
      required: z.boolean().optional(),
      content: z.record(z.string(), z.object({ schema: jsonSchemaSchema })),
    })
    .optional(),
});

const documentSchema = z.object({
  openapi: z.string(),
  components: z
    .object({ schemas: z.record(z.string(), jsonSchemaSchema).default({}) })
    .default({ schemas: {} }),
  paths: z.record(
    z.string(),
    z.partialRecord(z.enum(['get', 'post', 'put', 'patch', 'delete']), operationSchema),
  ),
});

export interface RouteParameter {
  name: string;
  required: boolean;
  schema: JsonSchema;
}

export interface RouteOperation {
  /** `post /v1/runs/{id}/cancel`: how tests name an operation. */
  key: string;
  operationId: string;
  method: HttpMethod;
  /** The path template, e.g. `/v1/runs/{id}`. */
  path: string;
  /** In the order they appear in the path. */
  pathParameters: RouteParameter[];
  queryParameters: RouteParameter[];
  auth: RouteAuth;
  /** The media types the request body may have; empty when the operation documents no body. */
  bodyMediaTypes: string[];
  bodyRequired: boolean;
  /** The schema of an `application/json` body, when the operation takes one. */
  jsonBodySchema: JsonSchema | null;
}

function authOf(security: Record<string, string[]>[], key: string): RouteAuth {
  if (security.length === 0) return 'none';
  const schemes = security.flatMap((requirement) => Object.keys(requirement));
  if (schemes.length === 1 && schemes[0] === 'apiKey') return 'user';
  if (schemes.length === 1 && schemes[0] === 'adminToken') return 'admin';
  // A new scheme must be taught to the tests rather than silently fuzzed as something else.
  throw new Error(`${key}: unknown security ${JSON.stringify(security)}`);
}

const pathParameterPattern = /\{([^}]+)\}/g;

/** Every operation of the gateway at `baseUrl`, in document order. */
export async function fetchRouteOperations(baseUrl: string): Promise<RouteOperation[]> {
  const response = await fetch(`${baseUrl}/openapi.json`);
  if (response.status !== 200) throw new Error(`GET /openapi.json answered ${response.status}`);
  const document = documentSchema.parse(await response.json());
  const operations: RouteOperation[] = [];
  for (const [path, methods] of Object.entries(document.paths)) {
    for (const [method, operation] of Object.entries(methods) as [
      HttpMethod,
      z.infer<typeof operationSchema>,
    ][]) {
      const key = `${method} ${path}`;
      const byName = new Map(
        operation.parameters.filter((p) => p.in === 'path').map((p) => [p.name, p]),
      );
      const templateNames = [...path.matchAll(pathParameterPattern)].map((m) => m[1] ?? '');
      if (templateNames.length !== byName.size || templateNames.some((n) => !byName.has(n)))
        throw new Error(`${key}: path parameters ${[...byName.keys()].join(', ')} do not match`);
      const content = operation.requestBody?.content ?? {};
      operations.push({
        key,
        operationId: operation.operationId,
        method,
        path,
        pathParameters: templateNames.map((name) => {
          const parameter = byName.get(name);
          if (!parameter) throw new Error(`${key}: no parameter ${name}`);
          return { name, required: true, schema: parameter.schema };
        }),
        queryParameters: operation.parameters
          .filter((p) => p.in === 'query')
          .map((p) => ({ name: p.name, required: p.required ?? false, schema: p.schema })),
        auth: authOf(operation.security, key),
        bodyMediaTypes: Object.keys(content),
        bodyRequired: operation.requestBody?.required ?? false,
        jsonBodySchema: bodySchemaOf(content['application/json']?.schema, document.components),
      });
    }
  }
  return operations;
}

/**
 * A body schema as the generators here read it: named schemas (`$ref`) inlined (the recursive
 * `JsonValue` as "anything"), and a `oneOf` that only says which properties are required (the
 * document's "exactly one of a and b") turned into one whole object per alternative, without the
 * properties the other alternatives require.
 */
function bodySchemaOf(
  schema: JsonSchema | undefined,
  components: { schemas: Record<string, JsonSchema> },
): JsonSchema | null {
  if (!schema) return null;
  const inline = (value: unknown, depth: number): unknown => {
    if (Array.isArray(value)) return value.map((item) => inline(item, depth));
    if (typeof value !== 'object' || value === null) return value;
    const ref = (value as { $ref?: unknown }).$ref;
    if (typeof ref === 'string') {
      const name = ref.replace('#/components/schemas/', '');
      const target = components.schemas[name];
      if (name === 'JsonValue' || !target || depth > 8) return {};
      return inline(target, depth + 1);
    }
    return Object.fromEntries(
      Object.entries(value).map(([key, inner]) => [key, inline(inner, depth)]),
    );
  };
  const inlined = jsonSchemaSchema.parse(inline(schema, 0));
  const alternatives = inlined.oneOf;
  if (!inlined.properties || !alternatives?.every((alternative) => !alternative.properties))
    return inlined;
  const requiredBy = alternatives.map((alternative) => alternative.required ?? []);
  const { oneOf: _oneOf, ...base } = inlined;
  return {
    oneOf: requiredBy.map((required, index) => {
      const others = requiredBy.flatMap((names, other) => (other === index ? [] : names));
      const properties = Object.fromEntries(
        Object.entries(base.properties ?? {}).filter(
          ([name]) => required.includes(name) || !others.includes(name),
        ),
      );
      return { ...base, properties, required: [...(base.required ?? []), ...required] };
    }),
  };
}

/** True for operations whose body is raw bytes (an upload) rather than a validated JSON object. */
export function takesUpload(operation: RouteOperation): boolean {
  return operation.bodyMediaTypes.some((type) => type !== 'application/json');
}

/**
 * The path with its parameters filled in. Values are percent-encoded unless `raw` is set, which
 * lets a test put `..`, `%zz` or an empty segment into the request line exactly as written.
 */
export function fillPath(
  operation: Pick<RouteOperation, 'path'>,
  values: Readonly<Record<string, string>>,
  options: { raw?: ReadonlySet<string> } = {},
): string {
  return operation.path.replace(pathParameterPattern, (_match, name: string) => {
    const value = values[name];
    if (value === undefined) throw new Error(`no value for path parameter ${name}`);
    return options.raw?.has(name) ? value : encodeURIComponent(value);
  });
}

export interface RawRequest {
  method: string;
  /** Path and query, sent as given (no normalisation of `..` or re-encoding, unlike fetch). */
  path: string;
  headers?: Readonly<Record<string, string>>;
  body?: Buffer;
  /** Send the body with Transfer-Encoding: chunked instead of a Content-Length. */
  chunked?: boolean;
}

export interface RawResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  /** An event stream: only the status and headers were read before the request was aborted. */
  streamed: boolean;
}

export interface RawClient {
  send: (raw: RawRequest) => Promise<RawResponse>;
  close: () => void;
}

/**
 * An HTTP/1.1 client over one kept-alive connection: cheap enough to send thousands of requests
 * in a test, and exact about what goes on the wire. An event stream is answered as soon as its
 * headers arrive, and its connection dropped.
 */
export function createRawClient(baseUrl: string): RawClient {
  const url = new URL(baseUrl);
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const send = (raw: RawRequest) =>
    new Promise<RawResponse>((resolve, reject) => {
      const headers: Record<string, string> = { ...raw.headers };
      // Said explicitly: for GET and DELETE, Node would otherwise send the bytes unframed.
      if (raw.body && raw.chunked) headers['transfer-encoding'] = 'chunked';
      else if (raw.body) headers['content-length'] = String(raw.body.length);
      const outgoing = request(
        {
          host: url.hostname,
          port: url.port,
          method: raw.method,
          path: raw.path,
          headers,
          agent,
        },
        (incoming) => {
          if (/^text\/event-stream/i.test(incoming.headers['content-type'] ?? '')) {
            resolve({
              status: incoming.statusCode ?? 0,
              headers: incoming.headers,
              body: Buffer.alloc(0),
              streamed: true,
            });
            incoming.destroy();
            outgoing.destroy();
            return;
          }
          const chunks: Buffer[] = [];
          incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
          incoming.on('error', reject);
          incoming.on('end', () =>
            resolve({
              status: incoming.statusCode ?? 0,
              headers: incoming.headers,
              body: Buffer.concat(chunks),
              streamed: false,
            }),
          );
        },
      );
      outgoing.on('error', reject);
      if (raw.body && raw.body.length > 0) outgoing.write(raw.body);
      outgoing.end();
    });
  return { send, close: () => agent.destroy() };
}

const clientRequestIdPattern = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * Why `response` is not an error in the documented envelope (api.md, "Errors"), or null when it
 * is: a JSON body `{error: {code, message, details?}}` whose code is in the error table and maps
 * to the response's status, a message, and the request id header every response carries.
 */
export function envelopeProblem(response: RawResponse): string | null {
  const contentType = response.headers['content-type'] ?? '';
  if (!/^application\/json/i.test(contentType)) return `content-type is '${contentType}'`;
  let json: unknown;
  try {
    json = JSON.parse(response.body.toString('utf8'));
  } catch {
    return `the body is not JSON: ${response.body.toString('utf8').slice(0, 200)}`;
  }
  const parsed = errorEnvelopeSchema.safeParse(json);
  if (!parsed.success) return `not the error envelope: ${JSON.stringify(json).slice(0, 300)}`;
  const { code, message } = parsed.data.error;
  if (httpStatusOf(code) !== response.status)
    return `code ${code} belongs to ${httpStatusOf(code)}, not ${response.status}`;
  if (message.trim() === '') return 'the message is empty';
  const requestId = response.headers['x-request-id'];
  if (typeof requestId !== 'string' || !clientRequestIdPattern.test(requestId))
    return `no usable X-Request-Id header (${String(requestId)})`;
  return null;
}

/** The envelope of an error response; throws with the reason when it is not one. */
export function parseEnvelope(response: RawResponse): ErrorEnvelope {
  const problem = envelopeProblem(response);
  if (problem) throw new Error(`${response.status}: ${problem}`);
  return errorEnvelopeSchema.parse(JSON.parse(response.body.toString('utf8')));
}
