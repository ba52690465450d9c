// Stub providers for trying Stepwise without paid accounts: an OpenAI-compatible chat-completions
// endpoint and an asynchronous image provider, on loopback, deterministic (an answer depends only
// on the request, and on how many times a job was polled). Plain ESM so that it runs with no build
// (`npm run stubs`) and the tests import it as it is; the types are in stub-providers.d.mts.
// This module is the server and what the runner is told; the endpoints are in llm.mjs and
// images.mjs, what they share in common.mjs.
//
//   POST /llm/v1/chat/completions         OpenAI-compatible, non-streaming
//   POST /images/v1/jobs                  {prompt, n?, size?} → 202 {id, status: 'queued'}
//   GET  /images/v1/jobs/{id}             {id, status, output?: [url], error?: {message}}
//   POST /images/v1/generate              {prompt, n?, size?} → 200 {status, images: [{b64}]}
//   GET  /images/files/{job}/{i}.png      the i-th image of a succeeded job (a real PNG)
//   GET  /_stub/stats, POST /_stub/reset, GET /_stub/recent
//
// Markers in a prompt change what happens: `[llm-fail]` (LLM answers 500), `[fail]` (the job
// fails from its 2nd poll), `[never]` (the job runs for ever), `[not-image]` (the files are
// text/plain), `[polls=N]` (the job succeeds from its N-th poll).
import { once } from 'node:events';
import { createServer } from 'node:http';
import { HttpError, errorBody, sendJson } from './common.mjs';
import { createImages } from './images.mjs';
import { createLlm } from './llm.mjs';

export { chatAnswer } from './llm.mjs';
export { FAIL_MESSAGE, stubImage } from './images.mjs';

/** The port `npm run stubs` listens on unless told otherwise; the examples' config defaults to it. */
export const DEFAULT_STUB_PORT = 4010;

/** The API key the printed settings use: any value works, the stubs check none. */
export const STUB_API_KEY = 'stub-key-not-a-secret';

/**
 * Starts the stubs. `host`/`port` are where it listens (port 0: a free one); `publicHost` is the
 * name the runner reaches it by, used in the file URLs a job answers with (default: `host`, or
 * 127.0.0.1 for a wildcard address); `pollsToFinish` is the poll from which a job has succeeded.
 */
export async function startStubProviders({
  host = '127.0.0.1',
  port = 0,
  pollsToFinish = 3,
  publicHost = undefined,
  onRequest = undefined,
} = {}) {
  if (!Number.isInteger(pollsToFinish) || pollsToFinish < 1)
    throw new TypeError('pollsToFinish must be a positive integer');
  let baseUrl = '';
  const llm = createLlm();
  const images = createImages({ pollsToFinish, baseUrl: () => baseUrl });

  const routes = [
    {
      method: 'GET',
      path: /^\/$/,
      handle: (_req, res) =>
        sendJson(res, 200, {
          name: 'Stepwise stub providers',
          llm_base_url: `${baseUrl}/llm/v1`,
          images_base_url: `${baseUrl}/images/v1`,
          endpoints: [
            'POST /llm/v1/chat/completions',
            'GET /llm/v1/models',
            'POST /images/v1/jobs',
            'GET /images/v1/jobs/{id}',
            'POST /images/v1/generate',
            'GET /images/files/{job}/{i}.png',
            'GET /_stub/stats',
            'POST /_stub/reset',
            'GET /_stub/recent',
          ],
          markers: ['[llm-fail]', '[fail]', '[never]', '[not-image]', '[polls=N]'],
        }),
    },
    ...llm.routes,
    ...images.routes,
    {
      method: 'GET',
      path: /^\/_stub\/stats$/,
      handle: (_req, res) => sendJson(res, 200, stubs.stats()),
    },
    {
      method: 'POST',
      path: /^\/_stub\/reset$/,
      handle: (_req, res) => {
        stubs.reset();
        sendJson(res, 200, stubs.stats());
      },
    },
    {
      method: 'GET',
      path: /^\/_stub\/recent$/,
      handle: (_req, res) => sendJson(res, 200, stubs.recent()),
    },
  ];

  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const started = performance.now();
    res.on('finish', () =>
      onRequest?.({
        method: req.method ?? '',
        path,
        status: res.statusCode,
        ms: Math.round(performance.now() - started),
      }),
    );
    const matching = routes
      .map((route) => ({ route, match: route.path.exec(path) }))
      .filter(({ match }) => match !== null);
    const found = matching.find(({ route }) => route.method === req.method);
    if (!found) {
      req.resume();
      if (matching.length > 0) {
        res.setHeader('allow', matching.map(({ route }) => route.method).join(', '));
        sendJson(res, 405, errorBody(`${req.method} is not allowed on ${path}`));
      } else sendJson(res, 404, errorBody(`no stub endpoint at ${req.method} ${path}`));
      return;
    }
    Promise.resolve()
      .then(() => found.route.handle(req, res, found.match))
      .catch((error) => {
        const status = error instanceof HttpError ? error.status : 500;
        req.resume();
        if (res.headersSent) return res.destroy();
        sendJson(
          res,
          status,
          errorBody(
            error instanceof Error ? error.message : String(error),
            status >= 500 ? 'server_error' : 'invalid_request_error',
          ),
        );
      });
  });
  server.listen(port, host);
  await once(server, 'listening');
  const address = server.address();
  const shownHost =
    publicHost ?? (host === '0.0.0.0' || host === '::' || host === '' ? '127.0.0.1' : host);
  baseUrl = `http://${shownHost.includes(':') ? `[${shownHost}]` : shownHost}:${address.port}`;

  const stubs = {
    url: baseUrl,
    llmBaseUrl: `${baseUrl}/llm/v1`,
    imagesBaseUrl: `${baseUrl}/images/v1`,
    port: address.port,
    stats() {
      return { llm: llm.stats(), images: images.stats() };
    },
    recent() {
      return { llm: llm.recent(), images: images.recent() };
    },
    reset() {
      llm.reset();
      images.reset();
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  return stubs;
}

/**
 * What a person exports so that the runner uses the stubs: the LLM endpoint and key, and the
 * outbound allow-list naming the stubs' host (api.* modules may not call loopback otherwise).
 * `existingAllowList` (OUTBOUND_ALLOWED_HOSTS as it is) is kept: the stubs' host is added to it.
 */
export function stubSettings(stubs, existingAllowList = '') {
  const host = new URL(stubs.url).hostname.replace(/^\[|\]$/g, '');
  const allowed = existingAllowList
    .split(',')
    .map((entry) => entry.trim())
    .filter(Boolean);
  if (!allowed.includes(host)) allowed.push(host);
  return {
    LLM_BASE_URL: stubs.llmBaseUrl,
    LLM_API_KEY: STUB_API_KEY,
    OUTBOUND_ALLOWED_HOSTS: allowed.join(','),
  };
}

/** The settings as shell lines: `export NAME=value`. */
export function exportLines(settings) {
  return Object.entries(settings).map(([name, value]) => `export ${name}=${shellQuote(value)}`);
}

function shellQuote(value) {
  return /^[\w@%+=:,./-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
}
