// Resolver timing: submission → version through the real HTTP API and a real resolver worker, for
// the example bundle and a ~10 MB bundle, next to a baseline measured in the same run (sha256 plus
// unzip of the same bytes in one process). Needs MONGO_URL and REDIS_URL and a build (npm run build).
//   node bench/resolver.mjs [--runs N]
import { once } from 'node:events';
import { createHash, randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { QueueEvents } from 'bullmq';
import JSZip from 'jszip';
import { pino } from 'pino';
import { createModuleCatalog, jobCatalog } from '@stepwise/shared';
import {
  JobQueue,
  connectMongo,
  connectRedis,
  createModels,
  ensureIndexes,
  startWorker,
} from '@stepwise/shared/node';
import { createGatewayApp } from '../services/gateway/dist/app.js';
import { RunNotifications } from '../services/gateway/dist/runs/run-notifications.js';
import { createResolveHandler } from '../services/resolver/dist/resolve-submission.js';

const runs = Number(process.argv[process.argv.indexOf('--runs') + 1]) || 7;
const { MONGO_URL, REDIS_URL } = process.env;
if (!MONGO_URL || !REDIS_URL) throw new Error('set MONGO_URL and REDIS_URL');

const root = new URL('..', import.meta.url).pathname;
const silent = pino({ level: 'silent' });
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function readTree(dir) {
  const files = new Map();
  const walk = (current) => {
    for (const name of readdirSync(current)) {
      const path = join(current, name);
      if (statSync(path).isDirectory()) walk(path);
      else files.set(relative(dir, path), readFileSync(path));
    }
  };
  walk(dir);
  return files;
}

const zip = (files) => {
  const archive = new JSZip();
  for (const [path, bytes] of files) archive.file(path, bytes);
  return archive.generateAsync({ type: 'nodebuffer', compression: 'DEFLATE' });
};

/** The example tree with a unique marker, so every run makes a new version. */
async function exampleVariant(extraPromptBytes = 0) {
  const files = readTree(join(root, 'examples/pet-clips'));
  const filler =
    extraPromptBytes > 0 ? randomBytes(Math.floor(extraPromptBytes * 0.75)).toString('base64') : '';
  files.set(
    'prompts/video.liquid',
    Buffer.concat([
      files.get('prompts/video.liquid'),
      Buffer.from(`\n${randomBytes(8).toString('hex')}\n${filler}`),
    ]),
  );
  return zip(files);
}

async function baseline(bytes) {
  const started = performance.now();
  createHash('sha256').update(bytes).digest('hex');
  const archive = await JSZip.loadAsync(bytes);
  for (const file of Object.values(archive.files)) if (!file.dir) await file.async('nodebuffer');
  return performance.now() - started;
}

const database = `bench_resolver_${randomBytes(4).toString('hex')}`;
const mongoUrl = new URL(MONGO_URL);
mongoUrl.pathname = `/${database}`;
const mongo = await connectMongo(mongoUrl.toString());
const models = createModels(mongo);
await ensureIndexes(models);
const prefix = `{bench_${randomBytes(4).toString('hex')}}`;
const redis = connectRedis(REDIS_URL, 'client');
const worker = startWorker({
  kind: 'resolve',
  connection: connectRedis(REDIS_URL, 'worker'),
  prefix,
  concurrency: 1,
  logger: silent,
  handler: createResolveHandler({
    mongo,
    models,
    catalog: createModuleCatalog(),
    inlineLimitBytes: 4 * 1024 * 1024,
    limits: { maxEntries: 1000, maxUncompressedBytes: 100 * 1024 * 1024, maxCompressionRatio: 100 },
  }),
});
const resolveEvents = new QueueEvents(jobCatalog.resolve.queue, {
  connection: connectRedis(REDIS_URL, 'worker'),
  prefix,
});
await resolveEvents.waitUntilReady();
const queues = {
  resolve: new JobQueue('resolve', redis, prefix),
  runCommand: new JobQueue('runCommand', redis, prefix),
  maintenance: new JobQueue('maintenance', redis, prefix),
};
const adminToken = randomBytes(16).toString('hex');
const runEvents = new QueueEvents(jobCatalog.runCommand.queue, {
  connection: connectRedis(REDIS_URL, 'worker'),
  prefix,
});
const subscriber = connectRedis(REDIS_URL, 'worker');
const server = createGatewayApp({
  mongo,
  redis,
  queuePrefix: prefix,
  models,
  logger: silent,
  queues,
  resolveEvents,
  runEvents,
  notifications: new RunNotifications(subscriber, prefix),
  shutdown: new AbortController().signal,
  settings: {
    adminToken,
    maxJsonBodyBytes: 1024 * 1024,
    maxUploadBytes: 50 * 1024 * 1024,
    sseHeartbeatMs: 15_000,
    rateLimit: { limit: 0, windowMs: 60_000 },
  },
  probes: [],
  isDraining: () => false,
}).listen(0, '127.0.0.1');
await once(server, 'listening');
const base = `http://127.0.0.1:${server.address().port}`;
const user = await (
  await fetch(`${base}/v1/admin/users`, {
    method: 'POST',
    headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'bench', email: 'bench@example.com' }),
  })
).json();

async function submitTimed(bytes) {
  const started = performance.now();
  const response = await fetch(`${base}/v1/workflows`, {
    method: 'POST',
    headers: { authorization: `Bearer ${user.api_key}`, 'content-type': 'application/zip' },
    body: bytes,
  });
  const body = await response.json();
  if (response.status !== 201) throw new Error(`${response.status} ${JSON.stringify(body)}`);
  return performance.now() - started;
}

const results = {};
for (const [name, extra] of [
  ['example bundle', 0],
  ['10 MB bundle', 13.4 * 1024 * 1024],
]) {
  const stepwise = [];
  const baselines = [];
  let size = 0;
  await submitTimed(await exampleVariant(extra)); // warm-up
  for (let i = 0; i < runs; i++) {
    const bytes = await exampleVariant(extra);
    size = bytes.length;
    baselines.push(await baseline(bytes));
    stepwise.push(await submitTimed(bytes));
  }
  results[name] = {
    bytes: size,
    stepwise_median_ms: median(stepwise),
    baseline_median_ms: median(baselines),
    ratio: median(stepwise) / median(baselines),
  };
}
console.log(JSON.stringify({ runs, results }, null, 2));
for (const [name, r] of Object.entries(results)) {
  console.log(
    `${name} (${(r.bytes / 1024).toFixed(1)} KiB zip): submission→version median ${r.stepwise_median_ms.toFixed(1)} ms; sha256+unzip baseline ${r.baseline_median_ms.toFixed(1)} ms; ratio ${r.ratio.toFixed(1)}x`,
  );
}

server.closeAllConnections();
server.close();
await worker.close();
await resolveEvents.close();
await runEvents.close();
subscriber.disconnect();
await queues.resolve.close();
await queues.runCommand.close();
await queues.maintenance.close();
redis.disconnect();
await mongo.dropDatabase();
await mongo.close();
process.exit(0);
