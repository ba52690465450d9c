// The processes a soak run owns and hurts: its own Redis (append-only file, fsync every second, as
// in docker-compose.yml) and MongoDB stand-in, and the Stepwise services as real processes (built
// `dist/main.js`), each restartable on the same port and environment. The cluster soak
// (soak/cluster.mjs) starts its Redis Cluster with soak/redis-cluster.mjs and its load balancer
// with soak/haproxy.mjs instead, and several gateways here.
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, openSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';

const root = new URL('..', import.meta.url).pathname;

export async function freePort() {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address();
  server.close();
  return port;
}

export async function waitForPort(port, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const open = await new Promise((resolve) => {
      const socket = createConnection({ host: '127.0.0.1', port });
      socket.once('connect', () => (socket.destroy(), resolve(true)));
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on ${port} after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** A long-lived child process that can be killed, paused and started again the same way. */
export class ManagedProcess {
  constructor(name, command, args, { env = {}, port, logFile }) {
    Object.assign(this, { name, command, args, env, port, logFile });
    this.child = null;
    this.starts = 0;
    /** Exits nobody asked for (a crash), each restarted at once as a supervisor would. */
    this.crashes = [];
    this.stopping = false;
    this.supervised = true;
  }

  async start() {
    const log = openSync(this.logFile, 'a');
    const child = spawn(this.command, this.args, {
      cwd: root,
      env: { PATH: process.env.PATH ?? '', ...this.env },
      stdio: ['ignore', log, log],
    });
    this.child = child;
    this.exited = once(child, 'exit');
    this.starts += 1;
    child.on('exit', (code, signal) => {
      if (this.stopping || !this.supervised || this.child !== child) return;
      this.crashes.push({ code, signal, at: new Date().toISOString() });
      setTimeout(() => void this.start().catch(() => undefined), 1_000);
    });
    if (this.port) await waitForPort(this.port);
  }

  get running() {
    return this.child !== null && this.child.exitCode === null && this.child.signalCode === null;
  }

  signal(name) {
    if (this.running) this.child.kill(name);
  }

  /** Sends `signal`, waits for the exit (SIGKILL after `graceMs`). */
  async stop(signal = 'SIGTERM', graceMs = 15_000) {
    if (!this.running) return;
    const exited = this.exited;
    this.stopping = true;
    this.child.kill(signal);
    const timer = setTimeout(() => this.signal('SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
    this.stopping = false;
  }
}

/** Redis and the MongoDB stand-in, on free loopback ports, state in `dir`. */
export async function startStores(dir) {
  const [redis, mongo] = await Promise.all([startRedis(dir), startMongo(dir)]);
  return { ...redis, ...mongo };
}

/** A single Redis server with an append-only file in `dir`, on a free loopback port. */
export async function startRedis(dir) {
  mkdirSync(dir, { recursive: true });
  const redisPort = await freePort();
  const redis = new ManagedProcess(
    'redis',
    'redis-server',
    [
      '--port',
      String(redisPort),
      '--bind',
      '127.0.0.1',
      '--dir',
      dir,
      '--appendonly',
      'yes',
      '--appendfsync',
      'everysec',
      '--save',
      '',
    ],
    { port: redisPort, logFile: `${dir}/redis.log` },
  );
  await redis.start();
  return { redis, redisUrl: `redis://127.0.0.1:${redisPort}` };
}

/** The MongoDB stand-in (scripts/local-services.sh), in memory, on a free loopback port. */
export async function startMongo(dir) {
  mkdirSync(dir, { recursive: true });
  const mongoPort = await freePort();
  const [java, ...javaArgs] = execFileSync(
    'bash',
    ['scripts/local-services.sh', 'stand-in-command'],
    {
      cwd: root,
      encoding: 'utf8',
      env: { ...process.env, STEPWISE_LOCAL_DIR: dir },
    },
  )
    .trim()
    .split('\n')
    .at(-1)
    .split(' ');
  const mongo = new ManagedProcess(
    'mongo',
    java,
    [...javaArgs, '--host', '127.0.0.1', '--port', String(mongoPort)],
    { port: mongoPort, logFile: `${dir}/mongo.log` },
  );
  await mongo.start();
  return { mongo, mongoUrl: `mongodb://127.0.0.1:${mongoPort}/stepwise_soak` };
}

/**
 * `gateways` gateway processes (named `gateway` when there is one, `gateway-1`… otherwise), a
 * resolver and `runners` runner processes over the given stores; `runnerEnv` adds to the runners'
 * environment (the fake provider's LLM_BASE_URL, for one), `gatewayEnv` to the gateways' and
 * `commonEnv` to every service's (REDIS_CLUSTER, QUEUE_PREFIX).
 */
export async function startServices({
  dir,
  mongoUrl,
  redisUrl,
  adminToken,
  gateways = 1,
  runners = 2,
  runnerEnv: extraRunnerEnv = {},
  gatewayEnv = {},
  commonEnv = {},
}) {
  const common = {
    MONGO_URL: mongoUrl,
    REDIS_URL: redisUrl,
    QUEUE_PREFIX: '{soak}',
    LOG_LEVEL: 'info',
    SHUTDOWN_TIMEOUT_MS: '10000',
    ...commonEnv,
  };
  const service = (name, file, env = {}, servicePort) =>
    new ManagedProcess(name, process.execPath, [`services/${file}/dist/main.js`], {
      env: { ...common, ...env },
      port: servicePort,
      logFile: `${dir}/${name}.log`,
    });
  const gatewayProcesses = [];
  for (let i = 0; i < gateways; i++) {
    const port = await freePort();
    gatewayProcesses.push(
      service(
        gateways === 1 ? 'gateway' : `gateway-${i + 1}`,
        'gateway',
        {
          HOST: '127.0.0.1',
          PORT: String(port),
          ADMIN_TOKEN: adminToken,
          RATE_LIMIT_PER_WINDOW: '0',
          ...gatewayEnv,
        },
        port,
      ),
    );
  }
  const resolver = service('resolver', 'resolver');
  // Short locks and sweeps, so the work of a killed runner or a lost queue comes back within
  // seconds rather than a minute (the defaults suit production, not a 20-second fault cycle).
  const runnerEnv = {
    RUNNER_LOCK_MS: '8000',
    RUNNER_SWEEP_INTERVAL_MS: '4000',
    RUNNER_STALE_AFTER_MS: '8000',
    RUN_LEASE_MS: '8000',
    ...extraRunnerEnv,
  };
  const runnerProcesses = Array.from({ length: runners }, (_, i) =>
    service(`runner-${i + 1}`, 'runner', runnerEnv),
  );
  await Promise.all([...gatewayProcesses, resolver, ...runnerProcesses].map((p) => p.start()));
  return {
    gateway: gatewayProcesses[0],
    gateways: gatewayProcesses,
    resolver,
    runners: runnerProcesses,
    base: `http://127.0.0.1:${gatewayProcesses[0].port}`,
  };
}
