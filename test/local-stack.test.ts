import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from './support/ports.js';
import { startProcess, type ServiceProcess } from './support/processes.js';

/**
 * `npm run stack` without Docker keeps its data (issue 16): a run waiting for an answer and a run
 * waiting out a retry backoff both survive a stop of the whole stack, by SIGTERM and by SIGKILL of
 * every process, and go on with the same API key after the next start.
 */

const adminToken = 'local-stack-admin-token';
const localDir = mkdtempSync(join(tmpdir(), 'stepwise-stack-'));
const ports = { redis: await freePort(), mongo: await freePort() };

/** A loopback API that fails until `healthy`, counting its calls. */
let healthy = false;
let calls = 0;
const flaky: Server = createServer((_req, res) => {
  calls += 1;
  res.writeHead(healthy ? 200 : 500, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ ok: healthy }));
});
await new Promise<void>((resolve) => flaky.listen(0, '127.0.0.1', () => resolve()));
const flakyUrl = `http://127.0.0.1:${(flaky.address() as { port: number }).port}/thing`;
afterAll(() => new Promise<void>((resolve) => flaky.close(() => resolve())));

function startStack(...args: string[]): ServiceProcess {
  return startProcess('scripts/stack.mjs', args, {
    STEPWISE_LOCAL_DIR: localDir,
    REDIS_PORT: String(ports.redis),
    MONGO_PORT: String(ports.mongo),
    PORT: '0',
    ADMIN_TOKEN: adminToken,
    OUTBOUND_ALLOWED_HOSTS: '127.0.0.1',
  });
}

async function ready(stack: ServiceProcess): Promise<string> {
  const line = await stack.waitForLine((l) => l.startsWith('[stack] ready at '), 120_000);
  return /http:\/\/\S+/.exec(line)?.[0] ?? '';
}

let stack = startStack();
/** Keys made by the tests below, all of which must be gone after `--fresh`. */
const keysMade: string[] = [];
afterAll(async () => {
  if (stack.child.exitCode === null) {
    stack.child.kill('SIGTERM');
    await stack.exited;
  }
});

async function api(base: string, key: string, path: string, init: RequestInit = {}) {
  const response = await fetch(`${base}${path}`, {
    ...init,
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

/** Kills every process the stack started, as a power cut would (no stop runs). */
function killEverything(): void {
  const services = JSON.parse(readFileSync(join(localDir, 'services.json'), 'utf8')) as {
    pid: number;
  }[];
  const stores = ['redis.pid', 'mongo.pid'].map((file) =>
    Number(readFileSync(join(localDir, file), 'utf8')),
  );
  for (const pid of [stack.child.pid ?? 0, ...services.map((s) => s.pid), ...stores]) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
}

describe('the local stack keeps its data', () => {
  it(
    'shows each start-up phase with its time, and where the data lives',
    { timeout: 150_000 },
    async () => {
      await ready(stack);
      const output = stack.lines.join('\n');
      for (const name of [
        'compiling \\(npm run build\\)',
        'starting Redis',
        'starting the MongoDB stand-in',
        'starting the gateway',
        'starting the resolver',
        'starting the runner',
      ])
        expect(output).toMatch(new RegExp(`\\[stack\\] ${name}: done in \\d+\\.\\d s`));
      expect(output).toMatch(/\[stack\] ready at http:\/\/127\.0\.0\.1:\d+/);
      expect(output).toContain(`data is kept in ${join(localDir, 'data')}`);
    },
  );

  for (const stop of ['SIGTERM', 'SIGKILL of every process'] as const) {
    it(`a waiting run and a run in retry backoff survive a stop (${stop})`, async () => {
      const base = await ready(stack);
      healthy = false;
      const created = await fetch(`${base}/v1/admin/users`, {
        method: 'POST',
        headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({ username: `u${stop.length}`, email: `u${stop.length}@example.com` }),
      });
      const key = ((await created.json()) as { api_key: string }).api_key;
      keysMade.push(key);
      const workflow = {
        workflow_id: 'survives',
        steps: [
          {
            step_id: 'ask',
            modules: [{ module_id: 'user.confirm', name: 'ok', inputs: { message: 'go?' } }],
          },
        ],
      };
      const retrying = {
        workflow_id: 'retries',
        steps: [
          {
            step_id: 'call',
            modules: [
              {
                module_id: 'api.fetch',
                name: 'fetch',
                inputs: { url: flakyUrl },
                retry: { max_attempts: 3, backoff_ms: 3_000 },
              },
            ],
          },
        ],
      };
      for (const body of [workflow, retrying])
        expect(
          (await api(base, key, '/v1/workflows', { method: 'POST', body: JSON.stringify(body) }))
            .status,
        ).toBe(201);
      const waiting = await api(base, key, '/v1/runs', {
        method: 'POST',
        body: JSON.stringify({ workflow_template_name: 'survives', project_name: 'p' }),
      });
      const backoff = await api(base, key, '/v1/runs', {
        method: 'POST',
        body: JSON.stringify({ workflow_template_name: 'retries', project_name: 'p' }),
      });
      expect(waiting.body['status']).toBe('awaiting_input');
      const callsBefore = calls;
      expect(callsBefore).toBeGreaterThan(0);

      if (stop === 'SIGTERM') {
        stack.child.kill('SIGTERM');
        expect(await stack.exited).toBe(0);
      } else {
        killEverything();
        await stack.exited;
      }
      healthy = true;
      stack = startStack();
      const again = await ready(stack);

      const pending = waiting.body['pending_interaction'] as { interaction_id: string };
      const answered = await api(
        again,
        key,
        `/v1/runs/${String(waiting.body['workflow_run_id'])}/interactions/${pending.interaction_id}`,
        { method: 'POST', body: JSON.stringify({ response: { confirmed: true } }) },
      );
      expect(answered.status).toBe(200);
      expect(answered.body['status']).toBe('completed');
      await expect
        .poll(
          async () =>
            (await api(again, key, `/v1/runs/${String(backoff.body['workflow_run_id'])}`)).body[
              'status'
            ],
          { timeout: 30_000, interval: 500 },
        )
        .toBe('completed');
      expect(calls).toBeGreaterThan(callsBefore);
    }, 240_000);
  }

  for (const part of ['redis', 'mongo'] as const) {
    it(`keeps working when ${part} alone is killed and started again under a running stack`, async () => {
      const base = await ready(stack);
      const key = keysMade[0] ?? '';
      const before = await api(base, key, '/v1/runs');
      expect(before.status).toBe(200);
      expect(before.body['items']).toHaveLength(2);
      process.kill(Number(readFileSync(join(localDir, `${part}.pid`), 'utf8')), 'SIGKILL');
      const restarted = spawnSync(
        'bash',
        ['scripts/local-services.sh', 'start', '--durable', part],
        {
          cwd: new URL('..', import.meta.url).pathname,
          env: {
            ...process.env,
            STEPWISE_LOCAL_DIR: localDir,
            REDIS_PORT: String(ports.redis),
            MONGO_PORT: String(ports.mongo),
          },
          encoding: 'utf8',
        },
      );
      expect(restarted.status, restarted.stderr).toBe(0);
      // The same runs, read through the services that were never restarted.
      await expect
        .poll(async () => (await api(base, key, '/v1/runs')).body['items'], {
          timeout: 30_000,
          interval: 500,
        })
        .toEqual(before.body['items']);
    }, 90_000);
  }

  it('starts empty with --fresh', async () => {
    const base = await ready(stack);
    expect(keysMade).toHaveLength(2);
    const createU7 = (at: string) =>
      fetch(`${at}/v1/admin/users`, {
        method: 'POST',
        headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({ username: 'u7', email: 'u7@example.com' }),
      });
    // The data is really there before the wipe.
    expect((await api(base, keysMade[0] ?? '', '/v1/runs')).status).toBe(200);
    expect((await createU7(base)).status).toBe(409);
    stack.child.kill('SIGTERM');
    await stack.exited;
    stack = startStack('--fresh');
    const again = await ready(stack);
    expect(stack.lines.join('\n')).toContain(`--fresh: removed ${join(localDir, 'data')}`);
    for (const key of keysMade) expect((await api(again, key, '/v1/runs')).status).toBe(401);
    // The username taken before the wipe is free again.
    expect((await createU7(again)).status).toBe(201);
  }, 180_000);
});

describe('stopping the local stack', () => {
  it('stops everything it started on SIGINT, even after the reader of its output left', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'stepwise-stack-pipe-'));
    const port = await freePort();
    // `npm run stack | head -1`: the reader exits after the first line.
    const reader = spawn('head', ['-1'], { stdio: ['pipe', 'ignore', 'ignore'] });
    const piped = spawn(process.execPath, ['scripts/stack.mjs', '--memory'], {
      cwd: new URL('..', import.meta.url).pathname,
      env: {
        PATH: process.env['PATH'] ?? '',
        STEPWISE_LOCAL_DIR: dir,
        REDIS_PORT: String(await freePort()),
        MONGO_PORT: String(await freePort()),
        PORT: String(port),
        ADMIN_TOKEN: adminToken,
      },
      stdio: ['ignore', reader.stdin, 'ignore'],
    });
    // A failed expectation must not leave a stack running.
    afterAll(() => {
      if (piped.exitCode === null && piped.signalCode === null) piped.kill('SIGINT');
    });
    await new Promise((resolve) => reader.on('exit', resolve));
    await expect
      .poll(
        async () => (await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => null))?.status,
        {
          timeout: 120_000,
          interval: 500,
        },
      )
      .toBe(200);
    const servicesStarted = () => {
      try {
        return (JSON.parse(readFileSync(join(dir, 'services.json'), 'utf8')) as unknown[]).length;
      } catch {
        return 0;
      }
    };
    await expect.poll(servicesStarted, { timeout: 60_000, interval: 200 }).toBe(3);
    const started = [
      ...(JSON.parse(readFileSync(join(dir, 'services.json'), 'utf8')) as { pid: number }[]).map(
        (s) => s.pid,
      ),
      ...['redis.pid', 'mongo.pid'].map((file) => Number(readFileSync(join(dir, file), 'utf8'))),
    ];
    expect(started).toHaveLength(5);
    piped.kill('SIGINT');
    await new Promise((resolve) => piped.on('exit', resolve));
    const alive = started.filter((pid) => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    });
    expect(alive).toEqual([]);
  }, 180_000);
});
