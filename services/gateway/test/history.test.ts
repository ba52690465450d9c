import { Queue } from 'bullmq';
import { beforeAll, describe, expect, it } from 'vitest';
import { jobCatalog, queueKeyPrefix } from '@stepwise/shared';
import { connectRedis, openQueueEvents } from '@stepwise/shared/node';
import { useTestDatabases } from '../../../test/support/databases.js';
import {
  createTestUser,
  startTestGateway,
  startTestResolver,
} from '../../../test/support/gateway.js';
import { startTestRunner } from '../../../test/support/runner.js';
import { RunsClient } from '../../../test/support/runs.js';
import { startMaintenance } from '../../runner/src/maintenance.js';
import { ArtifactStore } from '../../runner/src/artifacts/artifact-store.js';
import { pino } from 'pino';

const db = await useTestDatabases('history');
const gateway = await startTestGateway(db);
await startTestResolver(db);
await startTestRunner(db, { concurrency: 8 });

let client: RunsClient;
beforeAll(async () => {
  client = new RunsClient(gateway, (await createTestUser(gateway, 'keeper')).api_key);
});

const saver = (keywords: unknown, extra: Record<string, unknown> = {}) => ({
  workflow_id: 'keywords',
  steps: [
    {
      step_id: 'save',
      modules: [
        {
          module_id: 'history.keywords',
          name: 'store',
          inputs: { mode: 'save', keywords, ...extra },
        },
      ],
    },
  ],
});

async function keywords(query = '') {
  const response = await client.request(`/v1/templates/keywords/keywords${query}`);
  return (
    (await response.json()) as {
      items: {
        keyword: string;
        total_weight: number;
        source: string;
        expires: string;
        category: string | null;
      }[];
    }
  ).items;
}

describe('keyword history', () => {
  it('20 parallel runs adding weight 1 to one keyword leave it exactly 20 heavier', async () => {
    const versionId = await client.submitJson(saver(['Shared']));
    await client.get(
      (await client.start({ workflow_version_id: versionId })).run.workflow_run_id,
      '?wait=true',
    );
    const before = (await keywords()).find((k) => k.keyword === 'shared')?.total_weight ?? 0;
    const runs = await Promise.all(
      Array.from({ length: 20 }, () =>
        client.start({ workflow_version_id: versionId }, '?wait_ms=0'),
      ),
    );
    for (const { run } of runs)
      expect((await client.get(run.workflow_run_id, '?wait=true&wait_ms=20000')).status).toBe(
        'completed',
      );
    expect((await keywords()).find((k) => k.keyword === 'shared')?.total_weight).toBe(before + 20);
  });

  it('compares case-insensitively, sorts heaviest first, and lets selected extend expiry', async () => {
    const generated = await client.submitJson(
      saver([{ keyword: 'Neon', weight: 2 }, 'glow', 'GLOW'], {
        source: 'generated',
        category: 'style',
      }),
    );
    await client.start({ workflow_version_id: generated });
    let items = await keywords('?category=style');
    expect(items.map((k) => [k.keyword, k.total_weight, k.source])).toEqual([
      ['glow', 2, 'generated'],
      ['neon', 2, 'generated'],
    ]);
    const glowExpiry = new Date(items[0]?.expires ?? 0).getTime();
    expect(glowExpiry - Date.now()).toBeGreaterThan(4.9 * 86_400_000);
    expect(glowExpiry - Date.now()).toBeLessThan(5.1 * 86_400_000);

    const selected = await client.submitJson(
      saver(['glow'], { source: 'selected', category: 'style' }),
    );
    await client.start({ workflow_version_id: selected });
    items = await keywords('?category=style');
    expect(items[0]).toMatchObject({ keyword: 'glow', total_weight: 3, source: 'selected' });
    expect(new Date(items[0]?.expires ?? 0).getTime() - Date.now()).toBeGreaterThan(
      9.9 * 86_400_000,
    );

    // Generated again: the weight grows, the longer expiry stays.
    await client.start({ workflow_version_id: generated });
    items = await keywords('?category=style');
    expect(items[0]).toMatchObject({ keyword: 'glow', total_weight: 5 });
    expect(new Date(items[0]?.expires ?? 0).getTime() - Date.now()).toBeGreaterThan(
      9.9 * 86_400_000,
    );
  });

  it('loads non-expired keywords into state, and a scheduled job deletes expired ones', async () => {
    const shortLived = await client.submitJson(
      saver(['fleeting'], { ttl_days: 0.00001, category: 'temp' }),
    );
    await client.start({ workflow_version_id: shortLived });
    await new Promise((r) => setTimeout(r, 1_200));
    expect((await keywords('?category=temp')).map((k) => k.keyword)).toEqual([]);
    expect(await db.models.keywordHistory.countDocuments({ keyword: 'fleeting' })).toBe(1);

    const loader = await client.submitJson({
      workflow_id: 'keywords',
      steps: [
        {
          step_id: 'load',
          modules: [
            {
              module_id: 'history.keywords',
              name: 'fetch',
              inputs: { mode: 'load', step_id: 'save', module_name: 'store', limit: 2 },
              outputs_to_state: { keywords: 'recent' },
            },
          ],
        },
      ],
    });
    const { run } = await client.start({ workflow_version_id: loader });
    const recent = (await client.state(run.workflow_run_id)).state['recent'] as {
      keyword: string;
    }[];
    expect(recent.map((k) => k.keyword)).toEqual(['shared', 'glow']);

    const isExpired = async () =>
      (await db.models.keywordHistory.countDocuments({ keyword: 'fleeting' })) === 0;
    const maintenance = await startMaintenance({
      models: db.models,
      redis: connectRedis(db.redisUrl, 'worker'),
      queuePrefix: db.queuePrefix,
      logger: pino({ level: 'silent' }),
      everyMs: 200,
      artifacts: new ArtifactStore(db.mongo, db.models),
      artifactGraceMs: 3_600_000,
    });
    // From the stream's start: the job may finish before the listener's first read.
    const events = openQueueEvents(
      'maintenance',
      connectRedis(db.redisUrl, 'worker'),
      db.queuePrefix,
      { lastEventId: '0' },
    );
    await events.waitUntilReady();
    // Two schedules share the queue: wait for the keyword job's completion, not the sweep's.
    await new Promise<void>((resolve) =>
      events.on('completed', ({ returnvalue }) => {
        if (JSON.stringify(returnvalue).includes('deleted'))
          void isExpired().then((done) => done && resolve());
      }),
    );
    expect(await db.models.keywordHistory.countDocuments({ keyword: 'fleeting' })).toBe(0);
    expect(await db.models.keywordHistory.countDocuments({ keyword: 'shared' })).toBe(1);
    const maintenanceQueue = new Queue(jobCatalog.maintenance.queue, {
      connection: connectRedis(db.redisUrl, 'client'),
      prefix: queueKeyPrefix(db.queuePrefix, jobCatalog.maintenance.queue),
    });
    expect((await maintenanceQueue.getJobSchedulers()).map((s) => s.key).sort()).toEqual([
      'expire-keywords',
      'sweep-artifacts',
    ]);
    await maintenanceQueue.close();
    await maintenance.stop();
    await events.close();
  });
});

describe('option usage', () => {
  it('is shared by every version of a template and reported per option key', async () => {
    const pick = (prompt: string) => ({
      workflow_id: 'picker',
      steps: [
        {
          step_id: 's',
          modules: [
            {
              module_id: 'user.select',
              name: 'p',
              inputs: {
                prompt,
                options: ['Red', 'Blue'],
                track_key: 'colour:{{ option | downcase }}',
              },
            },
          ],
        },
      ],
    });
    const v1 = await client.submitJson(pick('v1'));
    const v2 = await client.submitJson(pick('v2'));
    const { run } = await client.start({ workflow_version_id: v1 });
    await client.answerPending(run, { selected_indices: [1] });
    const { run: later } = await client.start({ workflow_version_id: v2 });
    const options = (
      later.pending_interaction?.request as { options: { key: string; last_used: string | null }[] }
    ).options;
    expect(options[0]).toMatchObject({ key: 'colour:red', last_used: null });
    expect(options[1]?.last_used).toEqual(expect.any(String));
    const usage = (await (
      await client.request('/v1/templates/picker/option-usage?step_id=s&module_name=p')
    ).json()) as { options: Record<string, string> };
    expect(Object.keys(usage.options)).toEqual(['colour:blue']);
    expect((await client.request('/v1/templates/nope/option-usage')).status).toBe(404);
  });
});
