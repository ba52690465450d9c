import { expect } from 'vitest';
import { replayEvents, type EventView, type RunView } from '@stepwise/shared';
import type { TestGateway } from './gateway.js';

/** A small client for the runs API, as a test author would want one. */
export class RunsClient {
  constructor(
    private readonly gateway: TestGateway,
    readonly token: string,
  ) {}

  async submitJson(workflow: unknown): Promise<string> {
    const response = await this.gateway.request('/v1/workflows', {
      method: 'POST',
      token: this.token,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(workflow),
    });
    const body = (await response.json()) as { workflow_version_id?: string };
    if (!body.workflow_version_id)
      throw new Error(`submit failed: ${response.status} ${JSON.stringify(body)}`);
    return body.workflow_version_id;
  }

  async submitZip(bytes: Uint8Array): Promise<string> {
    const response = await this.gateway.request('/v1/workflows', {
      method: 'POST',
      token: this.token,
      headers: { 'content-type': 'application/zip' },
      body: bytes,
    });
    const body = (await response.json()) as { workflow_version_id?: string };
    if (!body.workflow_version_id)
      throw new Error(`submit failed: ${response.status} ${JSON.stringify(body)}`);
    return body.workflow_version_id;
  }

  request(
    path: string,
    init: RequestInit & { json?: unknown; headers?: Record<string, string> } = {},
  ) {
    return this.gateway.request(path, { ...init, token: this.token });
  }

  async start(
    body: Record<string, unknown>,
    query = '',
  ): Promise<{ status: number; run: RunView }> {
    const response = await this.request(`/v1/runs${query}`, {
      method: 'POST',
      json: { project_name: 'test', ...body },
    });
    const run = (await response.json()) as RunView;
    return { status: response.status, run };
  }

  async get(runId: string, query = ''): Promise<RunView> {
    const response = await this.request(`/v1/runs/${runId}${query}`);
    expect(response.status).toBe(200);
    return (await response.json()) as RunView;
  }

  async answer(
    runId: string,
    interactionId: string,
    response: unknown,
    headers: Record<string, string> = {},
  ) {
    const reply = await this.request(`/v1/runs/${runId}/interactions/${interactionId}`, {
      method: 'POST',
      json: { response },
      headers,
    });
    return {
      status: reply.status,
      body: (await reply.json()) as RunView & { error: { code: string; details?: unknown } },
    };
  }

  /** Answers the pending interaction, expecting success, and returns the run after it. */
  async answerPending(run: RunView, response: unknown): Promise<RunView> {
    expect(run.status).toBe('awaiting_input');
    const id = run.pending_interaction?.interaction_id ?? '';
    const { status, body } = await this.answer(run.workflow_run_id, id, response);
    expect(status, JSON.stringify(body)).toBe(200);
    return body;
  }

  async events(runId: string, query = ''): Promise<EventView[]> {
    const all: EventView[] = [];
    let after = 0;
    for (;;) {
      const separator = query ? `&${query}` : '';
      const response = await this.request(
        `/v1/runs/${runId}/events?after_seq=${after}&limit=1000${separator}`,
      );
      expect(response.status).toBe(200);
      const page = (await response.json()) as { items: EventView[]; next_after_seq: number | null };
      all.push(...page.items);
      if (page.next_after_seq === null) return all;
      after = page.next_after_seq;
    }
  }

  async state(
    runId: string,
    query = '',
  ): Promise<{ state: Record<string, unknown>; branch_id: string; as_of_seq: number }> {
    const response = await this.request(`/v1/runs/${runId}/state${query}`);
    expect(response.status).toBe(200);
    return (await response.json()) as {
      state: Record<string, unknown>;
      branch_id: string;
      as_of_seq: number;
    };
  }
}

/** Asserts the log's invariants: gap-free seq from 1, and the state equal to a full replay. */
export async function expectConsistentLog(client: RunsClient, runId: string): Promise<EventView[]> {
  const events = await client.events(runId);
  expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
  const run = await client.get(runId);
  expect(run.last_seq).toBe(events.length);
  const replayed = replayEvents(
    run.active_branch_id,
    events.map((e) => ({ ...e, event_type: e.event_type as never })),
  );
  const state = await client.state(runId);
  expect(state.state).toEqual(replayed.state);
  expect(state.as_of_seq).toBe(replayed.as_of_seq);
  expect(run.status).toBe(replayed.status);
  return events;
}
