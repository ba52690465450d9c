import { createServer, type RequestListener, type Server } from 'node:http';

export interface HttpTimeouts {
  /** Time a client has to send a request's headers. */
  headersMs: number;
  /** Time a client has to send a whole request (headers and body). */
  requestMs: number;
  /** How long an idle keep-alive connection stays open. */
  keepAliveMs: number;
}

/**
 * The gateway's HTTP server, with timeouts of its own against slow clients: one that trickles its
 * headers or body in (a slowloris) gets 408 and loses the connection instead of holding a socket
 * for ever. Answers are not limited: an event stream may stay open for hours.
 */
export function createHttpServer(app: RequestListener, timeouts: HttpTimeouts): Server {
  const server = createServer(
    {
      headersTimeout: timeouts.headersMs,
      requestTimeout: timeouts.requestMs,
      keepAliveTimeout: timeouts.keepAliveMs,
      // How often Node checks the two timeouts above (default 30 s, too coarse for short ones).
      connectionsCheckingInterval: Math.min(1_000, timeouts.headersMs),
    },
    app,
  );
  return server;
}
