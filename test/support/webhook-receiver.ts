import { once } from 'node:events';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { afterAll, expect, vi } from 'vitest';
import type { DeliveryView, EventView, Notification, RunView, WebhookView } from '@stepwise/shared';
import type { TestDatabases } from './databases.js';
import type { RunsClient } from './runs.js';

/** One request as the receiver got it: the exact bytes, so signatures can be checked on them. */
export interface ReceivedRequest {
  /** Its order of arrival at this receiver, from 0. */
  index: number;
  method: string;
  path: string;
  /** Lower-case header names, each with its (first) value. */
  headers: Record<string, string>;
  rawBody: Buffer;
  receivedAt: Date;
  /** The status the receiver answered, or null while it has not answered (or never could). */
  answeredWith: number | null;
}

/**
 * What the receiver answers a request: a status, possibly later (a held request, or one during
 * which the test kills its sender). The default answers 200 to everything.
 */
export type Responder = (request: ReceivedRequest) => number | Promise<number>;

export interface WebhookReceiver {
  /** `http://127.0.0.1:<port>`: subscribe `${base}/<path>` so that each subscription is told apart. */
  base: string;
  /** Every request received, in order of arrival. */
  requests: ReceivedRequest[];
  /** Replaces how requests are answered from now on. */
  respondWith: (responder: Responder) => void;
  /**
   * Holds the next request to `path` unanswered: `arrived` resolves with it, and it is answered
   * with the status given to `release` (the other requests are answered as before meanwhile).
   */
  hold: (path: string) => { arrived: Promise<ReceivedRequest>; release: (status: number) => void };
  /** The requests received at one path. */
  at: (path: string) => ReceivedRequest[];
  close: () => Promise<void>;
}

function headerRecord(request: IncomingMessage): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    if (value !== undefined) headers[name] = Array.isArray(value) ? (value[0] ?? '') : value;
  }
  return headers;
}

/**
 * A webhook receiver on loopback, as a subscriber would run one: it records every request it gets
 * (headers, raw body, time) and answers as the test tells it. It trusts nothing it receives; a test
 * checks each request with {@link verifyWebhook}, the way a real receiver would.
 */
export async function startWebhookReceiver(): Promise<WebhookReceiver> {
  const requests: ReceivedRequest[] = [];
  let responder: Responder = () => 200;
  const held = new Map<string, (request: ReceivedRequest) => Promise<number>>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const received: ReceivedRequest = {
        index: requests.length,
        method: req.method ?? '',
        path: new URL(req.url ?? '/', 'http://receiver').pathname,
        headers: headerRecord(req),
        rawBody: Buffer.concat(chunks),
        receivedAt: new Date(),
        answeredWith: null,
      };
      requests.push(received);
      const holder = held.get(received.path);
      if (holder) held.delete(received.path);
      // A sender killed while it waits leaves a socket nobody reads: answering it must not throw.
      res.on('error', () => undefined);
      void Promise.resolve(holder ? holder(received) : responder(received)).then(
        (status) => {
          received.answeredWith = status;
          if (!res.destroyed) res.writeHead(status, { 'content-type': 'text/plain' }).end('ok');
        },
        () => res.destroy(),
      );
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  afterAll(close);
  return {
    base: `http://127.0.0.1:${port}`,
    requests,
    respondWith: (next) => {
      responder = next;
    },
    hold: (path) => {
      let arrive: (request: ReceivedRequest) => void = () => undefined;
      let release: (status: number) => void = () => undefined;
      const arrived = new Promise<ReceivedRequest>((resolve) => (arrive = resolve));
      const answer = new Promise<number>((resolve) => (release = resolve));
      held.set(path, (request) => {
        arrive(request);
        return answer;
      });
      return { arrived, release };
    },
    at: (path) => requests.filter((request) => request.path === path),
    close,
  };
}

/**
 * Checks a request as a receiver would, with the `standardwebhooks` library's own verifier (its
 * signature, and a timestamp within the library's tolerance); returns the parsed payload, or throws
 * the library's WebhookVerificationError.
 */
export function verifyWebhook(
  secret: string,
  rawBody: Buffer | string,
  headers: Record<string, string>,
): unknown {
  return new Webhook(secret).verify(rawBody, headers);
}

/** The standard headers of a request, checked to be there, with any of them replaced. */
export function signatureHeaders(
  request: ReceivedRequest,
  replace: Partial<Record<'webhook-id' | 'webhook-timestamp' | 'webhook-signature', string>> = {},
): Record<string, string> {
  const headers = {
    'webhook-id': request.headers['webhook-id'] ?? '',
    'webhook-timestamp': request.headers['webhook-timestamp'] ?? '',
    'webhook-signature': request.headers['webhook-signature'] ?? '',
  };
  return { ...headers, ...replace };
}

/** The requests grouped by `webhook-id`, in order of arrival within each group. */
export function byWebhookId(requests: readonly ReceivedRequest[]): Map<string, ReceivedRequest[]> {
  const groups = new Map<string, ReceivedRequest[]>();
  for (const request of requests) {
    const id = request.headers['webhook-id'] ?? '';
    groups.set(id, [...(groups.get(id) ?? []), request]);
  }
  return groups;
}

// --- the webhook API and its records, as the tests read them ---

/** How long a test polls for a condition of the webhooks (well within its own timeout). */
export const WEBHOOK_WAIT = { timeout: 25_000, interval: 100 };

export async function subscribe(
  client: RunsClient,
  body: Record<string, unknown>,
): Promise<{ id: string; secret: string }> {
  const response = await client.request('/v1/webhooks', { method: 'POST', json: body });
  const created = (await response.json()) as WebhookView & { secret: string };
  expect(response.status, JSON.stringify(created)).toBe(201);
  return { id: created.subscription_id, secret: created.secret };
}

export async function subscription(client: RunsClient, id: string): Promise<WebhookView> {
  const response = await client.request(`/v1/webhooks/${id}`);
  expect(response.status).toBe(200);
  return (await response.json()) as WebhookView;
}

/** A subscription's whole delivery log, through the API its owner reads it with. */
export async function deliveryLog(client: RunsClient, id: string): Promise<DeliveryView[]> {
  const items: DeliveryView[] = [];
  let cursor: string | null = null;
  do {
    const query: string = cursor ? `&cursor=${cursor}` : '';
    const response = await client.request(`/v1/webhooks/${id}/deliveries?limit=100${query}`);
    expect(response.status).toBe(200);
    const page = (await response.json()) as { items: DeliveryView[]; next_cursor: string | null };
    items.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor);
  return items;
}

/** Waits for a run to reach a status (it may get there in another process). */
export async function settledRun(
  client: RunsClient,
  runId: string,
  status: string,
): Promise<RunView> {
  let run: RunView | null = null;
  await vi.waitFor(async () => {
    run = await client.get(runId);
    expect(run.status).toBe(status);
  }, WEBHOOK_WAIT);
  return run as unknown as RunView;
}

/**
 * Resolves once every commit of the run has been written to the log with its followers, i.e. all
 * its notifications are recorded (the run's commands say how far their outboxes are written):
 * only then does "no delivery was made for X" mean something.
 */
export async function outboxWritten(db: TestDatabases, runId: string): Promise<void> {
  await vi.waitFor(async () => {
    const run = await db.models.runs.findOne({ workflow_run_id: runId }).lean();
    const written = await db.models.runCommands
      .find({ workflow_run_id: runId })
      .sort({ written_seq: -1 })
      .limit(1)
      .lean();
    expect(written[0]?.written_seq ?? -1).toBeGreaterThanOrEqual(run?.last_seq ?? Infinity);
  }, WEBHOOK_WAIT);
}

export const notifiedEventType: Record<Notification['type'], string> = {
  'interaction.requested': 'interaction_requested',
  'run.completed': 'run_completed',
  'run.failed': 'run_failed',
  'run.cancelled': 'run_cancelled',
};

/**
 * Verifies each request with the library, and checks that its notification names the very event of
 * the run's log that caused it (same id, same seq, the matching type). Returns the notifications.
 */
export async function checkedNotifications(
  client: RunsClient,
  secret: string,
  requests: readonly ReceivedRequest[],
): Promise<Notification[]> {
  const logs = new Map<string, EventView[]>();
  const notifications: Notification[] = [];
  for (const request of requests) {
    expect(request.method).toBe('POST');
    expect(request.headers['content-type']).toBe('application/json');
    const notification = verifyWebhook(secret, request.rawBody, request.headers) as Notification;
    expect(notification).toEqual(JSON.parse(request.rawBody.toString('utf8')));
    const runId = notification.data.workflow_run_id;
    const events = logs.get(runId) ?? (await client.events(runId));
    logs.set(runId, events);
    const event = events.find((candidate) => candidate.event_id === notification.data.event_id);
    expect(event, `event ${notification.data.event_id} in the log of ${runId}`).toBeDefined();
    expect(notification.data.seq).toBe(event?.seq);
    expect(event?.event_type).toBe(notifiedEventType[notification.type]);
    notifications.push(notification);
  }
  return notifications;
}

/** "<run> <type>" of each notification, sorted: what was notified, comparable as a whole. */
export const summary = (notifications: readonly Notification[]) =>
  notifications.map((n) => `${n.data.workflow_run_id} ${n.type}`).sort();
