import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import {
  newId,
  type EventView,
  type InboxItem,
  type InboxPage,
  type RunView,
} from '@stepwise/shared';
import { useTestDatabases } from './support/databases.js';
import { createTestUser, startTestGateway, startTestResolver } from './support/gateway.js';
import { startTestRunner } from './support/runner.js';
import { RunsClient } from './support/runs.js';

/**
 * The inbox (people.md): `GET /v1/me/interactions` lists every interaction waiting for the caller
 * across their runs; `GET /v1/me/stream` announces questions asked and answered and status
 * changes of their runs, resumable with Last-Event-ID. Real gateway, resolver and runner, on real
 * MongoDB and Redis, through HTTP.
 */

const db = await useTestDatabases('inbox');
const gateway = await startTestGateway(db);
// The streams are read through a gateway whose heartbeat (also a re-read) is far off, so what they
// get in time was woken by the runner's announcement on the user's Redis channel.
const streamGateway = await startTestGateway(db, { settings: { sseHeartbeatMs: 60_000 } });
await startTestResolver(db);
await startTestRunner(db);

/** Two questions in a row: answering the first asks the second, answering that completes. */
function twoQuestions(workflowId: string) {
  return {
    workflow_id: workflowId,
    steps: [
      {
        step_id: 'first',
        modules: [{ module_id: 'user.confirm', name: 'ok1', inputs: { message: 'First?' } }],
      },
      {
        step_id: 'second',
        modules: [{ module_id: 'user.confirm', name: 'ok2', inputs: { message: 'Second?' } }],
      },
    ],
  };
}

let users = 0;
async function newPerson(name: string) {
  users += 1;
  const created = await createTestUser(gateway, `${name}${users}`);
  const client = new RunsClient(gateway, created.api_key);
  await client.submitJson(twoQuestions('inbox_alpha'));
  await client.submitJson(twoQuestions('inbox_beta'));
  return {
    client,
    userId: created.user.user_id,
    listener: new RunsClient(streamGateway, created.api_key),
  };
}

async function startWaiting(
  client: RunsClient,
  template: string,
  project: string,
): Promise<RunView> {
  const { status, run } = await client.start({
    workflow_template_name: template,
    project_name: project,
  });
  expect(status).toBe(201);
  const waiting = await client.get(run.workflow_run_id, '?wait=true&wait_ms=10000');
  expect(waiting.status).toBe('awaiting_input');
  return waiting;
}

async function inbox(client: RunsClient, query = ''): Promise<InboxPage> {
  const response = await client.request(`/v1/me/interactions${query}`);
  expect(response.status, await response.clone().text()).toBe(200);
  return (await response.json()) as InboxPage;
}

/** Every item, page by page, with the number of pages it took. */
async function allPages(client: RunsClient, query: string) {
  const items: InboxItem[] = [];
  let pages = 0;
  let cursor: string | null = null;
  do {
    const page: InboxPage = await inbox(
      client,
      `?${query}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
    );
    items.push(...page.items);
    cursor = page.next_cursor;
    pages += 1;
    expect(pages).toBeLessThan(50);
  } while (cursor);
  return { items, pages };
}

const runIds = (items: readonly InboxItem[]) => items.map((item) => item.workflow_run_id);

describe('GET /v1/me/interactions', () => {
  it('lists every waiting interaction across runs, sorted both ways, filtered, paged', async () => {
    const ann = await newPerson('ann');
    const other = await newPerson('oscar');
    const started: RunView[] = [];
    for (const [template, project] of [
      ['inbox_alpha', 'p1'],
      ['inbox_beta', 'p1'],
      ['inbox_alpha', 'p2'],
      ['inbox_beta', 'p2'],
      ['inbox_alpha', 'p1'],
    ] as const) {
      started.push(await startWaiting(ann.client, template, project));
      // Distinct waiting times, so the expected order does not hang on ties.
      await sleep(5);
    }
    const othersRun = await startWaiting(other.client, 'inbox_alpha', 'p1');

    const oldest = await inbox(ann.client);
    expect(oldest.total).toBe(5);
    expect(oldest.next_cursor).toBeNull();
    expect(runIds(oldest.items)).toEqual(started.map((run) => run.workflow_run_id));
    for (const [index, item] of oldest.items.entries()) {
      const run = started[index];
      expect(item.pending_interaction).toEqual(run?.pending_interaction);
      expect(item.workflow_version_id).toBe(run?.current_version_id);
      expect(item.workflow_template_name).toBe(run?.workflow_template_name);
      expect(item.project_name).toBe(run?.project_name);
      // Waiting since the question was asked: the time of its interaction_requested event.
      const events: EventView[] = await ann.client.events(item.workflow_run_id);
      const asked = events.find((event) => event.event_type === 'interaction_requested');
      expect(item.waiting_since).toBe(asked?.timestamp);
    }
    const newest = await inbox(ann.client, '?sort=newest');
    expect(runIds(newest.items)).toEqual(runIds(oldest.items).reverse());

    const alpha = await inbox(ann.client, '?workflow_template_name=inbox_alpha');
    expect(alpha.total).toBe(3);
    expect(runIds(alpha.items)).toEqual(
      [started[0], started[2], started[4]].map((run) => run?.workflow_run_id),
    );
    const p2 = await inbox(ann.client, '?project_name=p2&sort=newest');
    expect(p2.total).toBe(2);
    expect(runIds(p2.items)).toEqual([started[3], started[2]].map((run) => run?.workflow_run_id));
    const both = await inbox(ann.client, '?project_name=p1&workflow_template_name=inbox_beta');
    expect(runIds(both.items)).toEqual([started[1]?.workflow_run_id]);
    expect((await inbox(ann.client, '?project_name=nowhere')).total).toBe(0);

    // Paging visits each exactly once, in order, whichever way it sorts.
    for (const sort of ['oldest', 'newest'] as const) {
      const { items, pages } = await allPages(ann.client, `sort=${sort}&limit=2`);
      expect(pages).toBe(3);
      const expected = runIds(oldest.items);
      expect(runIds(items)).toEqual(sort === 'oldest' ? expected : [...expected].reverse());
    }
    const filteredPages = await allPages(ann.client, 'workflow_template_name=inbox_alpha&limit=1');
    expect(runIds(filteredPages.items)).toEqual(runIds(alpha.items));
    expect(filteredPages.pages).toBe(3);

    // Another user's waiting run is never listed, and the other user sees only theirs.
    expect(runIds(oldest.items)).not.toContain(othersRun.workflow_run_id);
    const othersInbox = await inbox(other.client);
    expect(othersInbox.total).toBe(1);
    expect(runIds(othersInbox.items)).toEqual([othersRun.workflow_run_id]);
  });

  it('an answered interaction leaves the list; the next question of the run joins it', async () => {
    const bea = await newPerson('bea');
    const first = await startWaiting(bea.client, 'inbox_alpha', 'p1');
    await sleep(5);
    const second = await startWaiting(bea.client, 'inbox_beta', 'p1');
    expect(runIds((await inbox(bea.client)).items)).toEqual([
      first.workflow_run_id,
      second.workflow_run_id,
    ]);

    const firstId = first.pending_interaction?.interaction_id;
    const next = await bea.client.answerPending(first, { confirmed: true });
    expect(next.status).toBe('awaiting_input');
    const after = await inbox(bea.client);
    expect(after.total).toBe(2);
    // The answered question is gone; its run waits on its next one, asked later than the other's.
    expect(after.items.map((item) => item.pending_interaction.interaction_id)).not.toContain(
      firstId,
    );
    expect(runIds(after.items)).toEqual([second.workflow_run_id, first.workflow_run_id]);
    expect(after.items[1]?.pending_interaction.interaction_id).toBe(
      next.pending_interaction?.interaction_id,
    );

    const done = await bea.client.answerPending(next, { confirmed: true });
    expect(done.status).toBe('completed');
    const last = await inbox(bea.client);
    expect(last.total).toBe(1);
    expect(runIds(last.items)).toEqual([second.workflow_run_id]);
  });

  it('stays paged and fast with 1,000 waiting interactions', async () => {
    const gus = await newPerson('gus');
    const model = await startWaiting(gus.client, 'inbox_alpha', 'p1');
    // 999 more waiting runs of gus's, stored as the runner stores a waiting run (copies of his
    // real one with their own ids), waiting since a minute apart each, all before the real one.
    const stored = await db.models.runs.collection.findOne({
      workflow_run_id: model.workflow_run_id,
    });
    if (!stored) throw new Error('the waiting run is not stored');
    const { _id: _ignored, ...document } = stored;
    const since = Date.now() - 2_000 * 60_000;
    await db.models.runs.collection.insertMany(
      Array.from({ length: 999 }, (_, index) => ({
        ...document,
        workflow_run_id: newId('run'),
        pending_interaction: {
          ...(document['pending_interaction'] as Record<string, unknown>),
          interaction_id: newId('interaction'),
        },
        updated_at: new Date(since + index * 60_000),
      })),
    );
    const indexes = await db.models.runs.collection.indexes();
    expect(indexes.map((index) => JSON.stringify(index.key))).toContain(
      JSON.stringify({ user_id: 1, status: 1, updated_at: 1, workflow_run_id: 1 }),
    );

    const startedAt = performance.now();
    const first = await inbox(gus.client);
    const elapsed = performance.now() - startedAt;
    expect(first.total).toBe(1_000);
    expect(first.items).toHaveLength(50);
    expect(first.items[0]?.waiting_since).toBe(new Date(since).toISOString());
    expect(elapsed, `first page took ${Math.round(elapsed)} ms`).toBeLessThan(1_000);

    const newest = await inbox(gus.client, '?sort=newest&limit=1');
    expect(newest.items[0]?.workflow_run_id).toBe(model.workflow_run_id);

    const { items, pages } = await allPages(gus.client, 'limit=100');
    expect(pages).toBe(10);
    expect(new Set(runIds(items)).size).toBe(1_000);
    const times = items.map((item) => item.waiting_since);
    expect(times).toEqual([...times].sort());
  });

  it('refuses bad query parameters with 400 in the error envelope', async () => {
    const cy = await newPerson('cy');
    await startWaiting(cy.client, 'inbox_alpha', 'p1');
    await startWaiting(cy.client, 'inbox_alpha', 'p1');
    const page = await inbox(cy.client, '?limit=1');
    expect(page.next_cursor).not.toBeNull();
    const oldestCursor = encodeURIComponent(page.next_cursor ?? '');
    const bad = [
      '?sort=sideways',
      '?limit=0',
      '?limit=101',
      '?limit=1e1',
      '?limit=abc',
      '?cursor=not-a-cursor',
      `?sort=newest&cursor=${oldestCursor}`,
      `?cursor=${Buffer.from('oldest:12:run_x:extra').toString('base64url')}`,
      '?workflow_template_name=Not%20A%20Name',
      '?project_name=',
      '?status=awaiting_input',
    ];
    for (const query of bad) {
      const response = await cy.client.request(`/v1/me/interactions${query}`);
      expect(response.status, query).toBe(400);
      const body = (await response.json()) as { error: { code: string; message: string } };
      expect(body.error.code, query).toBe('BAD_REQUEST');
      expect(typeof body.error.message).toBe('string');
    }
    // The same cursor with its own sort is fine.
    expect((await inbox(cy.client, `?limit=1&cursor=${oldestCursor}`)).items).toHaveLength(1);
    const unauthenticated = await gateway.request('/v1/me/interactions');
    expect(unauthenticated.status).toBe(401);
  });
});

interface SseMessage {
  id: string | undefined;
  event: string;
  data: Record<string, unknown>;
}

/** An open `GET /v1/me/stream`, collecting its messages and the last `id:` it was given. */
class UserStream {
  readonly messages: SseMessage[] = [];
  lastEventId: string | undefined;
  private readonly abort = new AbortController();
  private readonly done: Promise<void>;
  status = 0;
  contentType = '';

  private constructor(response: Response, abort: AbortController) {
    this.abort = abort;
    this.status = response.status;
    this.contentType = response.headers.get('content-type') ?? '';
    this.done = this.read(response).catch(() => undefined);
  }

  static async open(client: RunsClient, lastEventId?: string): Promise<UserStream> {
    const abort = new AbortController();
    const response = await client.request('/v1/me/stream', {
      headers: lastEventId === undefined ? {} : { 'last-event-id': lastEventId },
      signal: abort.signal,
    });
    const stream = new UserStream(response, abort);
    // The opening block carries the position; wait for it, so the stream is surely listening.
    await stream.until(() => stream.lastEventId !== undefined, 'the opening id');
    return stream;
  }

  private async read(response: Response): Promise<void> {
    if (!response.body) return;
    const decoder = new TextDecoder();
    let buffer = '';
    for await (const chunk of response.body) {
      buffer += decoder.decode(chunk as Uint8Array, { stream: true });
      let end = buffer.indexOf('\n\n');
      while (end >= 0) {
        this.parse(buffer.slice(0, end));
        buffer = buffer.slice(end + 2);
        end = buffer.indexOf('\n\n');
      }
    }
  }

  /** One block, by the SSE rules this stream uses: id, event, data lines and comments. */
  private parse(block: string): void {
    let event = 'message';
    let data: string | undefined;
    for (const line of block.split('\n')) {
      if (line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = line.slice(0, colon);
      const value = line.slice(colon + 1).replace(/^ /, '');
      if (field === 'id') this.lastEventId = value;
      else if (field === 'event') event = value;
      else if (field === 'data') data = value;
    }
    if (data !== undefined)
      this.messages.push({
        id: this.lastEventId,
        event,
        data: JSON.parse(data) as Record<string, unknown>,
      });
  }

  of(runId: string): SseMessage[] {
    return this.messages.filter((message) => message.data['workflow_run_id'] === runId);
  }

  async until(check: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!check()) {
      if (Date.now() > deadline)
        throw new Error(`no ${what} within ${timeoutMs} ms: ${JSON.stringify(this.messages)}`);
      await sleep(25);
    }
  }

  async close(): Promise<void> {
    this.abort.abort();
    await this.done;
  }
}

const has = (
  stream: UserStream,
  runId: string,
  event: string,
  extra: Record<string, unknown> = {},
) =>
  stream
    .of(runId)
    .some(
      (message) =>
        message.event === event &&
        Object.entries(extra).every(([key, value]) => message.data[key] === value),
    );

describe('GET /v1/me/stream', () => {
  it('announces a new question, its answer and status changes, to the owner only', async () => {
    const dee = await newPerson('dee');
    const eve = await newPerson('eve');
    const stream = await UserStream.open(dee.listener);
    expect(stream.status).toBe(200);
    expect(stream.contentType).toMatch(/^text\/event-stream/);
    const eves = await UserStream.open(eve.listener);

    const run = await startWaiting(dee.client, 'inbox_alpha', 'p1');
    const runId = run.workflow_run_id;
    const firstId = run.pending_interaction?.interaction_id;
    await stream.until(
      () =>
        stream
          .of(runId)
          .some(
            (m) =>
              m.event === 'interaction.requested' &&
              (m.data['pending_interaction'] as { interaction_id?: string }).interaction_id ===
                firstId,
          ) && has(stream, runId, 'run.status', { status: 'awaiting_input' }),
      'question announced',
    );
    const requested = stream.of(runId).find((m) => m.event === 'interaction.requested');
    // The item as the inbox lists it.
    expect(requested?.data).toEqual((await inbox(dee.client)).items[0]);

    const next = await dee.client.answerPending(run, { confirmed: true });
    await stream.until(
      () =>
        has(stream, runId, 'interaction.answered', { interaction_id: firstId }) &&
        has(stream, runId, 'run.status', {
          pending_interaction_id: next.pending_interaction?.interaction_id,
        }),
      'answer announced',
    );
    await dee.client.answerPending(next, { confirmed: true });
    await stream.until(
      () =>
        has(stream, runId, 'interaction.answered', {
          interaction_id: next.pending_interaction?.interaction_id,
        }) && has(stream, runId, 'run.status', { status: 'completed' }),
      'completion announced',
    );
    // Within one connection, nothing is sent twice.
    const answeredIds = stream
      .of(runId)
      .filter((m) => m.event === 'interaction.answered')
      .map((m) => m.data['interaction_id']);
    expect(answeredIds).toEqual([firstId, next.pending_interaction?.interaction_id]);
    // Ids only go forward.
    const ids = stream.messages.map((m) => Number(m.id));
    expect(ids).toEqual([...ids].sort((a, b) => a - b));

    // eve's own run reaches her stream (so it works), dee's never does.
    const evesRun = await startWaiting(eve.client, 'inbox_beta', 'p9');
    await eves.until(() => has(eves, evesRun.workflow_run_id, 'run.status'), "eve's own run");
    expect(eves.of(runId)).toEqual([]);
    expect(JSON.stringify(eves.messages)).not.toContain(runId);
    expect(JSON.stringify(stream.messages)).not.toContain(evesRun.workflow_run_id);
    await stream.close();
    await eves.close();

    // Even replaying from the beginning of time, eve's stream holds only her own runs.
    const replay = await UserStream.open(eve.listener, '0');
    await replay.until(() => has(replay, evesRun.workflow_run_id, 'run.status'), 'the replay');
    await sleep(500);
    expect(JSON.stringify(replay.messages)).not.toContain(runId);
    await replay.close();
  });

  it('announces a question with a deadline as the inbox lists it, deadline included', async () => {
    const fay = await newPerson('fay');
    const workflow = twoQuestions('inbox_deadline');
    Object.assign(workflow.steps[0]?.modules[0] ?? {}, { timeout: 'P1D', on_timeout: 'fail' });
    await fay.client.submitJson(workflow);
    const stream = await UserStream.open(fay.listener);
    const run = await startWaiting(fay.client, 'inbox_deadline', 'p1');
    await stream.until(
      () => has(stream, run.workflow_run_id, 'interaction.requested'),
      'question announced',
    );
    const requested = stream
      .of(run.workflow_run_id)
      .find((m) => m.event === 'interaction.requested');
    const [listed] = (await inbox(fay.client)).items;
    expect(listed?.pending_interaction.deadline).toMatchObject({ on_timeout: 'fail' });
    expect(requested?.data).toEqual(listed);
    await stream.close();
  });

  it('a reconnect with Last-Event-ID receives what happened while it was away', async () => {
    const fay = await newPerson('fay');
    const waiting = await startWaiting(fay.client, 'inbox_alpha', 'p1');
    const stream = await UserStream.open(fay.listener);
    await stream.until(
      () => has(stream, waiting.workflow_run_id, 'run.status'),
      'the run started just before',
    );
    await stream.close();
    const position = stream.lastEventId;
    expect(position).toMatch(/^\d+$/);

    // While away: an answer, a new question, a new run, a cancellation.
    const next = await fay.client.answerPending(waiting, { confirmed: true });
    const fresh = await startWaiting(fay.client, 'inbox_beta', 'p2');
    const cancelled = await fay.client.request(`/v1/runs/${fresh.workflow_run_id}/cancel`, {
      method: 'POST',
    });
    expect(cancelled.status).toBe(200);
    // Long enough that a stream opened without Last-Event-ID no longer sees any of it.
    await sleep(11_000);

    const resumed = await UserStream.open(fay.listener, position);
    const unresumed = await UserStream.open(fay.listener);
    const runId = waiting.workflow_run_id;
    await resumed.until(
      () =>
        has(resumed, runId, 'interaction.answered', {
          interaction_id: waiting.pending_interaction?.interaction_id,
        }) &&
        resumed
          .of(runId)
          .some(
            (m) =>
              m.event === 'interaction.requested' &&
              (m.data['pending_interaction'] as { interaction_id?: string }).interaction_id ===
                next.pending_interaction?.interaction_id,
          ) &&
        has(resumed, fresh.workflow_run_id, 'interaction.requested') &&
        has(resumed, fresh.workflow_run_id, 'run.status', {
          status: 'cancelled',
          pending_interaction_id: null,
        }),
      'what was missed',
    );
    await sleep(1_000);
    expect(unresumed.messages).toEqual([]);
    await resumed.close();
    await unresumed.close();
  }, 30_000);

  it('needs a key', async () => {
    const response = await streamGateway.request('/v1/me/stream');
    expect(response.status).toBe(401);
  });
});
