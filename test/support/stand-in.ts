import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { afterAll, inject } from 'vitest';
import { connectMongo, connectRedis, createModels } from '@stepwise/shared/node';
import type { TestDatabases } from './databases.js';
import { freePort } from './ports.js';

/**
 * A MongoDB stand-in of a test's own, for tests that must kill it (the file store's durability)
 * or that hold more than the shared one should carry next to the rest of the suite (a migration
 * of 10,000 original runs: source and target together need a larger heap than the shared 4 GB).
 */

const repoRoot = new URL('../../', import.meta.url).pathname;
const started: ChildProcess[] = [];
afterAll(() => {
  for (const child of started) if (child.exitCode === null) child.kill('SIGKILL');
});

/** The stand-in's java command line, with the heap given (`4g` as the scripts run it). */
function standInCommand(heap: string): string[] {
  return execFileSync('bash', ['scripts/local-services.sh', 'stand-in-command'], {
    cwd: repoRoot,
    encoding: 'utf8',
  })
    .trim()
    .split(' ')
    .map((part) => (part.startsWith('-Xmx') ? `-Xmx${heap}` : part));
}

export async function startStandIn(
  port: number,
  options: { heap?: string; dataFile?: string } = {},
): Promise<ChildProcess> {
  const [command = 'java', ...args] = standInCommand(options.heap ?? '4g');
  const storage = options.dataFile ? ['--data-file', options.dataFile] : [];
  // The command line names the class path with a `*`: a shell would expand it, java must not see
  // it expanded, so it is passed as one argument here exactly as printed.
  const child = spawn(command, [...args, '--port', String(port), ...storage], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  started.push(child);
  await new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      if (chunk.toString().includes('mongo-stand-in listening')) resolve();
    };
    child.stdout?.on('data', onData);
    child.once('exit', (code) => reject(new Error(`stand-in exited (${code})`)));
  });
  return child;
}

export async function killStandIn(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
}

/** A stand-in of the calling file's own: databases on it, each dropped by `drop`, all gone at the end. */
export interface OwnStandIn {
  databases: (label: string) => Promise<TestDatabases & { drop: () => Promise<void> }>;
}

export async function useOwnStandIn(heap: string): Promise<OwnStandIn> {
  const port = await freePort();
  const child = await startStandIn(port, { heap });
  const closers: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const close of closers) await close();
    await killStandIn(child);
  });
  return {
    async databases(label) {
      const suffix = randomBytes(4).toString('hex');
      const mongoUrl = `mongodb://127.0.0.1:${port}/t_${label.replace(/[^a-z0-9]/gi, '_')}_${suffix}`;
      const redisUrl = inject('redisUrl');
      const mongo = await connectMongo(mongoUrl);
      const redis = connectRedis(redisUrl, 'worker');
      closers.push(async () => {
        await mongo.close().catch(() => undefined);
        redis.disconnect();
      });
      return {
        mongoUrl,
        redisUrl,
        queuePrefix: `{t_${suffix}}`,
        mongo,
        models: createModels(mongo),
        redis,
        // What a large test wrote is let go as soon as it is done, not when the file ends.
        drop: async () => {
          await mongo.dropDatabase().catch(() => undefined);
        },
      };
    },
  };
}
