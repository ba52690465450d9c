// The stub image provider: asynchronous jobs that are polled until they succeed, the files of a
// succeeded job, and a synchronous endpoint. A job's status depends only on how many times it was
// polled, and its images only on (prompt, i, size), so that the same request gives the same bytes.
// The markers `[fail]`, `[never]`, `[not-image]` and `[polls=N]` in a prompt change what a job does.
import sharp from 'sharp';
import {
  HttpError,
  boundedSet,
  countKey,
  headerValue,
  pushRecent,
  readJson,
  sendJson,
} from './common.mjs';
import { hash32 } from './schema-sample.mjs';

export const FAIL_MESSAGE = 'the stub provider refused this prompt ([fail] marker)';

const MAX_PROMPT_CHARS = 4000;
/** Jobs kept (the oldest are forgotten first), and idempotency keys remembered. */
const MAX_JOBS = 5000;

const markers = {
  fail: /\[fail\]/i,
  never: /\[never\]/i,
  notImage: /\[not-image\]/i,
  polls: /\[polls=(\d{1,4})\]/i,
};

const NOT_IMAGE_BYTES = Buffer.from(
  'This is not an image: the stub provider was asked for one with the [not-image] marker.\n',
);

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

const emptyStats = () => ({
  submissions: 0,
  jobs_created: 0,
  duplicate_submissions: 0,
  polls: 0,
  downloads: 0,
  by_idempotency_key: new Map(),
});

/**
 * The image provider's routes (for the server in stub-providers.mjs), with its jobs, counters and
 * recent events: `stats()` and `recent()` are the `images` parts of the stubs' own. `baseUrl()` is
 * the stubs' public URL, known once the server listens, that a job's file URLs start with.
 */
export function createImages({ pollsToFinish, baseUrl }) {
  let stats = emptyStats();
  /** Jobs by id, oldest first: small records only (the images are made when downloaded). */
  const jobs = new Map();
  /** The job an idempotency key created, by endpoint and key. */
  const answered = new Map();
  const recent = [];
  let jobCounter = 0;

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
    stats.jobs_created += 1;
    return job;
  };

  const jobView = (job, status) => ({
    id: job.id,
    status,
    ...(status === 'succeeded'
      ? {
          output: Array.from(
            { length: job.n },
            (_, i) => `${baseUrl()}/images/files/${job.id}/${i}.png`,
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
    stats.submissions += 1;
    countKey(stats.by_idempotency_key, key);
    const keyed = key === null ? null : `${endpoint}\u0000${key}`;
    const earlier = keyed === null ? undefined : jobs.get(answered.get(keyed));
    const job = earlier ?? newJob(request, endpoint === 'generate');
    if (earlier) stats.duplicate_submissions += 1;
    else if (keyed !== null) boundedSet(answered, keyed, job.id, MAX_JOBS);
    pushRecent(recent, {
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
        stats.polls += 1;
        job.polls += 1;
        const status = statusAfter(job, job.polls);
        pushRecent(recent, { kind: 'poll', job_id: id, poll: job.polls, status });
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
        stats.downloads += 1;
        pushRecent(recent, { kind: 'download', job_id: id, file: i });
        res.writeHead(200, {
          'content-type': file.type,
          'content-length': file.bytes.length,
          'cache-control': 'public, max-age=31536000, immutable',
        });
        res.end(file.bytes);
      },
    },
  ];
  return {
    routes,
    stats: () => ({ ...stats, by_idempotency_key: Object.fromEntries(stats.by_idempotency_key) }),
    recent: () => structuredClone(recent),
    /** Clears the counters and the recent events; jobs and idempotency keys are kept. */
    reset() {
      stats = emptyStats();
      recent.length = 0;
    },
  };
}
