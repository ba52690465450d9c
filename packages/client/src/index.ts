import createClient, { type Client, type FetchResponse } from 'openapi-fetch';
import type { paths } from './schema.js';

export type { components, operations, paths } from './schema.js';

/** A typed openapi-fetch client of the Stepwise API: `client.POST('/v1/workflows', …)`. */
export type StepwiseClient = Client<paths>;

export interface StepwiseClientOptions {
  /** Where the gateway answers, e.g. `http://127.0.0.1:8080` (no `/v1`: paths carry it). */
  baseUrl: string;
  /** A user API key (`sk_…`), or the ADMIN_TOKEN for the admin routes; sent as a bearer token. */
  apiKey: string;
  /** A fetch of your own (tests, proxies, retries); the global fetch otherwise. */
  fetch?: (request: Request) => Promise<Response>;
}

/**
 * The media type a byte upload is sent as when the caller names none: the routes that take bytes
 * (`POST /v1/workflows`, `POST /v1/runs/{id}/resume`) take zip bundles.
 */
export const defaultUploadMediaType = 'application/zip';

/**
 * JSON bodies as openapi-fetch sends them; byte bodies (a Uint8Array, a Blob or File) with their
 * bytes untouched, as a Blob whose type is the media type to send: the caller's Content-Type
 * header, else a Blob's own type, else application/zip. openapi-fetch hands the serializer the
 * request's headers but lets it return only the body, and then labels every body but FormData
 * `application/json` unless the caller set a Content-Type; the typed Blob carries the right one
 * to {@link LabelledBodyRequest}, which puts it in the header.
 */
export function serializeBody(body: unknown, headers?: Headers): Blob | FormData | string {
  if (body instanceof Uint8Array || body instanceof Blob) {
    const declared = headers?.get('content-type');
    const own = body instanceof Blob && body.type !== '' ? body.type : undefined;
    return new Blob([body], { type: declared ?? own ?? defaultUploadMediaType });
  }
  if (body instanceof FormData) return body;
  return JSON.stringify(body);
}

/**
 * A Request that sends a typed Blob body with its type as Content-Type (see
 * {@link serializeBody}), overriding openapi-fetch's default `application/json` label.
 */
class LabelledBodyRequest extends Request {
  constructor(input: ConstructorParameters<typeof Request>[0], init?: RequestInit) {
    super(input, labelled(init));
  }
}

function labelled(init: RequestInit | undefined): RequestInit | undefined {
  const body = init?.body;
  if (!(body instanceof Blob) || body.type === '') return init;
  const headers = new Headers(init?.headers);
  headers.set('content-type', body.type);
  return { ...init, headers };
}

/**
 * A client of the gateway at `baseUrl` that sends `apiKey` as its bearer token. Its methods are
 * typed from the generated `paths`: request bodies, parameters and the union of each route's
 * success bodies as `data`; pass an answer to {@link withStatus} to tell its statuses apart.
 */
export function createStepwiseClient(options: StepwiseClientOptions): StepwiseClient {
  return createClient<paths>({
    baseUrl: options.baseUrl,
    headers: { authorization: `Bearer ${options.apiKey}` },
    bodySerializer: serializeBody,
    Request: LabelledBodyRequest,
    ...(options.fetch ? { fetch: options.fetch } : {}),
  });
}

type ResponsesOf<Operation> = Operation extends { responses: infer Responses } ? Responses : never;

/** A response's body: the schema of its (only, for Stepwise) media type; none for a 204. */
type BodyOf<Response> = Response extends { content: infer Content }
  ? Content[keyof Content]
  : undefined;

/**
 * Every answer an operation documents, one member per status, with that status's body: narrowing
 * on `status` narrows `body` (a 202 `{job_id}` is not a 201 version summary).
 */
export type StatusAnswer<Operation> = {
  [Status in keyof ResponsesOf<Operation>]: Status extends number
    ? { status: Status; body: BodyOf<ResponsesOf<Operation>[Status]>; response: Response }
    : never;
}[keyof ResponsesOf<Operation>];

/** The body a route answers with a given status, e.g. `AnswerBody<'/v1/workflows', 'post', 202>`. */
export type AnswerBody<
  Path extends keyof paths,
  Method extends keyof paths[Path],
  Status extends StatusAnswer<paths[Path][Method]>['status'],
> = Extract<StatusAnswer<paths[Path][Method]>, { status: Status }>['body'];

/**
 * An openapi-fetch answer as {@link StatusAnswer}: `{status, body, response}`, where `body` is
 * the parsed success body (`data`) or error envelope (`error`). The operation is read off the
 * answer's type, so `withStatus(await client.POST('/v1/workflows', …))` needs no type argument.
 */
export function withStatus<
  Operation extends Record<string | number, unknown>,
  Options,
  Media extends `${string}/${string}`,
>(answer: FetchResponse<Operation, Options, Media>): StatusAnswer<Operation> {
  const { response } = answer;
  const body: unknown = response.ok ? answer.data : answer.error;
  // The one unchecked step: the types trust that the gateway answers only the statuses and
  // bodies its document declares, which test/contract-snapshot.test.ts keeps true of the
  // committed contract these types are generated from.
  return { status: response.status, body, response } as StatusAnswer<Operation>;
}
