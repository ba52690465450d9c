import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { LookupFunction } from 'node:net';
import {
  checkHost,
  checkResolvedAddress,
  DestinationRefused,
  type DestinationPolicy,
} from './destination-policy.js';

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

/**
 * A guarded HTTP client: the host is checked before anything happens, and the address it resolves
 * to is checked inside the socket's own lookup, so the connection goes to the address that was
 * checked (no second lookup for a rebinding name to answer differently). Bodies are size-capped as
 * they arrive; redirects are returned, not followed. `policy: null` means a destination the
 * operator configured (the LLM endpoint), which is not subject to the allow-list.
 */
export async function sendOutbound(
  policy: DestinationPolicy | null,
  request: OutboundRequest,
): Promise<OutboundResponse> {
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
  return new Promise<OutboundResponse>((resolve, reject) => {
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
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > request.maxResponseBytes) {
            req.destroy(
              new OutboundError(
                'RESPONSE_TOO_LARGE',
                `the response is larger than ${request.maxResponseBytes} bytes`,
              ),
            );
            return;
          }
          chunks.push(chunk);
        });
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks),
          }),
        );
        res.on('error', reject);
      },
    );
    // Both an idle socket and a slow trickle count: the whole exchange has `timeoutMs`.
    const deadline = setTimeout(
      () => req.destroy(new OutboundError('TIMEOUT', `no answer within ${request.timeoutMs} ms`)),
      request.timeoutMs,
    );
    req.on('close', () => clearTimeout(deadline));
    req.on('timeout', () =>
      req.destroy(new OutboundError('TIMEOUT', `no answer within ${request.timeoutMs} ms`)),
    );
    req.on('error', (error) => {
      if (error instanceof OutboundError) return reject(error);
      if (error instanceof DestinationRefused)
        return reject(new OutboundError('DESTINATION_REFUSED', error.message));
      reject(new OutboundError('NETWORK_ERROR', error.message));
    });
    if (request.body !== undefined) req.write(request.body);
    req.end();
  });
}
