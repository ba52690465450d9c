import { describe, expect, it } from 'vitest';
import { errorEnvelopeSchema } from '@stepwise/shared';
import { useTestDatabases } from '../../../test/support/databases.js';
import {
  createTestUser,
  startTestGateway,
  startTestResolver,
} from '../../../test/support/gateway.js';
import { RunsClient } from '../../../test/support/runs.js';

/**
 * What is migrated from the original system keeps its ids (legacy.md): every route takes them
 * where it takes ids of their kind, and "the newest version" is the newest by creation time, not
 * the greatest id.
 */
const db = await useTestDatabases('legacy_ids');
const gateway = await startTestGateway(db);
await startTestResolver(db);

const hex32 = (first: string) => `${first}${'0193c0de7a4b7c1d8e2f0a1b2c3d4e5'.slice(0, 31)}`;
const workflow = (value: string) => ({
  workflow_id: 'carried',
  steps: [
    {
      step_id: 's',
      modules: [
        {
          module_id: 'transform.set',
          name: 'set',
          inputs: { value },
          outputs_to_state: { value: 'v' },
        },
      ],
    },
  ],
});

async function codeOf(response: Response): Promise<string | null> {
  if (response.status < 400) return null;
  return errorEnvelopeSchema.parse(await response.json()).error.code;
}

describe("the original system's ids", () => {
  it('a migrated version is read and run by its id, and a newer submission is the newest', async () => {
    const created = await createTestUser(gateway, 'carried');
    const client = new RunsClient(gateway, created.api_key);
    const first = await client.submitJson(workflow('first'));
    const template = await db.models.versions.findOne({ workflow_version_id: first }).lean();
    // As the migration stores one: the original's id form, greater than any id Stepwise mints,
    // created before anything submitted here.
    const legacyId = `ver_${hex32('f')}`;
    await db.models.versions.create({
      ...template,
      _id: undefined,
      workflow_version_id: legacyId,
      content_hash: 'sha256:legacy',
      created_at: new Date('2025-12-20T10:00:00Z'),
    });

    const read = await client.request(`/v1/versions/${legacyId}`);
    expect(read.status).toBe(200);
    const started = await client.start({ workflow_version_id: legacyId }, '?wait_ms=0');
    expect([201, 202]).toContain(started.status);
    expect(started.run.current_version_id).toBe(legacyId);

    // By template name: the newest by creation time, not the greatest id.
    const second = await client.submitJson(workflow('second'));
    const byName = await client.start({ workflow_template_name: 'carried' }, '?wait_ms=0');
    expect([201, 202]).toContain(byName.status);
    expect(byName.run.current_version_id).toBe(second);

    // The template says so too, and lists its versions newest first, page by page.
    const listed: string[] = [];
    let cursor: string | null = null;
    let latest: string | null = null;
    do {
      const query: string = cursor === null ? '?limit=1' : `?limit=1&cursor=${cursor}`;
      const response = await client.request(`/v1/templates/carried${query}`);
      expect(response.status).toBe(200);
      const page = (await response.json()) as {
        latest_version_id: string;
        versions: { workflow_version_id: string }[];
        next_cursor: string | null;
      };
      latest = page.latest_version_id;
      listed.push(...page.versions.map((version) => version.workflow_version_id));
      cursor = page.next_cursor;
    } while (cursor !== null);
    expect(latest).toBe(second);
    expect(listed).toEqual([second, first, legacyId]);
    // A cursor is only ever one the API gave out.
    for (const forged of [
      legacyId,
      'bm90IGEgY3Vyc29y',
      Buffer.from(`1:${first}x`).toString('base64url'),
    ]) {
      const refused = await client.request(`/v1/templates/carried?cursor=${forged}`);
      expect(await codeOf(refused)).toBe('BAD_REQUEST');
    }
    const listing = await client.request('/v1/templates');
    const templates = (await listing.json()) as { items: { latest_version_id: string }[] };
    expect(templates.items.map((item) => item.latest_version_id)).toEqual([second]);
  });

  it('every kind of migrated id reaches its route: unknown ones are 404, never 400', async () => {
    const created = await createTestUser(gateway, 'probing');
    const client = new RunsClient(gateway, created.api_key);
    const version = await client.submitJson(workflow('probe'));
    const { run } = await client.start({ workflow_version_id: version }, '?wait_ms=0');
    const probes: [string, { method?: string; json?: unknown }][] = [
      [`/v1/runs/wf_sub_${hex32('a')}`, {}],
      ['/v1/runs/wf_0123456789ab/events', {}],
      [`/v1/versions/ver_${hex32('b')}`, {}],
      [
        `/v1/runs/wf_0123456789ab/interactions/select_${hex32('c')}`,
        { method: 'POST', json: { response: { selected: [0] } } },
      ],
      [
        `/v1/runs/${run.workflow_run_id}/branches`,
        { method: 'POST', json: { from_event_id: `evt_${hex32('d')}` } },
      ],
      [
        '/v1/runs',
        { method: 'POST', json: { workflow_version_id: `ver_${hex32('e')}`, project_name: 'p' } },
      ],
    ];
    for (const [path, init] of probes) {
      const response = await client.request(path, init);
      expect({ path, code: await codeOf(response) }).toEqual({ path, code: 'NOT_FOUND' });
    }
  });
});
