// The Stepwise services as real processes (built `dist/main.js`, production defaults), over a
// database and queue prefix of their own, for benchmarks that need separate event loops or a
// process's resident memory. Built code only (npm run build first).
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { once } from 'node:events';
import { connectMongo, createModels, ensureIndexes } from '@stepwise/shared/node';
import { jsonCaller } from './json-caller.mjs';

const repoRoot = new URL('../../', import.meta.url).pathname;

async function freePort() {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address();
  server.close();
  return port;
}

/** Resident set size of a process, in bytes (Linux). */
export function rssOf(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return kib * 1024;
}

/** CPU seconds (user + system) a process has used so far (Linux). */
export function cpuSecondsOf(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ 100)
}

/** The pid listening on a loopback port, from `ss` (for the Redis and Mongo servers). */
function listenerPid(port) {
  try {
    const out = execFileSync('ss', ['-ltnpH', `sport = :${port}`], { encoding: 'utf8' });
    return Number(/pid=(\d+)/.exec(out)?.[1]) || undefined;
  } catch {
    return undefined;
  }
}

/** Pids of the Redis and MongoDB servers behind REDIS_URL and MONGO_URL, where they are local. */
export function storePids() {
  const pids = {};
  const redis = listenerPid(new URL(process.env.REDIS_URL).port || 6379);
  const mongo = listenerPid(new URL(process.env.MONGO_URL).port || 27017);
  if (redis) pids.redis = redis;
  if (mongo) pids.mongo = mongo;
  return pids;
}

/**
 * Where CPU went between `start()` and `stop()`: seconds per process, for the services and the
 * stores (and this bench process itself).
 */
export function cpuMeter(pids) {
  const all = { ...pids, ...storePids(), bench: process.pid };
  const read = () =>
    Object.fromEntries(Object.entries(all).map(([k, pid]) => [k, cpuSecondsOf(pid)]));
  let before;
  return {
    start: () => (before = read()),
    stop: () => {
      const after = read();
      return Object.fromEntries(
        Object.keys(after).map((k) => [k, Math.round((after[k] - before[k]) * 100) / 100]),
      );
    },
  };
}

// The image's NODE_OPTIONS (its heap cap), read from the Dockerfile so that the services run here
// as they do in production and the two cannot drift apart.
const imageNodeOptions = (() => {
  const line = /^ENV NODE_OPTIONS=(.+)$/m.exec(readFileSync(`${repoRoot}Dockerfile`, 'utf8'));
  if (!line) throw new Error('the Dockerfile sets no NODE_OPTIONS');
  return line[1].trim().replace(/^"(.*)"$/, '$1');
})();

function startService(name, env) {
  // BENCH_CPU_PROF=<dir> profiles every service (the profile is written when it exits).
  const profile = process.env.BENCH_CPU_PROF
    ? [
        '--cpu-prof',
        `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`,
        `--cpu-prof-name=${name}-\${pid}.cpuprofile`,
      ]
    : [];
  const child = spawn(process.execPath, [...profile, `services/${name}/dist/main.js`], {
    cwd: repoRoot,
    env: { PATH: process.env.PATH ?? '', NODE_OPTIONS: imageNodeOptions, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines = [];
  const readyLine = new Promise((resolve, reject) => {
    const onData = (chunk) => {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (!line.trim()) continue;
        if (lines.length < 200) lines.push(line);
        if (line.includes(`"${name} ready"`) || line.includes('"gateway listening"')) resolve();
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code, signal) =>
      reject(
        new Error(`${name} exited (${code ?? signal}) before it was ready:\n${lines.join('\n')}`),
      ),
    );
  });
  return { name, child, ready: readyLine, lines };
}

/**
 * Starts gateway, resolver and runner processes. `env` adds to (or overrides) every service's
 * environment. Answers the base URL, a bench user's key, a JSON caller, the models (a connection of
 * this process's own) and the services' pids.
 */
export async function startProcessStack({
  label,
  env = {},
  services = ['gateway', 'resolver', 'runner'],
}) {
  const { MONGO_URL, REDIS_URL } = process.env;
  if (!MONGO_URL || !REDIS_URL) throw new Error('set MONGO_URL and REDIS_URL');
  const url = new URL(MONGO_URL);
  url.pathname = `/bench_${label}_${randomBytes(3).toString('hex')}`;
  const mongoUrl = url.toString();
  const mongo = await connectMongo(mongoUrl);
  const models = createModels(mongo);
  await ensureIndexes(models);
  const adminToken = randomBytes(16).toString('hex');
  const port = await freePort();
  const common = {
    MONGO_URL: mongoUrl,
    REDIS_URL,
    QUEUE_PREFIX: `{bench_${randomBytes(3).toString('hex')}}`,
    LOG_LEVEL: 'info',
    ...env,
  };
  const processes = services.map((name) =>
    startService(
      name,
      name === 'gateway'
        ? {
            HOST: '127.0.0.1',
            PORT: String(port),
            ADMIN_TOKEN: adminToken,
            RATE_LIMIT_PER_WINDOW: '0',
            // Its own address, so that invitation links can be made (the web-app scenario).
            PUBLIC_URL: `http://127.0.0.1:${port}`,
            ...common,
          }
        : common,
    ),
  );
  await Promise.all(processes.map((p) => p.ready));
  const base = `http://127.0.0.1:${port}`;
  const created = await fetch(`${base}/v1/admin/users`, {
    method: 'POST',
    headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'bench', email: 'bench@example.com' }),
  });
  const user = await created.json();
  if (created.status !== 201) throw new Error(`creating the bench user: ${JSON.stringify(user)}`);
  const pids = Object.fromEntries(processes.map((p) => [p.name, p.child.pid]));

  return {
    base,
    adminToken,
    models,
    mongo,
    apiKey: user.api_key,
    queuePrefix: common.QUEUE_PREFIX,
    userId: user.user.user_id,
    pids,
    /** A JSON call as the bench user; throws on an error status. */
    call: jsonCaller(base, user.api_key),
    async close() {
      await Promise.all(
        processes.map(async (p) => {
          if (p.child.exitCode !== null || p.child.signalCode !== null) return;
          const exited = once(p.child, 'exit');
          p.child.kill('SIGTERM');
          const timer = setTimeout(() => p.child.kill('SIGKILL'), 10_000);
          await exited;
          clearTimeout(timer);
        }),
      );
      await mongo.dropDatabase();
      await mongo.close();
    },
  };
}
