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

/**
 * Six free ports in a row, and their cluster-bus ports (port + 10000) free as well. All of them
 * below Linux's ephemeral range (32768 and up), where any outgoing connection of a test running
 * beside this one could take a port between this check and the cluster's start.
 */
async function freePortRange(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 12_000 + Math.floor(Math.random() * 10_000);
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
  const stateDir = mkdtempSync(join(tmpdir(), 'stepwise-cluster-'));
  let env: NodeJS.ProcessEnv = { ...process.env, STEPWISE_LOCAL_DIR: stateDir };
  let stdout = '';
  // A port found free can still be taken before the script binds it (another program's listener):
  // the script then refuses, and another range is tried.
  for (let attempt = 1; ; attempt++) {
    env = { ...env, REDIS_CLUSTER_PORT: String(await freePortRange()) };
    try {
      ({ stdout } = await run('bash', [script, 'start'], { env, timeout: 60_000 }));
      break;
    } catch (error) {
      const taken = String((error as { stderr?: unknown }).stderr ?? '').includes('is in use');
      if (!taken || attempt === 5) throw error;
    }
  }
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
