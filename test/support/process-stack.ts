import type { TestDatabases } from './databases.js';
import { TEST_ADMIN_TOKEN, requestTo, testPluginPath, type TestGateway } from './gateway.js';
import { freePort } from './ports.js';
import { logRecord, startServiceProcess, type ServiceProcess } from './processes.js';
import { TEST_SECRETS_MASTER_KEY } from './secrets.js';

/**
 * The gateway, a resolver and a runner as real processes of the built services
 * (`services/<name>/dist`), on a test file's databases; the test talks to the gateway over HTTP
 * through the same `TestGateway` interface the in-process gateway offers.
 */
export interface ProcessStack {
  gateway: TestGateway;
  processes: { gateway: ServiceProcess; resolver: ServiceProcess; runner: ServiceProcess };
  /** SIGTERM to every process; resolves once all have exited (SIGKILL after `graceMs`). */
  stop: (graceMs?: number) => Promise<void>;
}

export interface ProcessStackEnv {
  /** Variables every service gets (on top of the databases'). */
  common?: Record<string, string>;
  gateway?: Record<string, string>;
  resolver?: Record<string, string>;
  runner?: Record<string, string>;
}

/** A `TestGateway` for a gateway in another process: requests only. */
export function remoteGateway(url: string): TestGateway {
  return {
    url,
    close: async () => undefined,
    get deps(): never {
      throw new Error('the gateway runs in its own process: it has no dependencies here');
    },
    request: requestTo(url),
  };
}

async function stopProcess(service: ServiceProcess, graceMs: number): Promise<void> {
  if (service.child.exitCode !== null || service.child.signalCode !== null) return;
  service.child.kill('SIGTERM');
  const timer = setTimeout(() => service.child.kill('SIGKILL'), graceMs);
  await service.exited;
  clearTimeout(timer);
}

export async function startProcessStack(
  db: TestDatabases,
  env: ProcessStackEnv = {},
): Promise<ProcessStack> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const common = {
    MONGO_URL: db.mongoUrl,
    REDIS_URL: db.redisUrl,
    QUEUE_PREFIX: db.queuePrefix,
    LOG_LEVEL: 'info',
    SECRETS_MASTER_KEY: TEST_SECRETS_MASTER_KEY,
    ...env.common,
  };
  const workers = { ...common, RUNNER_PLUGINS: testPluginPath };
  const gateway = startServiceProcess('gateway', {
    ...common,
    ADMIN_TOKEN: TEST_ADMIN_TOKEN,
    HOST: '127.0.0.1',
    PORT: String(port),
    PUBLIC_URL: url,
    RATE_LIMIT_PER_WINDOW: '0',
    AUTH_FAILURES_PER_WINDOW: '0',
    ...env.gateway,
  });
  const resolver = startServiceProcess('resolver', { ...workers, ...env.resolver });
  const runner = startServiceProcess('runner', { ...workers, PUBLIC_URL: url, ...env.runner });
  const listening = logRecord(
    await gateway.waitForLine((line) => line.includes('gateway listening'), 60_000),
  );
  if (Number(listening?.['port']) !== port) throw new Error(`gateway is not on port ${port}`);
  await resolver.waitForLine((line) => line.includes('resolver ready'), 60_000);
  await runner.waitForLine((line) => line.includes('runner ready'), 60_000);
  const processes = { gateway, resolver, runner };
  return {
    gateway: remoteGateway(url),
    processes,
    stop: async (graceMs = 15_000) => {
      await Promise.all(Object.values(processes).map((service) => stopProcess(service, graceMs)));
    },
  };
}
