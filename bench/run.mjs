// `npm run bench [-- --quick] [--only engine,scale] [--store memory|durable]`: every benchmark
// scenario, each in a process of its own, each figure next to a baseline measured in the same run.
// Writes bench/results/<timestamp>.json and prints a Markdown table for docs/performance.md, headed
// by the store it ran on. Uses MONGO_URL and REDIS_URL when set; otherwise starts Redis and the
// MongoDB stand-in itself (scripts/local-services.sh), in memory like the tests unless
// `--store durable` asks for the local stack's stores (Redis AOF, the stand-in's H2 file, started
// empty), and stops them at the end. Needs a build (npm run build).
import { execFileSync, spawn } from 'node:child_process';
import { cpus, totalmem, release } from 'node:os';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { Redis } from 'ioredis';
import mongoose from 'mongoose';

const root = new URL('..', import.meta.url).pathname;
const quick = process.argv.includes('--quick');
const option = (name) => {
  const at = process.argv.indexOf(name);
  return at === -1 ? undefined : process.argv[at + 1];
};
const only = option('--only')?.split(',');
const scenarios = [
  'engine',
  'interaction',
  'resolver',
  'gateway-reads',
  'capacity',
  'scale',
  'memory',
  'versions',
  'notifications',
  'web-app',
  'run-page',
].filter((name) => !only || only.includes(name));
const storeChoice = option('--store') ?? 'memory';
if (!['memory', 'durable'].includes(storeChoice)) {
  console.error(`--store must be memory or durable, not ${storeChoice}`);
  process.exit(2);
}

const storeDescriptions = {
  memory: 'in memory (Redis without persistence, the MongoDB stand-in in memory), as in the tests',
  durable:
    'durable, as `npm run stack` (Redis append-only file with fsync every second, the MongoDB stand-in in an H2 file committed on every write)',
};
let store = storeDescriptions[storeChoice];
let stopServices = () => undefined;
if (!process.env.MONGO_URL || !process.env.REDIS_URL) {
  const env = {
    ...process.env,
    REDIS_PORT: process.env.BENCH_REDIS_PORT ?? '16391',
    MONGO_PORT: process.env.BENCH_MONGO_PORT ?? '37031',
    STEPWISE_LOCAL_DIR: `${root}.local/bench`,
  };
  // A durable run starts from empty files, so one run's data does not slow the next.
  if (storeChoice === 'durable')
    rmSync(`${root}.local/bench/data`, { recursive: true, force: true });
  const exports = execFileSync(
    'bash',
    ['scripts/local-services.sh', 'start', ...(storeChoice === 'durable' ? ['--durable'] : [])],
    { cwd: root, env, encoding: 'utf8' },
  );
  for (const line of exports.split('\n')) {
    const match = /^(MONGO_URL|REDIS_URL)=(.*)$/.exec(line.trim());
    if (match) process.env[match[1]] = match[2];
  }
  stopServices = () =>
    execFileSync('bash', ['scripts/local-services.sh', 'stop'], { cwd: root, env });
  process.on('exit', () => stopServices());
} else {
  store = 'the servers at MONGO_URL and REDIS_URL (not started by the bench)';
}

async function machine() {
  const version = (pkg) =>
    JSON.parse(readFileSync(`${root}node_modules/${pkg}/package.json`, 'utf8')).version;
  const redis = new Redis(process.env.REDIS_URL);
  const redisVersion = /redis_version:(\S+)/.exec(await redis.info('server'))?.[1];
  // What Redis itself says of its persistence, whoever started it.
  const [, appendOnly] = await redis.config('GET', 'appendonly');
  await redis.quit();
  const connection = await mongoose.createConnection(process.env.MONGO_URL).asPromise();
  const build = await connection.db.admin().command({ buildInfo: 1 });
  await connection.close();
  return {
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    memory_gib: Math.round(totalmem() / 2 ** 30),
    kernel: release(),
    node: process.version,
    redis: redisVersion,
    redis_appendonly: appendOnly,
    store,
    mongo: `${build.version} (wire server at ${new URL(process.env.MONGO_URL).host})`,
    packages: Object.fromEntries(
      ['bullmq', 'mongoose', 'mongodb', 'express', 'ioredis', 'liquidjs', 'zod'].map((p) => [
        p,
        version(p),
      ]),
    ),
  };
}

/** Runs one scenario script; answers its BENCH_RESULT, or throws with its output. */
async function runScenario(name) {
  const child = spawn(process.execPath, [`bench/${name}.mjs`, ...(quick ? ['--quick'] : [])], {
    cwd: root,
    env: process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let result = null;
  const output = [];
  const onLine = (line) => {
    if (line.startsWith('BENCH_RESULT ')) result = JSON.parse(line.slice('BENCH_RESULT '.length));
    else if (line.trim()) {
      output.push(line);
      console.log(`  [${name}] ${line}`);
    }
  };
  let pending = '';
  const onData = (chunk) => {
    pending += chunk.toString('utf8');
    const lines = pending.split('\n');
    pending = lines.pop();
    lines.forEach(onLine);
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const timer = setTimeout(() => child.kill('SIGKILL'), (quick ? 3 : 20) * 60_000);
  const [code] = await once(child, 'exit');
  clearTimeout(timer);
  if (pending) onLine(pending);
  if (code !== 0 || !result) throw new Error(`scenario ${name} failed (exit ${code})`);
  return result;
}

const format = (value) =>
  Math.abs(value) >= 100 ? Math.round(value).toLocaleString('en') : String(value);

function table(results) {
  const rows = [
    '| scenario | measure | Stepwise | baseline | ratio | target |',
    '| --- | --- | --- | --- | --- | --- |',
  ];
  for (const result of results)
    for (const f of result.figures)
      rows.push(
        `| ${result.scenario} | ${f.measure} | ${format(f.stepwise)} ${f.unit} | ${f.baseline_label}: ${format(f.baseline)} ${f.unit} | ${f.ratio} | ${f.target ? `${f.target} ${f.met ? '✓' : '✗'}` : ''} |`,
      );
  return rows.join('\n');
}

const startedAt = new Date();
const info = await machine();
console.log(
  `bench (${quick ? 'quick' : 'full'}) on ${info.cores}× ${info.cpu}, Node ${info.node}, Redis ${info.redis}, Mongo ${info.mongo}`,
);
console.log(`store: ${store}; Redis appendonly=${info.redis_appendonly}`);
const results = [];
const failures = [];
for (const name of scenarios) {
  const began = performance.now();
  console.log(`\n== ${name}`);
  try {
    results.push({
      ...(await runScenario(name)),
      seconds: Math.round((performance.now() - began) / 1000),
    });
  } catch (error) {
    failures.push(name);
    console.error(String(error));
  }
}
const finishedAt = new Date();
mkdirSync(`${root}bench/results`, { recursive: true });
const file = `bench/results/${startedAt.toISOString().replace(/[:.]/g, '-')}${quick ? '-quick' : ''}.json`;
writeFileSync(
  `${root}${file}`,
  `${JSON.stringify({ started_at: startedAt, finished_at: finishedAt, quick, machine: info, scenarios: results, failures }, null, 2)}\n`,
);
console.log(`\nStore: ${store}; Redis appendonly=${info.redis_appendonly}\n\n${table(results)}\n`);
console.log(
  `${results.length} scenarios in ${Math.round((finishedAt - startedAt) / 1000)} s; results in ${file}` +
    (failures.length ? `; FAILED: ${failures.join(', ')}` : ''),
);
stopServices();
stopServices = () => undefined;
process.exit(failures.length ? 1 : 0);
