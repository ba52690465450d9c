import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import { z } from 'zod';
import {
  BadRequestError,
  StepwiseError,
  detailsFromZodError,
  findUnstorableKey,
  summarizeDetails,
  type ErrorCode,
} from '@stepwise/shared';
import { refuseDeclaredOversize } from './body-limits.js';
import type { AnyReply, Reply, ResponsesSpec } from './responses.js';
import {
  requestContextOf,
  type Caller,
  type RequestContext,
  type UserCaller,
} from './request-context.js';

export type AuthMode = 'none' | 'user' | 'admin';
export type HttpMethod = 'get' | 'post' | 'put' | 'patch' | 'delete';

type CallerFor<A extends AuthMode> = A extends 'user'
  ? UserCaller
  : A extends 'admin'
    ? { kind: 'admin' }
    : null;

const noParams = z.strictObject({});
const noQuery = z.strictObject({});
/** Routes without a body accept an empty one, or `{}`, and nothing else. */
const noBody = z.strictObject({}).optional();

export interface RouteSpec<
  A extends AuthMode,
  P extends z.ZodType,
  Q extends z.ZodType,
  B extends z.ZodType,
  R extends ResponsesSpec,
> {
  method: HttpMethod;
  /** Express-style path, e.g. `/v1/me/keys/:key_id`. */
  path: string;
  summary: string;
  auth: A;
  params?: P;
  query?: Q;
  body?: B;
  /** Request headers the route reads, for the document (names as sent; values are strings). */
  headers?: readonly RequestHeaderSpec[];
  /** A raw upload instead of a JSON body: the accepted media types and the size limit. */
  upload?: {
    mediaTypes: readonly string[];
    maxBytes: number;
    optional?: boolean;
    /**
     * The handler reads the body from `req` itself, as it arrives (a file too big to hold): no
     * parser runs, any media type is let through (`mediaTypes` only documents it), `upload` is
     * null, and only a declared Content-Length over `maxBytes` is refused before the handler.
     */
    stream?: boolean;
    /** The schema of the JSON variant of the upload, when one of the media types is JSON. */
    jsonSchema?: z.ZodType;
  };
  /** An example of the JSON body (or of the JSON variant of an upload), for the document. */
  bodyExample?: unknown;
  /** Every successful answer the route gives, by status; nothing else is sent. */
  responses: R;
  /** Error codes particular to this route, beyond those every route of its kind can answer. */
  errors?: readonly ErrorCode[];
  /**
   * The route takes an `Idempotency-Key` header: a repeat of the request with the same key
   * answers the first request's outcome instead of doing it again.
   */
  idempotent?: boolean;
}

export interface RequestHeaderSpec {
  name: string;
  description: string;
  schema: z.ZodType;
}

/** What an Idempotency-Key may be: printable ASCII, as the IETF draft and Stripe take it. */
export const idempotencyKeySchema = z
  .string()
  .min(1)
  .max(255)
  .regex(/^[\x21-\x7e]+$/, 'printable ASCII without spaces')
  .describe(
    'Any unique string (a UUID is best). A repeat with the same key answers the first outcome; the key is kept for ever.',
  );

export interface Upload {
  bytes: Buffer;
  /** The media type the client declared, without parameters. */
  mediaType: string;
}

export interface HandlerInput<A extends AuthMode, P, Q, B> {
  params: P;
  query: Q;
  body: B;
  /** The raw bytes, on routes that declare `upload`; null elsewhere. */
  upload: Upload | null;
  caller: CallerFor<A>;
  /** The Idempotency-Key header, on routes that take one. */
  idempotencyKey: string | undefined;
  context: RequestContext;
  req: Request;
  res: Response;
}

/** A handler answers with one of the route's declared statuses and a body of its type. */
export type RouteHandler<A extends AuthMode, P, Q, B, R extends ResponsesSpec> = (
  input: HandlerInput<A, P, Q, B>,
) => Promise<Reply<R>>;

export interface RouteDefinition {
  spec: RouteSpec<AuthMode, z.ZodType, z.ZodType, z.ZodType, ResponsesSpec>;
  /** Runs after authentication (`context.caller` is set) and the body parser. */
  handle: (req: Request, res: Response) => Promise<void>;
}

export type Authenticator = (req: Request, mode: Exclude<AuthMode, 'none'>) => Promise<Caller>;

function parseOrThrow<T extends z.ZodType>(schema: T, value: unknown, where: string): z.infer<T> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const details = detailsFromZodError(result.error).map((d) => ({
    path: d.path === '' ? where : `${where}.${d.path}`,
    message: d.message,
  }));
  throw new BadRequestError(`invalid ${where}: ${summarizeDetails(details)}`, details);
}

/**
 * Deepest nesting a JSON body may have. Bodies end up inside stored documents (a run's state, a
 * refused command's payload, an event's data) and MongoDB stores at most 100 levels: deeper input
 * must be refused here, not fail there (or overflow a recursive step on the way) as a 500.
 */
const MAX_JSON_BODY_DEPTH = 32;

/** True when objects or arrays in `value` nest deeper than `max`; iterative, so it cannot overflow. */
function nestsDeeperThan(value: unknown, max: number): boolean {
  const pending: { value: unknown; depth: number }[] = [{ value, depth: 1 }];
  for (let next = pending.pop(); next; next = pending.pop()) {
    if (typeof next.value !== 'object' || next.value === null) continue;
    if (next.depth > max) return true;
    for (const child of Object.values(next.value))
      pending.push({ value: child, depth: next.depth + 1 });
  }
  return false;
}

function readUpload(req: Request, mediaTypes: readonly string[]): Upload {
  const declared = (req.get('content-type') ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  if (!mediaTypes.includes(declared)) {
    throw new StepwiseError(
      'UNSUPPORTED_MEDIA_TYPE',
      `expected one of ${mediaTypes.join(', ')}, got '${declared || 'none'}'`,
    );
  }
  const bytes: unknown = req.body;
  if (!Buffer.isBuffer(bytes) || bytes.length === 0)
    throw new BadRequestError('the request body is empty');
  return { bytes, mediaType: declared };
}

function hasBody(req: Request): boolean {
  const length = req.get('content-length');
  return req.get('transfer-encoding') !== undefined || (length !== undefined && length !== '0');
}

/**
 * Declares a route: its auth, the zod schemas of its params, query and body, and a handler that
 * receives them parsed. Validation, authentication and error mapping happen here, once, for every
 * route; the same specs feed the OpenAPI document.
 */
export function defineRoute<
  A extends AuthMode,
  P extends z.ZodType = typeof noParams,
  Q extends z.ZodType = typeof noQuery,
  B extends z.ZodType = typeof noBody,
  const R extends ResponsesSpec = ResponsesSpec,
>(
  spec: RouteSpec<A, P, Q, B, R>,
  handler: RouteHandler<A, z.infer<P>, z.infer<Q>, z.infer<B>, NoInfer<R>>,
): RouteDefinition {
  // The defaults of the type parameters are these schemas, so the casts only restate that.
  const paramsSchema = (spec.params ?? noParams) as P;
  const querySchema = (spec.query ?? noQuery) as Q;
  const bodySchema = (spec.body ?? noBody) as B;
  return {
    spec: spec as RouteSpec<AuthMode, z.ZodType, z.ZodType, z.ZodType, ResponsesSpec>,
    async handle(req, res) {
      const context = requestContextOf(res);
      const caller = context.caller;
      const upload =
        spec.upload && !spec.upload.stream && !(spec.upload.optional && !hasBody(req))
          ? readUpload(req, spec.upload.mediaTypes)
          : null;
      if (!spec.upload && hasBody(req) && !req.is('application/json')) {
        throw new StepwiseError(
          'UNSUPPORTED_MEDIA_TYPE',
          `expected an application/json body, got '${req.get('content-type') ?? 'none'}'`,
        );
      }
      const params = parseOrThrow(paramsSchema, req.params, 'params');
      for (const header of spec.headers ?? []) {
        const value = req.get(header.name);
        if (value !== undefined)
          parseOrThrow(header.schema, value, `headers.${header.name.toLowerCase()}`);
      }
      const query = parseOrThrow(querySchema, { ...req.query }, 'query');
      if (!spec.upload && nestsDeeperThan(req.body, MAX_JSON_BODY_DEPTH)) {
        throw new BadRequestError(`the body nests deeper than ${MAX_JSON_BODY_DEPTH} levels`, [
          { path: 'body', message: `nested deeper than ${MAX_JSON_BODY_DEPTH} levels` },
        ]);
      }
      if (!spec.upload) {
        // Before any parsing that could drop such a key, and before anything takes a number.
        const unstorable = findUnstorableKey(req.body, 'body');
        if (unstorable)
          throw new BadRequestError(`${unstorable.path}: ${unstorable.message}`, [unstorable]);
      }
      const body = spec.upload
        ? (undefined as z.infer<B>)
        : parseOrThrow(bodySchema, req.body, 'body');
      const keyHeader = spec.idempotent ? req.get('idempotency-key') : undefined;
      const idempotencyKey =
        keyHeader === undefined
          ? undefined
          : parseOrThrow(idempotencyKeySchema, keyHeader, 'headers.idempotency-key');
      // express's res.send answers 304 by itself when a request looks "fresh" (`If-None-Match: *`
      // does, whatever the answer). Only a route that declares 304 may see conditional headers.
      if (!(304 in spec.responses)) {
        delete req.headers['if-none-match'];
        delete req.headers['if-modified-since'];
      }
      const reply: AnyReply = await handler({
        params,
        query,
        body,
        upload,
        caller: caller as CallerFor<A>,
        idempotencyKey,
        context,
        req,
        res,
      });
      sendReply(spec, reply, res);
    },
  };
}

/** Sends a handler's reply, refusing (as a bug) any status the route did not declare. */
function sendReply(spec: RouteDefinition['spec'], reply: AnyReply, res: Response): void {
  const declared = spec.responses[reply.status];
  if (!declared) {
    throw new Error(
      `${spec.method.toUpperCase()} ${spec.path} answered ${reply.status}, which it does not declare`,
    );
  }
  if (declared.kind === 'raw' || reply.sent) {
    // Written by the handler; a stream may have ended early (the client left), which is fine.
    if (res.headersSent && res.statusCode !== reply.status) {
      throw new Error(`${spec.path} wrote ${res.statusCode} but reported ${reply.status}`);
    }
    return;
  }
  if (res.headersSent) throw new Error(`${spec.path} wrote its answer itself`);
  for (const [name, value] of Object.entries(reply.headers ?? {})) res.setHeader(name, value);
  if (declared.kind === 'empty') res.status(reply.status).end();
  else res.status(reply.status).json(reply.body);
}

/**
 * Registers the routes on `router`, each behind its own body parser: JSON routes parse at most
 * `maxJsonBodyBytes`; upload routes read raw bytes up to their own limit.
 */
export function mountRoutes(
  router: Router,
  routes: readonly RouteDefinition[],
  options: { authenticate: Authenticator; maxJsonBodyBytes: number },
): void {
  const jsonParser = express.json({ limit: options.maxJsonBodyBytes, type: 'application/json' });
  const methodsByPath = servedMethods(routes);
  // A path without parameters is that path whatever the method: `GET /v1/runs/import` is 405
  // (it serves POST), not a request for a run whose id is "import". So these guards go first.
  for (const [path, methods] of methodsByPath) {
    if (path.includes(':')) continue;
    router.all(path, (req: Request, res: Response, next: NextFunction) => {
      if (methods.has(req.method)) next();
      else refuseMethod(req, res, next, path, methods);
    });
  }
  for (const route of routes) {
    const { upload } = route.spec;
    const parser = upload?.stream
      ? (_req: Request, _res: Response, next: NextFunction) => next()
      : upload
        ? express.raw({ type: [...upload.mediaTypes], limit: upload.maxBytes })
        : jsonParser;
    // Every route, bodiless ones included: a body of any media type over the limit is 413.
    const refuseOversize = refuseDeclaredOversize(upload?.maxBytes ?? options.maxJsonBodyBytes);
    // Authenticate before reading a body, so that an anonymous client cannot make us read one.
    const authenticate = (req: Request, res: Response, next: NextFunction) => {
      const { auth, method, path } = route.spec;
      requestContextOf(res).operation = { method, path };
      if (auth === 'none') return next();
      options
        .authenticate(req, auth)
        .then((caller) => {
          requestContextOf(res).caller = caller;
          next();
        })
        .catch(next);
    };
    router[route.spec.method](
      route.spec.path,
      authenticate,
      refuseOversize,
      parser,
      (req: Request, res: Response, next: NextFunction) => {
        route.handle(req, res).catch(next);
      },
    );
  }
  // A known path with a method it does not serve is 405 with the methods it does (api.md).
  for (const [path, methods] of methodsByPath)
    router.all(path, (req: Request, res: Response, next: NextFunction) =>
      refuseMethod(req, res, next, path, methods),
    );
}

/** The methods each declared path serves (HEAD with GET: Express answers it with the GET route). */
function servedMethods(routes: readonly RouteDefinition[]): Map<string, Set<string>> {
  const methodsByPath = new Map<string, Set<string>>();
  for (const { spec } of routes) {
    const methods = methodsByPath.get(spec.path) ?? new Set<string>();
    methods.add(spec.method.toUpperCase());
    if (spec.method === 'get') methods.add('HEAD');
    methodsByPath.set(spec.path, methods);
  }
  return methodsByPath;
}

function refuseMethod(
  req: Request,
  res: Response,
  next: NextFunction,
  path: string,
  methods: ReadonlySet<string>,
): void {
  const allow = [...methods].join(', ');
  res.setHeader('Allow', allow);
  next(
    new StepwiseError(
      'METHOD_NOT_ALLOWED',
      `${req.method} is not allowed on ${path}; use ${allow}`,
    ),
  );
}
