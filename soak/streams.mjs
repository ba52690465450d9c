// Clients following run streams (`GET /v1/runs/{id}/stream`, Server-Sent Events) through the load
// balancer, as the web app does. When a connection ends (its gateway killed or draining, the
// balancer answering 503 while no gateway is ready) the follower connects again with
// `Last-Event-ID`, the seq of the last event it received. Each follower keeps every event it got;
// `verifyStreams` then checks, against the run's log in MongoDB, that it saw seq 1, 2, 3… each
// exactly once, in order, with no gap, each the event the log holds at that seq, up to the run's
// last seq when the follower stopped.

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** What every follower saw: reconnects and their reasons, delivery delays. */
export class StreamRecord {
  constructor() {
    this.followers = [];
    this.reconnects = 0;
    this.reasons = new Map();
    this.delaysMs = [];
    /** Events that arrived more than 5 s after they were committed. */
    this.late = [];
  }

  count(reason) {
    this.reasons.set(reason, (this.reasons.get(reason) ?? 0) + 1);
  }

  /** The gateways serving open streams now: `{gateway name: count}`. */
  openByGateway() {
    const open = {};
    for (const f of this.followers)
      if (f.connection?.gateway) open[f.connection.gateway] = (open[f.connection.gateway] ?? 0) + 1;
    return open;
  }
}

/** Splits SSE text into messages; answers the complete ones and the rest. */
function parseMessages(buffer) {
  const messages = [];
  let at;
  while ((at = buffer.indexOf('\n\n')) !== -1) {
    const block = buffer.slice(0, at);
    buffer = buffer.slice(at + 2);
    const message = { id: null, event: null, data: [] };
    for (const line of block.split('\n')) {
      if (line.startsWith(':') || line === '') continue;
      const colon = line.indexOf(':');
      const field = colon === -1 ? line : line.slice(0, colon);
      const value = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (field === 'id') message.id = value;
      else if (field === 'event') message.event = value;
      else if (field === 'data') message.data.push(value);
    }
    if (message.data.length > 0 || message.id !== null) messages.push(message);
  }
  return { messages, rest: buffer };
}

/**
 * Follows one run's stream until `finish(lastSeq)` is called and the follower has received
 * every event up to `lastSeq` (or `catchUpMs` passed). `holder` gives the credentials (and signs
 * a person in again on 401).
 */
export class StreamFollower {
  constructor({ base, runId, holder, record, unauthorized, random }) {
    Object.assign(this, { base, runId, holder, record, unauthorized, random });
    this.received = []; // {seq, event_id, event_type, data_seq}
    this.connections = []; // {gateway, reason}
    this.connection = null;
    this.reconnects = 0;
    this.target = null;
    this.caughtUp = null;
    this.closed = false;
    this.controller = null;
    this.waiter = null;
    record.followers.push(this);
    this.done = this.follow();
  }

  get lastSeq() {
    return this.received.at(-1)?.seq ?? 0;
  }

  async follow() {
    let first = true;
    while (!this.closed) {
      if (!first) {
        this.reconnects += 1;
        this.record.reconnects += 1;
        await sleep(200 + this.random() * 800);
        if (this.closed) break;
      }
      first = false;
      const reason = await this.connectOnce();
      if (this.closed) break;
      this.record.count(reason);
      this.connections.push({ gateway: this.connection?.gateway ?? null, reason });
      this.connection = null;
    }
    this.connection = null;
  }

  /** One connection, until it ends; answers why it ended. */
  async connectOnce() {
    const controller = new AbortController();
    this.controller = controller;
    const generation = this.holder.generation;
    const last = this.lastSeq;
    let response;
    try {
      response = await fetch(`${this.base}/v1/runs/${this.runId}/stream`, {
        headers: {
          ...this.holder.headers('GET'),
          accept: 'text/event-stream',
          ...(last > 0 ? { 'last-event-id': String(last) } : {}),
        },
        signal: controller.signal,
      });
    } catch (error) {
      return `connect failed: ${error.cause?.code ?? error.name}`;
    }
    if (response.status !== 200) {
      await response.text().catch(() => '');
      if (response.status === 401) {
        this.unauthorized.push({
          who: this.holder.name,
          kind: this.holder.kind,
          path: 'stream',
          at: Date.now(),
        });
        if (this.holder.kind === 'session')
          await this.holder.signInAgain(generation).catch(() => undefined);
      }
      return `answered ${response.status}`;
    }
    this.connection = { gateway: response.headers.get('x-served-by') };
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for await (const chunk of response.body) {
        const parsed = parseMessages(buffer + decoder.decode(chunk, { stream: true }));
        buffer = parsed.rest;
        for (const message of parsed.messages) this.take(message);
      }
    } catch (error) {
      return `cut: ${error.cause?.code ?? error.name}`;
    }
    return 'ended by the server';
  }

  take(message) {
    let data = null;
    try {
      data = JSON.parse(message.data.join('\n'));
    } catch {
      // Kept as null: the verifier reports it.
    }
    const seq = Number(message.id);
    this.received.push({
      seq,
      event_id: data?.event_id ?? null,
      event_type: message.event,
      data_seq: data?.seq ?? null,
    });
    if (data?.timestamp) {
      const delay = Date.now() - Date.parse(data.timestamp);
      this.record.delaysMs.push(delay);
      if (delay > 5_000)
        this.record.late.push({
          run: this.runId,
          seq,
          delay_ms: delay,
          committed_at: data.timestamp,
          gateway: this.connection?.gateway ?? null,
        });
    }
    if (this.target !== null && this.lastSeq >= this.target) this.waiter?.();
  }

  /** Stops once every event up to `target` (the run's last seq) arrived, or after `catchUpMs`. */
  async finish(target, catchUpMs = 90_000) {
    this.target = target;
    if (this.lastSeq < target) {
      let timer;
      await new Promise((resolve) => {
        this.waiter = resolve;
        timer = setTimeout(resolve, catchUpMs);
      });
      clearTimeout(timer);
    }
    this.caughtUp = this.lastSeq >= target;
    this.closed = true;
    this.controller?.abort();
    await this.done;
  }
}

/**
 * Checks each follower's events against the runs' logs in MongoDB; answers violations
 * (`{run, what}`) and what was checked.
 */
export async function verifyStreams(models, record) {
  const violations = [];
  const ids = new Set(record.followers.map((f) => f.runId));
  const logs = new Map();
  for await (const e of models.events
    .find({}, { workflow_run_id: 1, seq: 1, event_id: 1, event_type: 1 })
    .sort({ workflow_run_id: 1, seq: 1 })
    .lean()
    .cursor()) {
    if (!ids.has(e.workflow_run_id)) continue;
    const list = logs.get(e.workflow_run_id) ?? [];
    list.push(e);
    logs.set(e.workflow_run_id, list);
  }
  const checked = { streams: record.followers.length, events: 0 };
  for (const f of record.followers) {
    const violation = (what) => violations.push({ run: f.runId, what: `stream: ${what}` });
    const log = logs.get(f.runId) ?? [];
    checked.events += f.received.length;
    let reported = false;
    f.received.forEach((got, i) => {
      if (reported) return;
      const want = log[i];
      if (got.seq !== i + 1) {
        reported = true;
        const before = f.received[i - 1]?.seq ?? 0;
        violation(
          `event ${i + 1} received has seq ${got.seq} after seq ${before} (${got.seq <= before ? 'a repeat or out of order' : 'a gap'})`,
        );
      } else if (!want || want.event_id !== got.event_id || got.data_seq !== got.seq) {
        reported = true;
        violation(
          `seq ${got.seq} received as ${got.event_id} (${got.event_type}), the log holds ${want ? `${want.event_id} (${want.event_type})` : 'nothing'}`,
        );
      }
    });
    if (f.target !== null && !f.caughtUp)
      violation(
        `the follower received ${f.lastSeq} events and never the rest up to seq ${f.target} (${f.reconnects} reconnects)`,
      );
  }
  return { violations, checked };
}
