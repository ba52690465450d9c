import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { LookupFunction } from 'node:net';
import {
  checkHost,
  checkResolvedAddress,
  DestinationRefused,
  type DestinationPolicy,
} from '@stepwise/shared/node';

export interface OutboundRequest {
  url: string;
  method: string;
  headers: Record<string, string>;
  body?: Buffer | string;
  timeoutMs: number;
  maxResponseBytes: number;
  signal?: AbortSignal;
}

export interface OutboundResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

export class OutboundError extends Error {
  constructor(
    readonly code:
      'DESTINATION_REFUSED' | 'TIMEOUT' | 'RESPONSE_TOO_LARGE' | 'NETWORK_ERROR' | 'BAD_URL',
    message: string,
  ) {
    super(message);
  }
}

/** An answer whose body is read chunk by chunk (a result file stored as it arrives). */
export interface OutboundStream {
  status: number;
  headers: IncomingHttpHeaders;
  /** The next chunk of the body, or null at its end; size, time and network limits throw here. */
  read: () => Promise<Buffer | null>;
  /** Drops the rest of the body (and the connection). */
  close: () => void;
}

/** What a socket or protocol error of the exchange comes to. */
function asOutboundError(error: unknown): OutboundError {
  if (error instanceof OutboundError) return error;
  if (error instanceof DestinationRefused)
    return new OutboundError('DESTINATION_REFUSED', error.message);
  return new OutboundError('NETWORK_ERROR', (error as Error).message);
}

/**
 * A guarded HTTP client: the host is checked before anything happens, and the address it resolves
 * to is checked inside the socket's own lookup, so the connection goes to the address that was
 * checked (no second lookup for a rebinding name to answer differently). Bodies are size-capped as
 * they arrive; redirects are returned, not followed. `policy: null` means a destination the
 * operator configured (the LLM endpoint), which is not subject to the allow-list. The answer comes
 * with its status and headers; its body is read as it arrives, within the same time limit.
 */
export async function openOutbound(
  policy: DestinationPolicy | null,
  request: OutboundRequest,
): Promise<OutboundStream> {
  let url: URL;
  try {
    url = new URL(request.url);
  } catch {
    throw new OutboundError('BAD_URL', `not a URL: ${request.url}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new OutboundError(
      'BAD_URL',
      `only http and https URLs may be called, not ${url.protocol}`,
    );
  if (url.username || url.password)
    throw new OutboundError('BAD_URL', 'credentials in URLs are not allowed; send a header');
  if (policy) {
    try {
      checkHost(policy, url.hostname);
    } catch (error) {
      throw new OutboundError('DESTINATION_REFUSED', (error as Error).message);
    }
  }
  const lookup: LookupFunction = (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (error, addresses: LookupAddress[]) => {
      if (error) return callback(error, '', 0);
      try {
        if (policy)
          for (const { address } of addresses) checkResolvedAddress(policy, hostname, address);
      } catch (refusal) {
        return callback(refusal as Error, '', 0);
      }
      const first = addresses[0];
      if (!first) return callback(new Error(`no address for ${hostname}`), '', 0);
      if ((options as { all?: boolean }).all)
        return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, addresses);
      callback(null, first.address, first.family);
    });
  };

  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise<OutboundStream>((resolve, reject) => {
    // The first failure of the exchange, which reading the body reports over any later one.
    let failure: OutboundError | null = null;
    const fail = (error: OutboundError) => {
      failure ??= error;
      req.destroy(failure);
    };
    const req = send(
      url,
      {
        method: request.method,
        headers: request.headers,
        lookup,
        signal: request.signal,
        timeout: request.timeoutMs,
      },
      (res) => {
        const chunks = res[Symbol.asyncIterator]();
        let size = 0;
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          read: async () => {
            let next: IteratorResult<Buffer>;
            try {
              next = (await chunks.next()) as IteratorResult<Buffer>;
            } catch (error) {
              throw failure ?? asOutboundError(error);
            }
            if (failure) throw failure;
            if (next.done) return null;
            size += next.value.length;
            if (size > request.maxResponseBytes) {
              fail(
                new OutboundError(
                  'RESPONSE_TOO_LARGE',
                  `the response is larger than ${request.maxResponseBytes} bytes`,
                ),
              );
              throw failure;
            }
            return next.value;
          },
          close: () => req.destroy(),
        });
      },
    );
    // Both an idle socket and a slow trickle count: the whole exchange has `timeoutMs`.
    const timedOut = () =>
      fail(new OutboundError('TIMEOUT', `no answer within ${request.timeoutMs} ms`));
    const deadline = setTimeout(timedOut, request.timeoutMs);
    req.on('close', () => clearTimeout(deadline));
    req.on('timeout', timedOut);
    req.on('error', (error) => reject(failure ?? asOutboundError(error)));
    if (request.body !== undefined) req.write(request.body);
    req.end();
  });
}

/** The same exchange with the whole (capped) body read. */
export async function sendOutbound(
  policy: DestinationPolicy | null,
  request: OutboundRequest,
): Promise<OutboundResponse> {
  const answer = await openOutbound(policy, request);
  const chunks: Buffer[] = [];
  for (let chunk = await answer.read(); chunk !== null; chunk = await answer.read())
    chunks.push(chunk);
  return { status: answer.status, headers: answer.headers, body: Buffer.concat(chunks) };
}
