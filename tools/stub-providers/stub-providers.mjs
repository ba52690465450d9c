// Stub providers for trying Stepwise without paid accounts: an OpenAI-compatible chat-completions
// endpoint and an asynchronous image provider, on loopback, deterministic (an answer depends only
// on the request, and on how many times a job was polled). Plain ESM so that it runs with no build
// (`npm run stubs`) and the tests import it as it is; the types are in stub-providers.d.mts.
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
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createServer } from 'node:http';
import sharp from 'sharp';
import { hash32, sampleFromSchema } from './schema-sample.mjs';

/** The port `npm run stubs` listens on unless told otherwise; the examples' config defaults to it. */
export const DEFAULT_STUB_PORT = 4010;

/** The API key the printed settings use: any value works, the stubs check none. */
export const STUB_API_KEY = 'stub-key-not-a-secret';

export const FAIL_MESSAGE = 'the stub provider refused this prompt ([fail] marker)';

const MAX_BODY_BYTES = 1024 * 1024;
const MAX_PROMPT_CHARS = 4000;
/** Jobs kept (the oldest are forgotten first), and idempotency keys remembered. */
const MAX_JOBS = 5000;
const MAX_KEYS = 10_000;
const MAX_RECENT = 100;

const markers = {
  llmFail: /\[llm-fail\]/i,
  fail: /\[fail\]/i,
  never: /\[never\]/i,
  notImage: /\[not-image\]/i,
  polls: /\[polls=(\d{1,4})\]/i,
};

const NOT_IMAGE_BYTES = Buffer.from(
  'This is not an image: the stub provider was asked for one with the [not-image] marker.\n',
);

/** Sets a key in a Map used as a bounded, oldest-first store. */
function boundedSet(map, key, value, limit) {
  map.delete(key);
  map.set(key, value);
  while (map.size > limit) map.delete(map.keys().next().value);
}

function pushRecent(list, entry) {
  list.push(entry);
  if (list.length > MAX_RECENT) list.splice(0, list.length - MAX_RECENT);
}

function emptyStats() {
  return {
    llm: { calls: 0, by_idempotency_key: new Map() },
    images: {
      submissions: 0,
      jobs_created: 0,
      duplicate_submissions: 0,
      polls: 0,
      downloads: 0,
      by_idempotency_key: new Map(),
    },
  };
}

function countKey(map, key) {
  if (key === null) return;
  boundedSet(map, key, (map.get(key) ?? 0) + 1, MAX_KEYS);
}

class HttpError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

async function readJson(req) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new HttpError(413, `the body is over ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  try {
    return JSON.parse(text);
  } catch {
    throw new HttpError(400, 'the body is not JSON');
  }
}

const headerValue = (value) => (Array.isArray(value) ? (value[0] ?? null) : (value ?? null));

/** The text of a chat message's content (a string, or OpenAI's list of parts). */
function contentText(content) {
  if (typeof content === 'string') return content;
  if (Array.isArray(content))
    return content
      .map((part) => (typeof part?.text === 'string' ? part.text : ''))
      .filter(Boolean)
      .join('\n');
  return '';
}

/** The deterministic answer to a chat-completions request (or an HttpError for a bad one). */
export function chatAnswer(body) {
  if (typeof body !== 'object' || body === null || !Array.isArray(body.messages))
    throw new HttpError(400, 'messages must be an array');
  if (body.messages.length === 0) throw new HttpError(400, 'messages must not be empty');
  const texts = body.messages.map((message) => contentText(message?.content));
  const all = texts.join('\n');
  if (markers.llmFail.test(all))
    throw new HttpError(500, 'the stub LLM failed on purpose ([llm-fail] marker)');
  const lastUser =
    contentText(body.messages.findLast((message) => message?.role === 'user')?.content) ||
    (texts.at(-1) ?? '');
  const model = typeof body.model === 'string' && body.model !== '' ? body.model : 'stub';
  const seed = createHash('sha256')
    .update(JSON.stringify([model, body.messages, body.response_format ?? null]))
    .digest('hex');
  const format = body.response_format;
  let content;
  if (format?.type === 'json_schema' && format.json_schema && 'schema' in format.json_schema) {
    content = JSON.stringify(sampleFromSchema(format.json_schema.schema, { seed, prompt: all }));
  } else if (format?.type === 'json_object') {
    content = JSON.stringify({ answer: `Stub answer to: ${lastUser.slice(0, 200)}` });
  } else {
    const start = lastUser.replace(/\s+/g, ' ').trim();
    content = `Stub answer to "${start.length > 120 ? `${start.slice(0, 120)}…` : start}" (reply ${seed.slice(0, 8)}).`;
  }
  const promptTokens = Math.max(1, Math.ceil(all.length / 4));
  const completionTokens = Math.max(1, Math.ceil(content.length / 4));
  return {
    id: `chatcmpl-stub-${seed.slice(0, 24)}`,
    object: 'chat.completion',
    created: 1_700_000_000,
    model,
    choices: [
      { index: 0, message: { role: 'assistant', content }, logprobs: null, finish_reason: 'stop' },
    ],
    usage: {
      prompt_tokens: promptTokens,
      completion_tokens: completionTokens,
      total_tokens: promptTokens + completionTokens,
    },
  };
}

/** `{prompt, n, size}` from an image request's body, defaults filled in (or an HttpError). */
function imageRequest(body) {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw new HttpError(400, 'the body must be a JSON object');
  const { prompt, n = 1, size = 64 } = body;
  if (typeof prompt !== 'string' || prompt.trim() === '')
    throw new HttpError(400, 'prompt must be a non-empty string');
  if (prompt.length > MAX_PROMPT_CHARS)
    throw new HttpError(400, `prompt must be at most ${MAX_PROMPT_CHARS} characters`);
  if (!Number.isInteger(n) || n < 1 || n > 8)
    throw new HttpError(400, 'n must be an integer from 1 to 8');
  if (!Number.isInteger(size) || size < 16 || size > 512)
    throw new HttpError(400, 'size must be an integer from 16 to 512');
  return { prompt, n, size };
}

/** How a job behaves, read off its prompt's markers. */
function jobMode(prompt, pollsToFinish) {
  const polls = markers.polls.exec(prompt);
  return {
    fail: markers.fail.test(prompt),
    never: markers.never.test(prompt),
    notImage: markers.notImage.test(prompt),
    pollsToFinish: polls ? Math.max(1, Number(polls[1])) : pollsToFinish,
  };
}

/** A job's status after `polls` polls (0: not polled yet); a job never goes back. */
function statusAfter(job, polls) {
  if (job.sync) return job.mode.fail ? 'failed' : 'succeeded';
  if (polls === 0) return 'queued';
  if (job.mode.fail) return polls >= 2 ? 'failed' : 'queued';
  if (job.mode.never) return polls >= 2 ? 'running' : 'queued';
  if (polls >= job.mode.pollsToFinish) return 'succeeded';
  return polls === 1 ? 'queued' : 'running';
}

function hsl(hue, saturation, lightness) {
  const s = saturation / 100;
  const l = lightness / 100;
  const k = (n) => (n + hue / 30) % 12;
  const a = s * Math.min(l, 1 - l);
  const f = (n) => l - a * Math.max(-1, Math.min(k(n) - 3, Math.min(9 - k(n), 1)));
  return [Math.round(f(0) * 255), Math.round(f(8) * 255), Math.round(f(4) * 255)];
}

/**
 * The i-th image of a prompt: a diagonal gradient between two colours and a disc, all chosen by a
 * hash of (prompt, i), encoded as PNG by sharp. The same arguments always give the same bytes.
 */
export async function stubImage(prompt, index, size) {
  const h = hash32('image', prompt, String(index));
  const from = hsl(h % 360, 70, 60);
  const to = hsl((h % 360) + 120 + ((h >>> 9) % 120), 65, 35);
  const disc = hsl((h >>> 17) % 360, 80, 50);
  const cx = ((h >>> 3) % 60) / 100 + 0.2;
  const cy = ((h >>> 11) % 60) / 100 + 0.2;
  const radius = (0.12 + ((h >>> 21) % 20) / 100) * size;
  const pixels = Buffer.alloc(size * size * 3);
  for (let y = 0; y < size; y += 1) {
    for (let x = 0; x < size; x += 1) {
      const offset = (y * size + x) * 3;
      const inDisc = (x - cx * size) ** 2 + (y - cy * size) ** 2 <= radius ** 2;
      const t = size > 1 ? (x + y) / (2 * (size - 1)) : 0;
      for (let c = 0; c < 3; c += 1)
        pixels[offset + c] = inDisc ? disc[c] : Math.round(from[c] + (to[c] - from[c]) * t);
    }
  }
  return sharp(pixels, { raw: { width: size, height: size, channels: 3 } })
    .png({ compressionLevel: 9 })
    .toBuffer();
}

function sendJson(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
  });
  res.end(text);
}

const errorBody = (message, type = 'invalid_request_error') => ({ error: { message, type } });

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
  let stats = emptyStats();
  /** Jobs by id, oldest first: small records only (the images are made when downloaded). */
  const jobs = new Map();
  /** The job an idempotency key created, by endpoint and key. */
  const answered = new Map();
  const recent = { llm: [], images: [] };
  let jobCounter = 0;
  let baseUrl = '';

  const newJob = (request, sync) => {
    jobCounter += 1;
    const job = {
      id: `job_${jobCounter}`,
      prompt: request.prompt,
      n: request.n,
      size: request.size,
      mode: jobMode(request.prompt, pollsToFinish),
      sync,
      polls: 0,
    };
    boundedSet(jobs, job.id, job, MAX_JOBS);
    stats.images.jobs_created += 1;
    return job;
  };

  const jobView = (job, status) => ({
    id: job.id,
    status,
    ...(status === 'succeeded'
      ? {
          output: Array.from(
            { length: job.n },
            (_, i) => `${baseUrl}/images/files/${job.id}/${i}.png`,
          ),
        }
      : {}),
    ...(status === 'failed' ? { error: { message: FAIL_MESSAGE } } : {}),
  });

  /** The bytes of a job's i-th file and their media type. */
  const fileOf = async (job, index) =>
    job.mode.notImage
      ? { type: 'text/plain; charset=utf-8', bytes: NOT_IMAGE_BYTES }
      : { type: 'image/png', bytes: await stubImage(job.prompt, index, job.size) };

  /**
   * A submission, with idempotency: a key seen before (on this endpoint) gets its first job again
   * and creates nothing; the answer is rebuilt from the job, which gives the same bytes.
   */
  const submit = async (req, endpoint) => {
    const key = headerValue(req.headers['idempotency-key']);
    const request = imageRequest(await readJson(req));
    stats.images.submissions += 1;
    countKey(stats.images.by_idempotency_key, key);
    const keyed = key === null ? null : `${endpoint}\u0000${key}`;
    const earlier = keyed === null ? undefined : jobs.get(answered.get(keyed));
    const job = earlier ?? newJob(request, endpoint === 'generate');
    if (earlier) stats.images.duplicate_submissions += 1;
    else if (keyed !== null) boundedSet(answered, keyed, job.id, MAX_JOBS);
    pushRecent(recent.images, {
      kind: endpoint,
      job_id: job.id,
      prompt: request.prompt.slice(0, 500),
      idempotency_key: key,
      duplicate: earlier !== undefined,
    });
    return job;
  };

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
    {
      method: 'POST',
      path: /^\/llm\/v1\/chat\/completions$/,
      handle: async (req, res) => {
        const key = headerValue(req.headers['idempotency-key']);
        stats.llm.calls += 1;
        countKey(stats.llm.by_idempotency_key, key);
        let body = null;
        try {
          body = await readJson(req);
          const answer = chatAnswer(body);
          pushRecent(recent.llm, llmRecord(body, key, 200));
          sendJson(res, 200, answer);
        } catch (error) {
          const status = error instanceof HttpError ? error.status : 500;
          pushRecent(recent.llm, llmRecord(body, key, status));
          throw error;
        }
      },
    },
    {
      method: 'GET',
      path: /^\/llm\/v1\/models$/,
      handle: (_req, res) =>
        sendJson(res, 200, {
          object: 'list',
          data: [{ id: 'stub', object: 'model', created: 1_700_000_000, owned_by: 'stepwise' }],
        }),
    },
    {
      method: 'POST',
      path: /^\/images\/v1\/jobs$/,
      handle: async (req, res) => {
        const job = await submit(req, 'jobs');
        sendJson(res, 202, { id: job.id, status: 'queued' });
      },
    },
    {
      method: 'GET',
      path: /^\/images\/v1\/jobs\/([\w-]{1,64})$/,
      handle: (_req, res, [, id]) => {
        const job = jobs.get(id);
        if (!job) throw new HttpError(404, `no job '${id}'`);
        stats.images.polls += 1;
        job.polls += 1;
        const status = statusAfter(job, job.polls);
        pushRecent(recent.images, { kind: 'poll', job_id: id, poll: job.polls, status });
        sendJson(res, 200, jobView(job, status));
      },
    },
    {
      method: 'POST',
      path: /^\/images\/v1\/generate$/,
      handle: async (req, res) => {
        const job = await submit(req, 'generate');
        const status = statusAfter(job, 0);
        if (status === 'failed')
          return sendJson(res, 200, { id: job.id, status, error: { message: FAIL_MESSAGE } });
        const images = [];
        for (let i = 0; i < job.n; i += 1)
          images.push({ b64: (await fileOf(job, i)).bytes.toString('base64') });
        sendJson(res, 200, { id: job.id, status, images });
      },
    },
    {
      method: 'GET',
      path: /^\/images\/files\/([\w-]{1,64})\/(\d{1,2})\.png$/,
      handle: async (_req, res, [, id, index]) => {
        const job = jobs.get(id);
        const i = Number(index);
        if (!job || i >= job.n) throw new HttpError(404, `no file ${index} of job '${id}'`);
        if (statusAfter(job, job.polls) !== 'succeeded')
          throw new HttpError(404, `job '${id}' has not succeeded`);
        const file = await fileOf(job, i);
        stats.images.downloads += 1;
        pushRecent(recent.images, { kind: 'download', job_id: id, file: i });
        res.writeHead(200, {
          'content-type': file.type,
          'content-length': file.bytes.length,
          'cache-control': 'public, max-age=31536000, immutable',
        });
        res.end(file.bytes);
      },
    },
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
      return {
        llm: {
          calls: stats.llm.calls,
          by_idempotency_key: Object.fromEntries(stats.llm.by_idempotency_key),
        },
        images: {
          submissions: stats.images.submissions,
          jobs_created: stats.images.jobs_created,
          duplicate_submissions: stats.images.duplicate_submissions,
          polls: stats.images.polls,
          downloads: stats.images.downloads,
          by_idempotency_key: Object.fromEntries(stats.images.by_idempotency_key),
        },
      };
    },
    recent() {
      return structuredClone(recent);
    },
    reset() {
      stats = emptyStats();
      recent.llm.length = 0;
      recent.images.length = 0;
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  return stubs;
}

function llmRecord(body, key, status) {
  const messages = Array.isArray(body?.messages) ? body.messages : [];
  return {
    idempotency_key: key,
    model: typeof body?.model === 'string' ? body.model : null,
    response_format:
      typeof body?.response_format?.type === 'string' ? body.response_format.type : null,
    messages: messages.slice(0, 20).map((message) => ({
      role: typeof message?.role === 'string' ? message.role : '',
      content: contentText(message?.content).slice(0, 4000),
    })),
    status,
  };
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
