import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll } from 'vitest';

const run = promisify(execFile);
const script = new URL('../../scripts/redis-cluster.sh', import.meta.url).pathname;

export interface DisposableCluster {
  /** REDIS_URL for the cluster: its three first nodes as seeds. */
  url: string;
  /** `CLUSTER NODES` as the script prints it. */
  nodes: () => Promise<ClusterNode[]>;
  stop: () => Promise<void>;
}

export interface ClusterNode {
  id: string;
  port: number;
  role: 'master' | 'replica';
  /** Slot ranges a master serves, inclusive. */
  slots: [number, number][];
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** Six free ports in a row, and their cluster-bus ports (port + 10000) free as well. */
async function freePortRange(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * 30_000);
    const ports = Array.from({ length: 6 }, (_, i) => [base + i, base + i + 10_000]).flat();
    const free = await Promise.all(ports.map(portFree));
    if (free.every(Boolean)) return base;
  }
  throw new Error('no six free ports in a row for a Redis Cluster');
}

export function parseClusterNodes(text: string): ClusterNode[] {
  return text
    .trim()
    .split('\n')
    .map((line) => line.trim().split(' '))
    .map(([id = '', address = '', flags = '', , , , , , ...slots]) => ({
      id,
      port: Number(address.split('@')[0]?.split(':')[1]),
      role: flags.includes('master') ? ('master' as const) : ('replica' as const),
      slots: slots
        .filter((range) => !range.startsWith('['))
        .map((range) => {
          const [from = '0', to = from] = range.split('-');
          return [Number(from), Number(to)] as [number, number];
        }),
    }));
}

/**
 * A real Redis Cluster of this test file's own (three masters and a replica each, on loopback),
 * made by the project's script, stopped after the file's tests.
 */
export async function startDisposableCluster(): Promise<DisposableCluster> {
  const base = await freePortRange();
  const stateDir = mkdtempSync(join(tmpdir(), 'stepwise-cluster-'));
  const env = { ...process.env, REDIS_CLUSTER_PORT: String(base), STEPWISE_LOCAL_DIR: stateDir };
  const { stdout } = await run('bash', [script, 'start'], { env, timeout: 60_000 });
  const url = /^REDIS_URL=(.+)$/m.exec(stdout)?.[1];
  if (!url) throw new Error(`the cluster script printed no REDIS_URL:\n${stdout}`);
  const stop = async () => {
    await run('bash', [script, 'stop'], { env, timeout: 30_000 }).catch(() => undefined);
    rmSync(stateDir, { recursive: true, force: true });
  };
  afterAll(stop);
  return {
    url,
    nodes: async () => parseClusterNodes((await run('bash', [script, 'nodes'], { env })).stdout),
    stop,
  };
}
