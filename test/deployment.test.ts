import { execFile } from 'node:child_process';
import {
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { useTestDatabases } from './support/databases.js';
import { startTestGateway } from './support/gateway.js';

const run = promisify(execFile);
const root = new URL('../', import.meta.url).pathname;
const read = (path: string) => readFileSync(join(root, path), 'utf8');

const db = await useTestDatabases('deployment');

async function healthcheck(target: string): Promise<number> {
  try {
    await run(process.execPath, [join(root, 'scripts/healthcheck.mjs'), target]);
    return 0;
  } catch (error) {
    return (error as { code?: number }).code ?? -1;
  }
}

interface ComposeFile {
  services: Record<
    string,
    { command?: string[]; build?: string; image?: string; healthcheck?: { test: string[] } }
  >;
}

describe('container build and compose file', () => {
  const compose = parseYaml(read('docker-compose.yml'), { merge: true }) as ComposeFile;
  const dockerfile = read('Dockerfile');

  it('runs mongo 7, redis 7 and the three services, each with a healthcheck', () => {
    expect(Object.keys(compose.services).sort()).toEqual([
      'gateway',
      'mongo',
      'redis',
      'resolver',
      'runner',
    ]);
    expect(compose.services['mongo']?.image).toBe('mongo:7');
    expect(compose.services['redis']?.image).toBe('redis:7');
    for (const service of Object.values(compose.services))
      expect(service.healthcheck?.test.length).toBeGreaterThan(0);
  });

  it("starts each service from a file the image's build produces and copies", () => {
    for (const name of ['gateway', 'resolver', 'runner']) {
      const command = compose.services[name]?.command ?? [];
      expect(command[0]).toBe('node');
      const entry = command[1] ?? '';
      expect(existsSync(join(root, entry)), `${entry} exists after npm run build`).toBe(true);
      expect(dockerfile).toContain(`COPY --from=build /app/${entry.replace(/\/main\.js$/, '')} `);
    }
  });

  it('copies every workspace package manifest before npm ci, and runs as a non-root user', () => {
    const workspaces = ['packages', 'services', 'apps']
      .flatMap((folder) => readdirSync(join(root, folder)).map((name) => `${folder}/${name}`))
      .filter((workspace) => existsSync(join(root, workspace, 'package.json')));
    expect(workspaces).toContain('packages/cli');
    for (const workspace of workspaces)
      expect(dockerfile).toContain(`COPY ${workspace}/package.json ${workspace}/`);
    const rootManifest = JSON.parse(read('package.json')) as { workspaces: string[] };
    expect(rootManifest.workspaces).toEqual(['packages/*', 'services/*', 'apps/*']);
    expect(workspaces).toContain('apps/web');
    expect(dockerfile).toMatch(/^USER node$/m);
  });

  it('the healthcheck script passes a ready URL and fails an unready one', async () => {
    const gateway = await startTestGateway(db);
    expect(await healthcheck(`${gateway.url}/healthz`)).toBe(0);
    const draining = await startTestGateway(db, { isDraining: () => true });
    expect(await healthcheck(`${draining.url}/readyz`)).toBe(1);
  });

  it('the healthcheck script passes a fresh heartbeat and fails a stale or missing one', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'heartbeat-'));
    const file = join(dir, 'beat');
    expect(await healthcheck(file)).toBe(1);
    writeFileSync(file, 'now');
    expect(await healthcheck(file)).toBe(0);
    const old = new Date(Date.now() - 60_000);
    utimesSync(file, old, old);
    expect(await healthcheck(file)).toBe(1);
  });
});
