import { beforeAll, describe, expect, it } from 'vitest';
import {
  errorEnvelopeSchema,
  impactReportSchema,
  runListSchema,
  versionChangeViewSchema,
  type ImpactReport,
  type RunImpact,
  type RunView,
} from '@stepwise/shared';
import { useTestDatabases } from '../../../test/support/databases.js';
import {
  createTestUser,
  startTestGateway,
  startTestResolver,
} from '../../../test/support/gateway.js';
import { startTestRunner } from '../../../test/support/runner.js';
import { RunsClient } from '../../../test/support/runs.js';

/**
 * The impact report (versions.md): a template's unfinished runs on other versions, each placed
 * against a target version exactly as its own `GET /runs/{id}/version-changes` places it; paged
 * without losing or repeating a run, filtered, and only ever the caller's.
 */
const db = await useTestDatabases('impact_report');
const gateway = await startTestGateway(db);
await startTestResolver(db);
await startTestRunner(db);

const template = 'impact_posts';

/**
 * A draft rendered first, then three questions; the step `sign` between the second and third fails
 * when the run has no `editor`. v2 changes the draft's prompt, v3 also the second question.
 */
function posts(version: 1 | 2 | 3, name = template) {
  return {
    workflow_id: name,
    initial_state: { topic: 'cats' },
    steps: [
      {
        step_id: 'draft',
        modules: [
          {
            module_id: 'transform.template',
            name: 'render',
            inputs: {
              template:
                version === 1
                  ? 'Write about {{ state.topic }}.'
                  : 'Write briefly about {{ state.topic }}.',
            },
            outputs_to_state: { text: 'prompt' },
          },
        ],
      },
      {
        step_id: 'tone',
        modules: [
          {
            module_id: 'user.confirm',
            name: 'ask',
            inputs: { message: 'Is the tone right for: {{ state.prompt }}' },
          },
        ],
      },
      {
        step_id: 'length',
        modules: [
          {
            module_id: 'user.confirm',
            name: 'ask',
            inputs: { message: version === 3 ? 'Is it under 30 seconds?' : 'Is it short enough?' },
          },
        ],
      },
      {
        step_id: 'sign',
        modules: [
          {
            module_id: 'transform.template',
            name: 'signer',
            inputs: { template: 'Signed by {{ state.editor }}' },
            outputs_to_state: { text: 'signature' },
          },
        ],
      },
      {
        step_id: 'publish',
        modules: [{ module_id: 'user.confirm', name: 'ask', inputs: { message: 'Publish it?' } }],
      },
    ],
  };
}

let owner: RunsClient;
let stranger: RunsClient;
const versions = { v1: '', v2: '', v3: '' };
/** The owner's runs by what they show: where each stands, on which version. */
const runs: Record<string, RunView> = {};
let strangerVersion = '';
let strangerRun: RunView;

/** Starts a run and answers `answers` questions yes; the run is then at rest where that leads. */
async function runTo(
  client: RunsClient,
  versionId: string,
  answers: number,
  extra: { project_name?: string; initial_state?: Record<string, unknown> } = {},
): Promise<RunView> {
  let { run } = await client.start({ workflow_version_id: versionId, ...extra });
  for (let answered = 0; answered < answers; answered += 1) {
    run = await client.answerPending(run, { confirmed: true });
  }
  return run;
}

beforeAll(async () => {
  owner = new RunsClient(gateway, (await createTestUser(gateway, 'impact_owner')).api_key);
  stranger = new RunsClient(gateway, (await createTestUser(gateway, 'impact_stranger')).api_key);
  versions.v1 = await owner.submitJson(posts(1));
  versions.v2 = await owner.submitJson(posts(2));
  versions.v3 = await owner.submitJson(posts(3));
  const editor = { initial_state: { editor: 'Ann' } };
  runs['v1_tone'] = await runTo(owner, versions.v1, 0, { project_name: 'alpha' });
  runs['v1_length'] = await runTo(owner, versions.v1, 1, { project_name: 'beta' });
  runs['v1_failed'] = await runTo(owner, versions.v1, 2, { project_name: 'alpha' });
  runs['v1_publish'] = await runTo(owner, versions.v1, 2, { project_name: 'alpha', ...editor });
  runs['v1_completed'] = await runTo(owner, versions.v1, 3, { project_name: 'alpha', ...editor });
  runs['v2_tone'] = await runTo(owner, versions.v2, 0, { project_name: 'beta' });
  runs['v2_length'] = await runTo(owner, versions.v2, 1, { project_name: 'alpha' });
  runs['v2_publish'] = await runTo(owner, versions.v2, 2, { project_name: 'alpha', ...editor });
  runs['v3_length'] = await runTo(owner, versions.v3, 1, { project_name: 'alpha' });
  const cancelled = await runTo(owner, versions.v1, 0, { project_name: 'alpha' });
  const cancel = await owner.request(`/v1/runs/${cancelled.workflow_run_id}/cancel`, {
    method: 'POST',
  });
  expect(cancel.status).toBe(200);
  runs['v1_cancelled'] = (await cancel.json()) as RunView;

  strangerVersion = await stranger.submitJson(posts(1));
  strangerRun = await runTo(stranger, strangerVersion, 0, { project_name: 'alpha' });
}, 120_000);

async function report(
  versionId: string,
  query = '',
  as = owner,
  name = template,
): Promise<{ status: number; body: unknown }> {
  const response = await as.request(
    `/v1/templates/${name}/versions/${versionId}/impact${query ? `?${query}` : ''}`,
  );
  return { status: response.status, body: (await response.json()) as unknown };
}

async function page(versionId: string, query = ''): Promise<ImpactReport> {
  const { status, body } = await report(versionId, query);
  expect(status, JSON.stringify(body)).toBe(200);
  return impactReportSchema.parse(body);
}

/** Every run of the report, walking its pages `limit` at a time. */
async function walk(versionId: string, limit: number, filter = ''): Promise<RunImpact[]> {
  const items: RunImpact[] = [];
  let cursor: string | null = null;
  for (let pages = 0; pages < 50; pages += 1) {
    const query: string = [filter, `limit=${limit}`, cursor ? `cursor=${cursor}` : '']
      .filter(Boolean)
      .join('&');
    const next = await page(versionId, query);
    expect(next.items.length).toBeLessThanOrEqual(limit);
    items.push(...next.items);
    cursor = next.next_cursor;
    if (cursor === null) return items;
  }
  throw new Error('the report did not end');
}

const idsOf = (items: readonly { workflow_run_id: string }[]) =>
  items.map((item) => item.workflow_run_id);
const idOf = (name: string) => runs[name]?.workflow_run_id ?? `missing ${name}`;

describe('the impact report of a version', () => {
  it('lists every unfinished run on another version, each classified as its own version-changes answer', async () => {
    const all = await page(versions.v3, 'limit=100');
    expect(all).toMatchObject({
      workflow_template_name: template,
      version_id: versions.v3,
      next_cursor: null,
    });
    const listed = [
      'v1_tone',
      'v1_length',
      'v1_failed',
      'v1_publish',
      'v2_tone',
      'v2_length',
      'v2_publish',
    ];
    expect(runs['v1_completed']?.status).toBe('completed');
    expect(runs['v1_cancelled']?.status).toBe('cancelled');
    expect(new Set(idsOf(all.items))).toEqual(new Set(listed.map(idOf)));
    // Newest first, in the order of the plain run list.
    const plain = await owner.request(`/v1/runs?template=${template}&limit=100`);
    const order = idsOf(runListSchema.parse(await plain.json()).items);
    expect(idsOf(all.items)).toEqual(order.filter((id) => idsOf(all.items).includes(id)));

    for (const item of all.items) {
      const run = await owner.get(item.workflow_run_id);
      expect(item).toMatchObject({
        status: run.status,
        project_name: run.project_name,
        current_version_id: run.current_version_id,
        position: { step_id: run.current_step, module_name: run.current_module },
      });
      const response = await owner.request(
        `/v1/runs/${item.workflow_run_id}/version-changes?version_id=${versions.v3}`,
      );
      expect(response.status).toBe(200);
      const view = versionChangeViewSchema.parse(await response.json());
      expect(item.changes).toEqual(view.changes);
      expect(item.behind_position).toEqual(view.behind_position);
      expect(item.suggested_restart_at).toBe(view.suggested_restart_at);
      expect(item.options).toEqual(view.options);
      expect(item.warning).toBe(view.warning);
      expect(item.continue_without_restart).toBe(
        view.options.includes('continue_with_new') && view.behind_position.length === 0,
      );
      // The change text comes with each changed module.
      for (const change of item.changes.modules) expect(change.text_changes).not.toEqual([]);
    }

    const byName = (name: string) => {
      const found = all.items.find((item) => item.workflow_run_id === idOf(name));
      if (!found) throw new Error(`${name} is not listed`);
      return found;
    };
    const classified = (name: string) => {
      const item = byName(name);
      return {
        counts: item.counts,
        behind: item.behind_position.map((change) => `${change.step_id}.${change.module_name}`),
        continue_without_restart: item.continue_without_restart,
        suggested_restart_at: item.suggested_restart_at,
        pending_request_changes: item.pending_request_changes,
      };
    };
    // v1 → v3: the draft's prompt lies behind every v1 run; the second question before, at or after.
    expect(classified('v1_tone')).toEqual({
      counts: { before: 1, at: 0, after: 1 },
      behind: ['draft.render'],
      continue_without_restart: false,
      suggested_restart_at: 'draft',
      pending_request_changes: false,
    });
    expect(classified('v1_length')).toEqual({
      counts: { before: 1, at: 1, after: 0 },
      behind: ['draft.render'],
      continue_without_restart: false,
      suggested_restart_at: 'draft',
      pending_request_changes: true,
    });
    expect(byName('v1_failed').status).toBe('error');
    expect(classified('v1_failed')).toEqual({
      counts: { before: 2, at: 0, after: 0 },
      behind: ['draft.render', 'length.ask'],
      continue_without_restart: false,
      suggested_restart_at: 'draft',
      pending_request_changes: null,
    });
    expect(classified('v1_publish')).toEqual({
      counts: { before: 2, at: 0, after: 0 },
      behind: ['draft.render', 'length.ask'],
      continue_without_restart: false,
      suggested_restart_at: 'draft',
      pending_request_changes: false,
    });
    // v2 → v3: only the second question differs.
    expect(classified('v2_tone')).toEqual({
      counts: { before: 0, at: 0, after: 1 },
      behind: [],
      continue_without_restart: true,
      suggested_restart_at: null,
      pending_request_changes: false,
    });
    expect(classified('v2_length')).toEqual({
      counts: { before: 0, at: 1, after: 0 },
      behind: [],
      continue_without_restart: true,
      suggested_restart_at: null,
      pending_request_changes: true,
    });
    expect(classified('v2_publish')).toEqual({
      counts: { before: 1, at: 0, after: 0 },
      behind: ['length.ask'],
      continue_without_restart: false,
      suggested_restart_at: 'length',
      pending_request_changes: false,
    });
  });

  it('against another target lists the runs on v3 and leaves out those on it', async () => {
    const all = await page(versions.v2, 'limit=100');
    const ids = idsOf(all.items);
    expect(ids).toContain(idOf('v3_length'));
    expect(ids).toContain(idOf('v1_tone'));
    expect(ids).not.toContain(idOf('v2_tone'));
    const onV3 = all.items.find((item) => item.workflow_run_id === idOf('v3_length'));
    // Back from v3 to v2 only the question the run waits at differs.
    expect(onV3).toMatchObject({
      counts: { before: 0, at: 1, after: 0 },
      continue_without_restart: true,
      pending_request_changes: true,
    });
  });

  it('pages two at a time through every run once, in the order of a single page', async () => {
    const whole = idsOf((await page(versions.v3, 'limit=100')).items);
    const paged = idsOf(await walk(versions.v3, 2));
    expect(paged).toEqual(whole);
    expect(new Set(paged).size).toBe(paged.length);
    const filtered = idsOf(await walk(versions.v3, 2, 'project_name=alpha'));
    expect(filtered).toEqual(
      idsOf((await page(versions.v3, 'project_name=alpha&limit=100')).items),
    );
  });

  it('filters by status, project and current version', async () => {
    expect(idsOf((await page(versions.v3, 'status=error')).items)).toEqual([idOf('v1_failed')]);
    expect(new Set(idsOf((await page(versions.v3, 'project_name=beta')).items))).toEqual(
      new Set([idOf('v1_length'), idOf('v2_tone')]),
    );
    expect(
      new Set(idsOf((await page(versions.v3, `current_version_id=${versions.v2}`)).items)),
    ).toEqual(new Set([idOf('v2_tone'), idOf('v2_length'), idOf('v2_publish')]));
    expect(
      idsOf(
        (await page(versions.v3, `current_version_id=${versions.v1}&status=awaiting_input`)).items,
      ).sort(),
    ).toEqual([idOf('v1_tone'), idOf('v1_length'), idOf('v1_publish')].sort());
    // The target's own runs are never touched by it.
    expect((await page(versions.v3, `current_version_id=${versions.v3}`)).items).toEqual([]);
    // A finished status is not a filter the report takes; nor is a cursor it did not give out.
    expect((await report(versions.v3, 'status=completed')).status).toBe(400);
    const forged = Buffer.from('not a cursor').toString('base64url');
    const refused = await report(versions.v3, `cursor=${forged}`);
    expect(refused.status).toBe(400);
    expect(errorEnvelopeSchema.parse(refused.body).error.code).toBe('BAD_REQUEST');
  });

  it("never lists another user's runs, and answers 404 for another user's template or version", async () => {
    const mine = idsOf(await walk(versions.v2, 100));
    expect(mine).not.toContain(strangerRun.workflow_run_id);
    // The stranger's template has the same name: their report shows their run, and only theirs.
    const theirVersion = await stranger.submitJson(posts(3));
    const theirs = await report(theirVersion, 'limit=100', stranger);
    expect(theirs.status).toBe(200);
    expect(idsOf(impactReportSchema.parse(theirs.body).items)).toEqual([
      strangerRun.workflow_run_id,
    ]);
    // Each other's versions are not found, under the same template name.
    expect((await report(versions.v3, '', stranger)).status).toBe(404);
    expect((await report(strangerVersion, '')).status).toBe(404);
    // A template only the owner has is not found for the stranger.
    const solo = await owner.submitJson(posts(1, 'impact_solo'));
    expect((await report(solo, '', stranger, 'impact_solo')).status).toBe(404);
    // A version of another of the owner's templates is not a version of this one.
    expect((await report(solo, '')).status).toBe(404);
    expect((await report(solo, '', owner, 'impact_solo')).status).toBe(200);
  });
});
