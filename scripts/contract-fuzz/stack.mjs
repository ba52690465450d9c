// The stack the contract fuzzer tests: gateway, resolver and runner from the built dist, as child
// processes, on the given MongoDB and Redis but in a database and queue prefix of their own (a
// random suffix), so that neither tests running at the same time nor an earlier fuzz run can meet
// it. The gateway picks a free port itself (PORT=0) and logs it, which cannot race as probing for
// a free port and then binding it could.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, existsSync } from 'node:fs';

/** The address the fuzzer connects from and to: the gateway binds it, the limiter exempts it. */
export const FUZZER_ADDRESS = '127.0.0.1';

function withDatabase(url, name) {
  const parsed = new URL(url);
  parsed.pathname = `/${name}`;
  return parsed.toString();
}

/**
 * One service process. Its output goes to `logFile`; `waitFor` resolves with the first output line
 * that matches, and fails if the process exits first. `unexpectedExit` is set when it stops
 * without being asked to, which makes every failure after it suspect.
 */
function startService(root, name, env, logFile) {
  const script = `${root}services/${name}/dist/main.js`;
  if (!existsSync(script)) throw new Error(`${script} is missing; run npm run build first`);
  const child = spawn(process.execPath, [script], {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const log = createWriteStream(logFile);
  const lines = [];
  const waiters = new Set();
  let pending = '';
  const onData = (chunk) => {
    log.write(chunk);
    pending += chunk.toString('utf8');
    const complete = pending.split('\n');
    pending = complete.pop() ?? '';
    for (const line of complete) {
      // Only the first lines matter (readiness); a long run must not keep every request log.
      if (lines.length < 200) lines.push(line);
      for (const waiter of waiters) {
        if (waiter.matches(line)) {
          waiters.delete(waiter);
          waiter.resolve(line);
        }
      }
    }
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const service = { name, child, stopping: false, unexpectedExit: null };
  const exited = new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      log.end();
      if (!service.stopping) service.unexpectedExit = `${name} exited (${code ?? signal})`;
      for (const waiter of waiters) {
        waiter.reject(new Error(`${name} exited before it was ready:\n${lines.join('\n')}`));
      }
      waiters.clear();
      resolve(undefined);
    });
  });
  service.exited = exited;
  service.waitFor = (matches, timeoutMs = 60_000) =>
    new Promise((resolve, reject) => {
      const seen = lines.find(matches);
      if (seen !== undefined) return resolve(seen);
      const timer = setTimeout(() => {
        waiters.delete(waiter);
        reject(new Error(`${name} not ready within ${timeoutMs} ms:\n${lines.join('\n')}`));
      }, timeoutMs);
      const waiter = {
        matches,
        resolve: (line) => (clearTimeout(timer), resolve(line)),
        reject: (error) => (clearTimeout(timer), reject(error)),
      };
      waiters.add(waiter);
    });
  return service;
}

async function stopService(service, graceMs = 15_000) {
  if (service.child.exitCode !== null || service.child.signalCode !== null) return;
  service.stopping = true;
  service.child.kill('SIGTERM');
  const timer = setTimeout(() => service.child.kill('SIGKILL'), graceMs);
  await service.exited;
  clearTimeout(timer);
}

/** Drops the stack's database and deletes its queue keys, so repeated runs leave nothing behind. */
async function dropStackData({ mongoUrl, redisUrl, queuePrefix }) {
  const { connectMongo, connectRedis } = await import('@stepwise/shared/node');
  const { redisNamespace } = await import('@stepwise/shared');
  const mongo = await connectMongo(mongoUrl);
  await mongo.dropDatabase();
  await mongo.close();
  // A worker connection queues commands until it is connected; a client one would refuse them.
  const redis = connectRedis(redisUrl, 'worker');
  // Every key of ours names our namespace (docs/scaling.md, "Redis key layout"); on a cluster,
  // each master is scanned (SCAN sees only the node it is sent to) and keys deleted one by one
  // (they live in different slots).
  const pattern = `*${redisNamespace(queuePrefix)}*`;
  const nodes = 'nodes' in redis ? redis.nodes('master') : [redis];
  for (const node of nodes) {
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      cursor = next;
      await Promise.all(keys.map((key) => redis.del(key)));
    } while (cursor !== '0');
  }
  await redis.quit();
}

/**
 * Starts the three services and waits until each says it is ready. `extraEnv` goes to all of
 * them. Answers the gateway's base URL, the admin token, and `stop({ keepData })`.
 */
export async function startStack({ root, mongoUrl, redisUrl, logDir, extraEnv = {} }) {
  const suffix = randomBytes(4).toString('hex');
  const databaseName = `contract_fuzz_${suffix}`;
  const queuePrefix = `{contract_fuzz_${suffix}}`;
  const adminToken = randomBytes(24).toString('base64url');
  const common = {
    MONGO_URL: withDatabase(mongoUrl, databaseName),
    REDIS_URL: redisUrl,
    QUEUE_PREFIX: queuePrefix,
    LOG_LEVEL: 'info',
    // Users' secrets are stored and read (without a master key every secret route is 501).
    SECRETS_MASTER_KEY: randomBytes(32).toString('base64'),
    ...extraEnv,
  };
  const gateway = startService(
    root,
    'gateway',
    {
      ...common,
      HOST: FUZZER_ADDRESS,
      PORT: '0',
      ADMIN_TOKEN: adminToken,
      // The fuzzer is one user sending thousands of requests a minute; a 429 from the per-user
      // limiter would only hide what the request would have answered.
      RATE_LIMIT_PER_WINDOW: '0',
      // It also sends wrong and missing credentials on purpose (ignored_auth, negative cases);
      // docs/contract-testing.md explains why exempting its loopback address is safe.
      AUTH_FAILURES_EXEMPT_ADDRESSES: FUZZER_ADDRESS,
      // A configured deployment makes invitation links; the fuzzer never opens one, so any
      // address will do (without it, making an invitation is 501 NOT_CONFIGURED).
      PUBLIC_URL: 'http://stepwise.invalid',
    },
    `${logDir}/gateway.log`,
  );
  const resolver = startService(root, 'resolver', common, `${logDir}/resolver.log`);
  const runner = startService(root, 'runner', common, `${logDir}/runner.log`);
  const services = [gateway, resolver, runner];
  const stack = {
    databaseName,
    queuePrefix,
    adminToken,
    base: '',
    services,
    /** A description of each service that stopped on its own, for the summary. */
    crashes: () => services.map((service) => service.unexpectedExit).filter(Boolean),
    async stop({ keepData = false } = {}) {
      await Promise.all(services.map((service) => stopService(service)));
      if (!keepData) await dropStackData({ mongoUrl: common.MONGO_URL, redisUrl, queuePrefix });
    },
  };
  try {
    const listening = JSON.parse(
      await gateway.waitFor((line) => line.includes('"gateway listening"')),
    );
    stack.base = `http://${FUZZER_ADDRESS}:${listening.port}`;
    await Promise.all([
      resolver.waitFor((line) => line.includes('"resolver ready"')),
      runner.waitFor((line) => line.includes('"runner ready"')),
    ]);
  } catch (error) {
    await stack.stop();
    throw error;
  }
  return stack;
}
