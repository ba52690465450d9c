import { request } from 'node:http';
import { beforeAll, describe, expect, it } from 'vitest';
import { errorEnvelopeSchema, newId, type RunView } from '@stepwise/shared';
import { exampleBundle } from '../../../test/support/bundles.js';
import { useTestDatabases } from '../../../test/support/databases.js';
import {
  createTestUser,
  startTestGateway,
  startTestResolver,
} from '../../../test/support/gateway.js';
import { startTestRunner } from '../../../test/support/runner.js';
import { RunsClient } from '../../../test/support/runs.js';
import { snapshotDatabase } from '../../../test/support/snapshots.js';

const db = await useTestDatabases('runs_reading');
const gateway = await startTestGateway(db);
await startTestResolver(db);
await startTestRunner(db);

let alice: RunsClient;
let bob: RunsClient;
let exampleVersion: string;
beforeAll(async () => {
  alice = new RunsClient(gateway, (await createTestUser(gateway, 'alice')).api_key);
  bob = new RunsClient(gateway, (await createTestUser(gateway, 'bob')).api_key);
  exampleVersion = await alice.submitZip(await exampleBundle());
});

interface SseEvent {
  id: string;
  event: string;
  data: { seq: number; event_type: string };
}

/** Reads an SSE stream until `count` events arrived, then closes the connection. */
function readStream(
  runId: string,
  token: string,
  count: number,
  lastEventId?: string,
): Promise<SseEvent[]> {
  return new Promise((resolve, reject) => {
    const url = new URL(`${gateway.url}/v1/runs/${runId}/stream`);
    const events: SseEvent[] = [];
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        headers: {
          authorization: `Bearer ${token}`,
          ...(lastEventId ? { 'last-event-id': lastEventId } : {}),
        },
      },
      (res) => {
        if (res.statusCode !== 200) return reject(new Error(`status ${res.statusCode}`));
        let buffer = '';
        res.on('data', (chunk: Buffer) => {
          buffer += chunk.toString('utf8');
          let boundary: number;
          while ((boundary = buffer.indexOf('\n\n')) >= 0) {
            const block = buffer.slice(0, boundary);
            buffer = buffer.slice(boundary + 2);
            const fields = Object.fromEntries(
              block
                .split('\n')
                .filter((l) => !l.startsWith(':') && l.includes(':'))
                .map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1).trim()]),
            );
            if (fields['id'] === undefined) continue;
            events.push({
              id: fields['id'],
              event: fields['event'] ?? '',
              data: JSON.parse(fields['data'] ?? '{}') as SseEvent['data'],
            });
            if (events.length >= count) {
              req.destroy();
              resolve(events);
            }
          }
        });
        res.on('error', () => undefined);
      },
    );
    req.on('error', (error) => (events.length >= count ? undefined : reject(error)));
    req.end();
    setTimeout(() => {
      req.destroy();
      reject(new Error(`only ${events.length} of ${count} events arrived`));
    }, 15_000).unref();
  });
}

describe('the event stream', () => {
  it('delivers every event exactly once across a disconnect and a Last-Event-ID reconnect', async () => {
    const { run } = await alice.start({ workflow_version_id: exampleVersion });
    const first = await readStream(run.workflow_run_id, alice.token, 3);
    expect(first.map((e) => Number(e.id))).toEqual([1, 2, 3]);
    // While the client is away, the run moves on.
    let current = await alice.answerPending(run, { selected_indices: [0] });
    current = await alice.answerPending(current, { value: 'A caption' });
    const resumed = readStream(
      run.workflow_run_id,
      alice.token,
      current.last_seq + 4 - 3,
      first.at(-1)?.id,
    );
    // And moves on again while the new connection is open.
    await new Promise((r) => setTimeout(r, 200));
    current = await alice.answerPending(current, { values: { duration_s: 10, mood: 'cosy' } });
    const second = await resumed;
    const seqs = [...first, ...second].map((e) => Number(e.id));
    expect(seqs).toEqual(seqs.map((_, i) => i + 1));
    const log = await alice.events(run.workflow_run_id);
    expect(second.at(-1)?.data.seq).toBeLessThanOrEqual(log.length);
    for (const event of [...first, ...second]) {
      expect(event.event).toBe(log[Number(event.id) - 1]?.event_type);
      expect(event.data.seq).toBe(Number(event.id));
    }
  });

  it('sends heartbeats while nothing happens', async () => {
    const { run } = await alice.start({ workflow_version_id: exampleVersion });
    const text = await new Promise<string>((resolve) => {
      const url = new URL(
        `${gateway.url}/v1/runs/${run.workflow_run_id}/stream?after_seq=${run.last_seq}`,
      );
      const req = request(
        {
          host: url.hostname,
          port: url.port,
          path: `${url.pathname}${url.search}`,
          headers: { authorization: `Bearer ${alice.token}` },
        },
        (res) => {
          let body = '';
          res.on('data', (chunk: Buffer) => (body += chunk.toString()));
          setTimeout(() => {
            req.destroy();
            resolve(body);
          }, 2_500);
        },
      );
      req.end();
    });
    expect(text).toContain(': heartbeat');
    expect(text).not.toContain('id: ');
  });
});

describe('listing and reading runs', () => {
  it('filters by status, template and project, newest first, through a cursor', async () => {
    const started: RunView[] = [];
    for (let i = 0; i < 5; i++)
      started.push(
        (await alice.start({ workflow_version_id: exampleVersion, project_name: 'paging' })).run,
      );
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const query: string = `?project_name=paging&limit=2${cursor ? `&cursor=${cursor}` : ''}`;
      const page = (await (await alice.request(`/v1/runs${query}`)).json()) as {
        items: RunView[];
        next_cursor: string | null;
      };
      seen.push(...page.items.map((r) => r.workflow_run_id));
      cursor = page.next_cursor;
    } while (cursor);
    expect(seen).toEqual(started.map((r) => r.workflow_run_id).reverse());
    const waiting = (await (
      await alice.request('/v1/runs?status=awaiting_input&template=pet_clips&limit=100')
    ).json()) as { items: RunView[] };
    expect(waiting.items.length).toBeGreaterThanOrEqual(5);
    expect(
      waiting.items.every(
        (r) => r.status === 'awaiting_input' && r.workflow_template_name === 'pet_clips',
      ),
    ).toBe(true);
    const none = (await (await alice.request('/v1/runs?template=no_such_template')).json()) as {
      items: RunView[];
    };
    expect(none.items).toEqual([]);
    expect((await alice.request('/v1/runs?cursor=bm9wZQ')).status).toBe(400);
    expect((await alice.request('/v1/runs?status=sleeping')).status).toBe(400);
  });

  it('starts a run from a template name on its newest version, with merged initial state', async () => {
    const { status, run } = await alice.start({
      workflow_template_name: 'pet_clips',
      initial_state: { topic: 'dogs' },
    });
    expect(status).toBe(201);
    expect(run.initial_version_id).toBe(exampleVersion);
    expect((await alice.state(run.workflow_run_id)).state).toMatchObject({
      topic: 'dogs',
      platform: 'shorts',
    });
  });

  it('refuses malformed start requests with 400 and unknown versions with 404, writing nothing', async () => {
    const before = await snapshotDatabase(db.mongo);
    for (const body of [
      {},
      { workflow_version_id: exampleVersion, workflow_template_name: 'pet_clips' },
      { workflow_version_id: exampleVersion, project_name: '' },
      { workflow_version_id: exampleVersion, extra: 1 },
      { workflow_version_id: 'ver_nope' },
    ]) {
      const response = await alice.request('/v1/runs', {
        method: 'POST',
        json: { project_name: 'p', ...body },
      });
      expect(response.status, JSON.stringify(body)).toBe(400);
      expect(errorEnvelopeSchema.parse(await response.json()).error.code).toBe('BAD_REQUEST');
    }
    const unknown = await alice.request('/v1/runs', {
      method: 'POST',
      json: { project_name: 'p', workflow_version_id: newId('version') },
    });
    expect(unknown.status).toBe(404);
    expect(await snapshotDatabase(db.mongo)).toEqual(before);
  });

  it('waits for a run to settle with wait=true', async () => {
    const versionId = await alice.submitJson({
      workflow_id: 'slow',
      steps: [
        {
          step_id: 's',
          modules: [
            {
              module_id: 'test.sleep',
              name: 'nap',
              inputs: { ms: 400, value: 1 },
              outputs_to_state: { value: 'v' },
            },
          ],
        },
      ],
    });
    const { status, run } = await alice.start({ workflow_version_id: versionId }, '?wait_ms=0');
    expect(status).toBe(202);
    expect(run.status).toBe('running');
    const settled = await alice.get(run.workflow_run_id, '?wait=true&wait_ms=10000');
    expect(settled.status).toBe('completed');
  });
});

describe('tenant isolation', () => {
  it("answers 404 to another user's ids on every run and template route, and changes nothing", async () => {
    const { run } = await alice.start({ workflow_version_id: exampleVersion });
    const id = run.workflow_run_id;
    const interaction = run.pending_interaction?.interaction_id ?? '';
    const firstEvent = (await alice.events(id))[0]?.event_id ?? '';
    const before = await snapshotDatabase(db.mongo);
    const attempts: [string, { method?: string; json?: unknown }][] = [
      [`/v1/runs/${id}`, {}],
      [`/v1/runs/${id}?wait=true&wait_ms=100`, {}],
      [`/v1/runs/${id}/state`, {}],
      [`/v1/runs/${id}/events`, {}],
      [`/v1/runs/${id}/stream`, {}],
      [
        `/v1/runs/${id}/interactions/${interaction}`,
        { method: 'POST', json: { response: { selected_indices: [0] } } },
      ],
      [`/v1/runs/${id}/cancel`, { method: 'POST' }],
      [`/v1/runs/${id}/retry`, { method: 'POST', json: { step_id: 'ideas' } }],
      [`/v1/runs/${id}/branches`, { method: 'POST', json: { from_event_id: firstEvent } }],
      [`/v1/runs/${id}/branches`, {}],
      [`/v1/runs/${id}/resume`, { method: 'POST' }],
      [`/v1/runs/${id}/resume`, { method: 'POST', json: { workflow_id: 'pet_clips', steps: [] } }],
      [
        `/v1/runs/${id}/resume/confirm`,
        { method: 'POST', json: { choice: 'start_fresh', submitted_version_id: exampleVersion } },
      ],
      [`/v1/runs/${id}/artifacts`, {}],
      [`/v1/runs/${id}/usage`, {}],
      [`/v1/versions/${exampleVersion}`, {}],
      ['/v1/templates/pet_clips', {}],
      ['/v1/templates/pet_clips/keywords', {}],
      ['/v1/templates/pet_clips/option-usage', {}],
    ];
    for (const [path, init] of attempts) {
      const response = await bob.request(path, init);
      expect(response.status, path).toBe(404);
      expect(errorEnvelopeSchema.parse(await response.json()).error.code).toBe('NOT_FOUND');
    }
    const list = (await (await bob.request('/v1/runs')).json()) as { items: RunView[] };
    expect(list.items).toEqual([]);
    const startOnTheirVersion = await bob.request('/v1/runs', {
      method: 'POST',
      json: { project_name: 'p', workflow_version_id: exampleVersion },
    });
    expect(startOnTheirVersion.status).toBe(404);
    expect(await snapshotDatabase(db.mongo)).toEqual(before);
    expect((await alice.get(id)).status).toBe('awaiting_input');
  });

  it('answers 404 to a branch id of another run', async () => {
    const { run: first } = await alice.start({ workflow_version_id: exampleVersion });
    const { run: second } = await alice.start({ workflow_version_id: exampleVersion });
    const response = await alice.request(
      `/v1/runs/${first.workflow_run_id}/events?branch_id=${second.active_branch_id}`,
    );
    expect(response.status).toBe(404);
  });
});
