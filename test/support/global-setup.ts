import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { TestProject } from 'vitest/node';
import { freePort } from './ports.js';
import { checkContractCoverage, resetContractStatuses } from './contract-coverage.js';

declare module 'vitest' {
  export interface ProvidedContext {
    mongoUrl: string;
    redisUrl: string;
  }
}

const run = promisify(execFile);
const repoRoot = new URL('../../', import.meta.url).pathname;

function dockerEngineAvailable(): boolean {
  try {
    execFileSync('docker', ['info'], { stdio: 'ignore', timeout: 10_000 });
    return true;
  } catch {
    return false;
  }
}

/**
 * Where the tests find MongoDB and Redis: MONGO_URL/REDIS_URL when set (CI starts the services
 * itself); otherwise containers when a Docker engine answers; otherwise the project's local
 * services script (Debian redis-server and the mongo-java-server stand-in) on free ports.
 */
export default async function setup(project: TestProject) {
  resetContractStatuses();
  const stopServices = await startServices(project);
  return async () => {
    await stopServices?.();
    enforceContractCoverage();
  };
}

/**
 * With CONTRACT_COVERAGE=strict (CI, over the whole suite), a status the tests saw that the
 * document does not declare, or a declared success status no test produced, fails the run.
 */
function enforceContractCoverage(): void {
  const coverage = checkContractCoverage();
  const problems = [
    ...coverage.undeclared.map((key) => `answered but not declared: ${key}`),
    ...coverage.unproducedSuccess.map((key) => `declared but no test produced it: ${key}`),
  ];
  if (problems.length === 0) return;
  const message = `contract coverage (test-artifacts/contract-coverage.json):\n  ${problems.join('\n  ')}`;
  if (process.env['CONTRACT_COVERAGE'] === 'strict') throw new Error(message);
  console.warn(message);
}

async function startServices(project: TestProject): Promise<(() => Promise<void>) | undefined> {
  const mongoUrl = process.env['MONGO_URL'];
  const redisUrl = process.env['REDIS_URL'];
  if (mongoUrl && redisUrl) {
    project.provide('mongoUrl', mongoUrl);
    project.provide('redisUrl', redisUrl);
    return undefined;
  }

  if (dockerEngineAvailable()) {
    const { GenericContainer } = await import('testcontainers');
    const [mongo, redis] = await Promise.all([
      new GenericContainer('mongo:7').withExposedPorts(27017).start(),
      new GenericContainer('redis:7').withExposedPorts(6379).start(),
    ]);
    project.provide(
      'mongoUrl',
      `mongodb://${mongo.getHost()}:${mongo.getMappedPort(27017)}/stepwise`,
    );
    project.provide('redisUrl', `redis://${redis.getHost()}:${redis.getMappedPort(6379)}`);
    return async () => {
      await Promise.all([mongo.stop(), redis.stop()]);
    };
  }

  const env = {
    ...process.env,
    REDIS_PORT: String(await freePort()),
    MONGO_PORT: String(await freePort()),
    STEPWISE_LOCAL_DIR: mkdtempSync(join(tmpdir(), 'stepwise-test-services-')),
  };
  const script = join(repoRoot, 'scripts/local-services.sh');
  await run('bash', [script, 'start'], { env });
  // Tests use throw-away in-memory stores (fast, isolated); `npm run stack` is what keeps data.
  console.log(
    `[tests] Redis and the MongoDB stand-in in memory on ports ${env.REDIS_PORT} and ${env.MONGO_PORT}`,
  );
  project.provide('mongoUrl', `mongodb://127.0.0.1:${env.MONGO_PORT}/stepwise`);
  project.provide('redisUrl', `redis://127.0.0.1:${env.REDIS_PORT}`);
  return async () => {
    await run('bash', [script, 'stop'], { env });
  };
}
