// The load balancer of the cluster soak: HAProxy (Debian's package) in HTTP mode on loopback, in
// front of the gateways, round robin, with health checks on each gateway's /readyz (MongoDB and
// Redis answer and the process is not draining). It runs in the foreground as a child process
// (`haproxy -f <cfg> -db`), its configuration generated into the soak's state folder.
import { writeFileSync } from 'node:fs';
import { ManagedProcess } from './processes.mjs';

/**
 * HAProxy's configuration for `gateways` (each `{name, port}`) behind `port`.
 *
 * - Health: `GET /readyz` every second; two failures take a gateway out, two successes bring it
 *   back. A gateway killed with SIGKILL refuses connections at once, and `retries` with
 *   `option redispatch` sends a refused connection to another gateway (a refused connection
 *   carried no request, so this is safe for any method). Nothing else is retried by the
 *   balancer: a request that reached a gateway which then died fails to its client.
 * - Streams: the gateway's SSE run stream writes a heartbeat comment every 15 s
 *   (SSE_HEARTBEAT_MS), so `timeout server`/`timeout client` (idle time between bytes) of 5 minutes
 *   never cut a live stream; `timeout tunnel` covers upgraded connections alike. A stream whose
 *   gateway dies is cut (the client sees its connection end) and reconnects through the balancer
 *   with `Last-Event-ID`.
 * - `X-Served-By` on every answer names the gateway that served it, so the soak knows which
 *   streams a gateway kill cuts.
 */
export function haproxyConfig({ port, gateways, logFormat = 'raw' }) {
  return [
    'global',
    '  maxconn 4096',
    `  log stdout format ${logFormat} local0 info`,
    '',
    'defaults',
    '  mode http',
    '  log global',
    '  option httplog',
    '  option dontlognull',
    '  timeout connect 2s',
    '  timeout client 5m',
    '  timeout server 5m',
    '  timeout tunnel 1h',
    '  timeout http-request 20s',
    '  timeout http-keep-alive 10s',
    '  timeout queue 10s',
    '  timeout client-fin 5s',
    '  timeout server-fin 5s',
    '  retries 3',
    '  option redispatch 1',
    '',
    'frontend stepwise',
    `  bind 127.0.0.1:${port}`,
    '  default_backend gateways',
    '',
    'backend gateways',
    '  balance roundrobin',
    '  option httpchk GET /readyz',
    '  http-check expect status 200',
    '  http-response set-header X-Served-By %[srv_name]',
    '  default-server inter 1s fastinter 500ms downinter 1s fall 2 rise 2',
    ...gateways.map((g) => `  server ${g.name} 127.0.0.1:${g.port} check`),
    '',
  ].join('\n');
}

/** Writes the configuration into `dir` and starts HAProxy on `port`; answers the process. */
export async function startBalancer({ dir, port, gateways }) {
  const file = `${dir}/haproxy.cfg`;
  writeFileSync(file, haproxyConfig({ port, gateways }));
  const haproxy = new ManagedProcess('haproxy', '/usr/sbin/haproxy', ['-f', file, '-db'], {
    port,
    logFile: `${dir}/haproxy.log`,
  });
  await haproxy.start();
  return haproxy;
}
