import { spawn, execFileSync } from 'node:child_process';
import { createConnection } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll } from 'vitest';
import { freePort } from './ports.js';

export interface DisposableRedis {
  url: string;
  stop: () => Promise<void>;
}

async function waitForPort(port: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = createConnection({ port, host: '127.0.0.1' });
      socket.once('connect', () => socket.end(() => resolve(true)));
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    await sleep(100);
  }
  throw new Error(`nothing listens on ${port}`);
}

function hasRedisServerBinary(): boolean {
  try {
    execFileSync('redis-server', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * A Redis that a test may stop: its own redis-server process when the binary is installed (the
 * no-Docker path), else its own container.
 */
export async function startDisposableRedis(): Promise<DisposableRedis> {
  if (hasRedisServerBinary()) {
    const port = await freePort();
    const child = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      {
        stdio: 'ignore',
      },
    );
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    await waitForPort(port);
    const stop = async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    };
    afterAll(stop);
    return { url: `redis://127.0.0.1:${port}`, stop };
  }
  const { GenericContainer } = await import('testcontainers');
  const container = await new GenericContainer('redis:7').withExposedPorts(6379).start();
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await container.stop();
  };
  afterAll(stop);
  return { url: `redis://${container.getHost()}:${container.getMappedPort(6379)}`, stop };
}
