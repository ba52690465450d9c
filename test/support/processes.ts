import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll } from 'vitest';

const repoRoot = new URL('../../', import.meta.url).pathname;

export interface ServiceProcess {
  child: ChildProcess;
  /** Every line the process wrote to stdout and stderr so far. */
  lines: string[];
  /** Resolves with the first line (parsed as JSON when it is) matching `predicate`. */
  waitForLine: (predicate: (line: string) => boolean, timeoutMs?: number) => Promise<string>;
  /** Resolves with the exit code (or the signal's name). */
  exited: Promise<number | string>;
}

/** Runs a built service (`services/<name>/dist/main.js`) as a real process. */
export function startServiceProcess(
  service: 'gateway' | 'resolver' | 'runner',
  env: Record<string, string>,
): ServiceProcess {
  return startProcess(`services/${service}/dist/main.js`, [], env);
}

/** Runs a built script of the repository (path relative to its root) as a real process. */
export function startProcess(
  script: string,
  args: string[],
  env: Record<string, string>,
): ServiceProcess {
  const child = spawn(process.execPath, [script, ...args], {
    cwd: repoRoot,
    env: { PATH: process.env['PATH'] ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const waiters = new Set<{
    predicate: (line: string) => boolean;
    resolve: (line: string) => void;
  }>();
  const onData = (chunk: Buffer) => {
    for (const line of chunk.toString('utf8').split('\n')) {
      if (line.trim() === '') continue;
      lines.push(line);
      for (const waiter of waiters) {
        if (waiter.predicate(line)) {
          waiters.delete(waiter);
          waiter.resolve(line);
        }
      }
    }
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  const exited = new Promise<number | string>((resolve) =>
    child.on('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')),
  );
  afterAll(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  return {
    child,
    lines,
    exited,
    waitForLine: (predicate, timeoutMs = 20_000) =>
      new Promise((resolve, reject) => {
        const already = lines.find(predicate);
        if (already) return resolve(already);
        const waiter = { predicate, resolve };
        waiters.add(waiter);
        setTimeout(() => {
          waiters.delete(waiter);
          reject(
            new Error(`no matching line within ${timeoutMs} ms; output:\n${lines.join('\n')}`),
          );
        }, timeoutMs).unref();
        void exited.then(() => {
          if (waiters.delete(waiter)) {
            reject(
              new Error(`process exited before a matching line; output:\n${lines.join('\n')}`),
            );
          }
        });
      }),
  };
}

/** A parsed pino line, or null for a line that is not JSON. */
export function logRecord(line: string): Record<string, unknown> | null {
  try {
    const value: unknown = JSON.parse(line);
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/**
 * A runner process on a test file's stores, tuned so that a killed runner's work comes back
 * within seconds (short locks, leases and sweeps); resolves once it is ready.
 */
export async function startQuickRecoveryRunner(
  databases: { mongoUrl: string; redisUrl: string; queuePrefix: string },
  extraEnv: Record<string, string> = {},
): Promise<ServiceProcess> {
  const runner = startServiceProcess('runner', {
    MONGO_URL: databases.mongoUrl,
    REDIS_URL: databases.redisUrl,
    QUEUE_PREFIX: databases.queuePrefix,
    LOG_LEVEL: 'info',
    RUNNER_CONCURRENCY: '8',
    RUNNER_LOCK_MS: '1500',
    RUN_LEASE_MS: '1500',
    RUNNER_SWEEP_INTERVAL_MS: '1000',
    RUNNER_STALE_AFTER_MS: '3000',
    ...extraEnv,
  });
  await runner.waitForLine((line) => line.includes('runner ready'));
  return runner;
}
