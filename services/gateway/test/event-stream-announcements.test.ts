import { request, type ClientRequest } from 'node:http';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  encodeRunAnnouncement,
  newId,
  runChannel,
  type EventRecord,
  type EventView,
  type RunView,
} from '@stepwise/shared';
import type { Models } from '@stepwise/shared/node';
import { useTestDatabases } from '../../../test/support/databases.js';
import {
  createTestUser,
  startTestGateway,
  startTestResolver,
} from '../../../test/support/gateway.js';
import { startTestRunner } from '../../../test/support/runner.js';
import { RunsClient } from '../../../test/support/runs.js';
import { eventView } from '../src/runs/run-views.js';

const db = await useTestDatabases('event_stream_announcements');

/**
 * The real events model, counting the stream's reads of the log: the stream's query is the only
 * `find` on events with a `seq: { $gt }` filter and no event type (GET /events is not called while
 * counting). The count per run is what the tests judge.
 */
const streamReads = new Map<string, number>();

/**
 * A stream read of one run to hold between MongoDB's answer and the stream seeing it (the hook that
 * makes "an announcement arrives while a read is in flight" happen every time).
 */
interface HeldRead {
  runId: string;
  /** Settles once the read has been answered (its result is fixed from then on). */
  answered: Promise<void>;
  release: () => void;
}
let held: (HeldRead & { markAnswered: () => void; gate: Promise<void> }) | null = null;

function holdNextRead(runId: string): HeldRead {
  let markAnswered: () => void = () => undefined;
  let release: () => void = () => undefined;
  const answered = new Promise<void>((resolve) => (markAnswered = resolve));
  const gate = new Promise<void>((resolve) => (release = resolve));
  held = { runId, answered, release, markAnswered, gate };
  return held;
}

interface LeanQuery {
  sort: (...args: unknown[]) => LeanQuery;
  limit: (...args: unknown[]) => LeanQuery;
  lean: (...args: unknown[]) => PromiseLike<unknown>;
}

const countingEvents = new Proxy(db.models.events, {
  get(target, property, receiver) {
    if (property !== 'find') return Reflect.get(target, property, receiver) as unknown;
    return (filter: Record<string, unknown>, ...rest: unknown[]) => {
      const runId = filter['workflow_run_id'];
      const seq = filter['seq'] as { $gt?: number } | undefined;
      const query = (target.find as (...args: unknown[]) => LeanQuery)(filter, ...rest);
      if (typeof runId !== 'string' || seq?.$gt === undefined) return query;
      streamReads.set(runId, (streamReads.get(runId) ?? 0) + 1);
      const hold = held?.runId === runId ? held : null;
      if (!hold) return query;
      held = null;
      const lean = query.lean.bind(query);
      query.lean = (...args) =>
        Promise.resolve(lean(...args)).then(async (docs) => {
          hold.markAnswered();
          await hold.gate;
          return docs;
        });
      return query;
    };
  },
});
const models: Models = { ...db.models, events: countingEvents };
// No heartbeat (and so no periodic read) while a test runs: only announcements move the streams.
const gateway = await startTestGateway(db, { models, settings: { sseHeartbeatMs: 600_000 } });
await startTestResolver(db);
await startTestRunner(db);

let alice: RunsClient;
let confirmVersion: string;
beforeAll(async () => {
  alice = new RunsClient(gateway, (await createTestUser(gateway, 'alice')).api_key);
  confirmVersion = await alice.submitJson({
    workflow_id: 'stream-confirms',
    steps: [
      {
        step_id: 'review',
        modules: Array.from({ length: 5 }, (_, i) => ({
          module_id: 'user.confirm',
          name: `confirm_${i}`,
          inputs: { message: `Go on with {{ run.project_name }} (${i})?` },
        })),
      },
    ],
  });
});

interface SseEvent {
  id: number;
  event: string;
  /** The `data` line as sent, to compare byte for byte with the log's view. */
  raw: string;
  data: EventView;
}

/** Follows a run's SSE stream, handing out its events in arrival order. */
class StreamFollower {
  private readonly arrived: SseEvent[] = [];
  private readonly waiters: (() => void)[] = [];
  private failure: Error | null = null;
  private readonly req: ClientRequest;
  readonly opened: Promise<void>;

  constructor(runId: string, lastEventId: number) {
    const url = new URL(`${gateway.url}/v1/runs/${runId}/stream`);
    let markOpen: () => void = () => undefined;
    this.opened = new Promise((resolve) => (markOpen = resolve));
    this.req = request({
      host: url.hostname,
      port: url.port,
      path: url.pathname,
      headers: { authorization: `Bearer ${alice.token}`, 'last-event-id': String(lastEventId) },
    });
    this.req.on('response', (res) => {
      if (res.statusCode !== 200) return this.fail(new Error(`status ${res.statusCode}`));
      markOpen();
      let buffer = '';
      res.on('data', (chunk: Buffer) => {
        buffer += chunk.toString('utf8');
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const field = (name: string) =>
            block
              .split('\n')
              .find((line) => line.startsWith(`${name}: `))
              ?.slice(name.length + 2);
          const id = field('id');
          const raw = field('data');
          if (id === undefined || raw === undefined) continue;
          this.arrived.push({
            id: Number(id),
            event: field('event') ?? '',
            raw,
            data: JSON.parse(raw) as EventView,
          });
        }
        this.waiters.splice(0).forEach((wake) => wake());
      });
      res.on('error', () => undefined);
    });
    this.req.on('error', (error) => this.fail(error));
    this.req.end();
  }

  private fail(error: Error): void {
    this.failure = error;
    this.waiters.splice(0).forEach((wake) => wake());
  }

  /** Every event so far, once the one with `seq` arrived. */
  async through(seq: number): Promise<SseEvent[]> {
    while (!this.arrived.some((event) => event.id >= seq)) {
      if (this.failure) throw this.failure;
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
    return [...this.arrived];
  }

  close(): void {
    this.req.destroy();
  }
}

const seqsOf = (events: readonly SseEvent[]) => events.map((event) => event.id);
const range = (from: number, to: number) =>
  Array.from({ length: to - from + 1 }, (_, i) => from + i);

/** The log's own views, as GET /v1/runs/{id}/events gives them. */
async function logViews(runId: string): Promise<Map<number, string>> {
  const views = await alice.events(runId);
  return new Map(views.map((view) => [view.seq, JSON.stringify(view)]));
}

async function startConfirmRun(): Promise<RunView> {
  const { run } = await alice.start({ workflow_version_id: confirmVersion });
  expect(run.status).toBe('awaiting_input');
  return run;
}

describe('the event stream and announced events', () => {
  it('sends the events a commit announced without reading the log again, as the log has them', async () => {
    let run = await startConfirmRun();
    const runId = run.workflow_run_id;
    const stream = new StreamFollower(runId, 0);
    await stream.through(run.last_seq);
    const readsWhenCaughtUp = streamReads.get(runId);
    expect(readsWhenCaughtUp).toBeGreaterThanOrEqual(1);

    for (let i = 0; i < 3; i++) {
      run = await alice.answerPending(run, { confirmed: true });
      await stream.through(run.last_seq);
    }
    // Three answers, each committed and announced with its events: not one read more.
    expect(streamReads.get(runId)).toBe(readsWhenCaughtUp);
    const sent = await stream.through(run.last_seq);
    stream.close();
    expect(seqsOf(sent)).toEqual(range(1, run.last_seq));
    // Byte for byte the views the log gives.
    const log = await logViews(runId);
    for (const event of sent) {
      expect(event.raw).toBe(log.get(event.id));
      expect(event.event).toBe(event.data.event_type);
    }
  });

  it('heals lost, late, repeated, unreadable and oversized announcements from the log, each event once', async () => {
    const run = await startConfirmRun();
    const runId = run.workflow_run_id;
    const stream = new StreamFollower(runId, 0);
    await stream.through(run.last_seq);
    const base = run.last_seq;
    const template = (await db.models.events
      .findOne({ workflow_run_id: runId, seq: base })
      .select({ _id: 0, __v: 0 })
      .lean<EventRecord>()) as EventRecord;
    /** An event in the run's log (the test's own, with the record shape the runner writes). */
    const append = async (seq: number, data: Record<string, unknown> = { n: seq }) => {
      const event: EventRecord = {
        ...template,
        event_id: newId('event'),
        seq,
        event_type: 'module_started',
        data,
        timestamp: new Date(),
      };
      await db.models.events.collection.insertOne({ ...event });
      return event;
    };
    const channel = runChannel(db.queuePrefix, runId);
    const publish = (message: string) => db.redis.publish(channel, message);
    const reads = () => streamReads.get(runId) ?? 0;

    // base+1's announcement is lost; base+2..3 arrive: a gap, healed by one read of the log.
    const e1 = await append(base + 1);
    const e2 = await append(base + 2);
    const e3 = await append(base + 3);
    let readsBefore = reads();
    await publish(encodeRunAnnouncement(base + 3, [e2, e3]));
    await stream.through(base + 3);
    expect(reads()).toBe(readsBefore + 1);

    // The lost one turns up late, another is repeated: nothing to send, nothing to read.
    readsBefore = reads();
    await publish(encodeRunAnnouncement(base + 1, [e1]));
    await publish(encodeRunAnnouncement(base + 3, [e2, e3]));
    const e4 = await append(base + 4);
    await publish(encodeRunAnnouncement(base + 4, [e4]));
    await stream.through(base + 4);
    expect(reads()).toBe(readsBefore);

    // A message the gateway cannot read, a commit too big to announce, and an older runner's bare
    // number: each sends the stream to the log.
    await append(base + 5);
    await publish('{"last_seq": "five"');
    await stream.through(base + 5);
    const big = await append(base + 6, { text: 'x'.repeat(100 * 1024) });
    const oversized = encodeRunAnnouncement(base + 6, [big]);
    expect(JSON.parse(oversized)).toEqual({ last_seq: base + 6 });
    await publish(oversized);
    await stream.through(base + 6);
    await append(base + 7);
    await publish(String(base + 7));
    await stream.through(base + 7);

    // Announcements that arrive while a read is in flight: the read's events and the announced ones
    // overlap, and each goes out once, in order, without another read.
    const e8 = await append(base + 8);
    const hold = holdNextRead(runId);
    readsBefore = reads();
    await publish(String(base + 8));
    await hold.answered;
    const e9 = await append(base + 9);
    // Released only once the gateway has handed both announcements to its listeners (the stream's
    // first, being subscribed first).
    const delivered = new Promise<void>((resolve) => {
      const stop = gateway.deps.notifications.subscribe(runId, ({ lastSeq }) => {
        if (lastSeq !== base + 9) return;
        stop();
        resolve();
      });
    });
    await gateway.deps.notifications.subscribed(runId);
    await publish(encodeRunAnnouncement(base + 8, [e8]));
    await publish(encodeRunAnnouncement(base + 9, [e9]));
    await delivered;
    hold.release();
    await stream.through(base + 9);
    expect(reads()).toBe(readsBefore + 1);
    const e10 = await append(base + 10);
    await publish(encodeRunAnnouncement(base + 10, [e10]));
    const sent = await stream.through(base + 10);
    stream.close();
    expect(seqsOf(sent)).toEqual(range(1, base + 10));
    expect(reads()).toBe(readsBefore + 1);

    // The API's event list stops at the run's own last_seq; the test's events are read directly.
    const records = await db.models.events
      .find({ workflow_run_id: runId })
      .sort({ seq: 1 })
      .lean<EventRecord[]>();
    const log = new Map(records.map((record) => [record.seq, JSON.stringify(eventView(record))]));
    for (const event of sent) expect(event.raw).toBe(log.get(event.id));

    // A reconnect from the middle gets the rest exactly once.
    const again = new StreamFollower(runId, base + 2);
    const resumed = await again.through(base + 10);
    again.close();
    expect(seqsOf(resumed)).toEqual(range(base + 3, base + 10));
    for (const event of resumed) expect(event.raw).toBe(log.get(event.id));
  });
});
